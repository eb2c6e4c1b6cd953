"""Multi-host training: two processes on localhost (jax.distributed, gloo CPU collectives)
train the same model as one process with the same global batch and device count.

Also: each process's pipeline rows are its share of the one-process batch, and a
coordinator without a process count or id is refused with one line.
"""

import os
import socket
import subprocess
import sys

import jax
import numpy as np
import pytest
from conftest import REPO_ROOT, data_config

from ssseg.data import pipeline
from ssseg.errors import ConfigError
from ssseg.train.distributed import initialize_from_env

CONFIG = "experiments/synthetic_defects.py:method=supervised,smoke"


def test_process_shares_of_a_batch_are_its_rows(synthetic_sources):
    cfg = data_config(batch_size=4)
    ids = synthetic_sources.ids("train")[:6]
    whole = next(pipeline.labeled_batches(synthetic_sources, ids, cfg, seed=3, start_step=2))
    shares = [next(pipeline.labeled_batches(synthetic_sources, ids, cfg, seed=3, start_step=2, shard=(i, 2)))
              for i in range(2)]
    for key in ("image", "label"):
        assert shares[0][key].shape[0] == 2
        np.testing.assert_array_equal(np.concatenate([s[key] for s in shares]), whole[key])


def test_a_coordinator_needs_the_process_count_and_id():
    with pytest.raises(ConfigError, match="SSSEG_COORDINATOR='localhost:1': also set SSSEG_NUM_PROCESSES"):
        initialize_from_env({"SSSEG_COORDINATOR": "localhost:1", "SSSEG_NUM_PROCESSES": "2"})
    assert initialize_from_env({}) is False and not jax.distributed.is_initialized()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def _train(workdir, data_dir, *, devices: int, env: dict | None = None) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": REPO_ROOT, **(env or {}),
           "XLA_FLAGS": f"--xla_force_host_platform_device_count={devices}"}
    return subprocess.Popen(
        [sys.executable, "-m", "ssseg", "train", "--config", CONFIG, "--workdir", str(workdir), "--no-progress",
         f"--config.data.data_dir={data_dir}"], env=env, cwd=REPO_ROOT, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True)


def _finish(proc: subprocess.Popen) -> str:
    out, _ = proc.communicate(timeout=600)
    assert proc.returncode == 0, out[-3000:]
    return out


@pytest.mark.slow
def test_two_processes_train_the_same_model_as_one(tmp_path, synthetic_data_dir):
    from ssseg.train.setup import restore_run

    single = _train(tmp_path / "one", synthetic_data_dir, devices=2)
    port = _free_port()
    pair = [_train(tmp_path / "two", synthetic_data_dir, devices=1,
                   env={"SSSEG_COORDINATOR": f"localhost:{port}", "SSSEG_NUM_PROCESSES": "2",
                        "SSSEG_PROCESS_ID": str(i)}) for i in range(2)]
    _finish(single)
    outs = [_finish(p) for p in pair]
    assert '"test"' in outs[0] and '"test"' not in outs[1]  # only process 0 reports
    # Same global batch of 2 on 2 devices, split over two processes: the same model within float noise
    # (one process's all-reduce and gloo's add the two devices' halves in the same order or its reverse).
    one, two = restore_run(str(tmp_path / "one")), restore_run(str(tmp_path / "two"))
    assert int(one.state.step) == int(two.state.step) == one.cfg.train.steps
    for a, b in zip(jax.tree.leaves(one.state.params), jax.tree.leaves(two.state.params)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    lines = [(tmp_path / name / "metrics.jsonl").read_text().splitlines() for name in ("one", "two")]
    assert len(lines[0]) == len(lines[1]) > 0
    assert sorted(os.listdir(tmp_path / "two")) == sorted(os.listdir(tmp_path / "one"))
