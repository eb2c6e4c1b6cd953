"""4 simulated CPU devices against 1: the same train step (batch norm over the global batch, i.e.
SyncBN), and a run that resumes on another device count (tests/multidevice.py, in subprocesses).

Tolerances: the loss to 1e-6 relative; parameters to 1e-4 of the largest parameter update
beyond 2 float32 ulps of the parameter itself (the sgd step moves each weight by lr·gradient,
so this compares gradients; a weight near 1 moved by 2e-5 is rounded to its ulp); batch statistics
to 1e-5 of their largest magnitude. What differs is only the order in which float32 sums over
the batch are added (per device, then across devices). UniMatch's parameters get 1e-2: its
stem kernel's gradient sums over every pixel of the labeled batch and of the unlabeled views
through batch norm's mean-subtracted backward and cancels to a small remainder, which that reassociation moves by
about 1 % of its own update (measured: 2.8e-3 of the largest update; supervised: 2e-5). Per-device batch statistics would
normalise each device's single image by its own variance instead: loss and gradients would
differ by far more.
"""

import json
import os
import subprocess
import sys

import pytest
from conftest import REPO_ROOT

SCRIPT = os.path.join(REPO_ROOT, "tests", "multidevice.py")


def _run(devices: int, *args: str) -> dict:
    env = {**os.environ, "PYTHONPATH": REPO_ROOT, "XLA_FLAGS": f"--xla_force_host_platform_device_count={devices}"}
    proc = subprocess.run([sys.executable, SCRIPT, *args], env=env, cwd=REPO_ROOT, capture_output=True, text=True,
                          timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _assert_close(figures: dict, loss_a: float, loss_b: float, params_rtol: float = 1e-4) -> None:
    assert loss_b == pytest.approx(loss_a, rel=1e-6, abs=1e-7), (loss_a, loss_b)
    assert figures["params_rel"] < params_rtol, figures
    assert figures["batch_stats_rel"] < 1e-5, figures
    assert figures["extra_rel"] < 1e-5, figures


@pytest.mark.slow
@pytest.mark.parametrize("method, params_rtol", [("supervised", 1e-4), ("unimatch", 1e-2)])
def test_a_step_on_4_devices_equals_the_step_on_1(method, params_rtol):
    figures = _run(4, "step", method)
    assert figures["devices"] == 4
    _assert_close(figures, figures["loss_1"], figures["loss_n"], params_rtol)


@pytest.mark.slow
def test_a_run_saved_on_2_devices_resumes_on_4_and_on_1(tmp_path):
    saved = _run(2, "save", str(tmp_path))
    resumed = _run(4, "resume", str(tmp_path))
    reference = resumed["reference_losses"]
    # the same 2-device program, compiled in a 2- and in a 4-device process (XLA:CPU may split its work otherwise)
    assert saved["losses"] == pytest.approx(reference[:2], rel=1e-6)
    for devices in (4, 1):
        figures = resumed[f"resumed_on_{devices}"]
        assert figures["step"] == 4
        for want, got in zip(reference[2:], figures["losses"]):
            _assert_close(figures, want, got)
