"""`ssseg bench`: every figure is reported with a sane value on the tiny smoke config (no timing asserted)."""

import json

import pytest

from ssseg.cli import main

STEP_KEYS = {"compile_s", "step_s", "images_per_s", "gflop", "gflop_per_device", "achieved_gflops",
             "matmul_peak_gflops", "fraction_of_peak", "argument_bytes", "output_bytes", "temp_bytes",
             "peak_host_bytes", "images_per_step", "devices"}


def _bench(tmp_path, capsys, *args):
    out = tmp_path / "bench.json"
    assert main(["bench", "--config", "experiments/synthetic_defects.py:method=supervised,smoke", "--steps", "2",
                 "--warmup", "1", "--peak-size", "256", "--json", str(out), *args]) == 0
    printed = capsys.readouterr().out
    figures = json.loads(out.read_text())
    assert json.loads(printed.strip().splitlines()[-1]) == figures  # the JSON line printed is the file's
    assert "GFLOP / step (XLA)" in printed and "fraction of peak" in printed
    return figures


def _check_common(figures):
    assert STEP_KEYS <= set(figures)
    assert figures["step_s"] > 0 and figures["compile_s"] > 0 and figures["images_per_s"] > 0
    assert figures["images_per_s"] == pytest.approx(figures["images_per_step"] / figures["step_s"])
    # The smoke network does a few MFLOP per image; XLA's count is per device, the step's is the sum.
    assert 1e-4 < figures["gflop"] < 10
    assert figures["gflop"] == pytest.approx(figures["gflop_per_device"] * int(figures["devices"].split()[0]))
    assert figures["achieved_gflops"] == pytest.approx(figures["gflop"] / figures["step_s"])
    assert 0 < figures["fraction_of_peak"] < 2  # a tiny step may overlap, but never a multiple of the peak
    assert figures["argument_bytes"] > 10_000 and figures["output_bytes"] > 0 and figures["temp_bytes"] > 0
    assert figures["peak_host_bytes"] > 100 * 2**20


def test_bench_train_step_fed_by_the_pipeline(tmp_path, capsys, synthetic_data_dir):
    figures = _bench(tmp_path, capsys, f"--config.data.data_dir={synthetic_data_dir}")
    _check_common(figures)
    assert figures["mode"] == "train_step" and figures["batches"] == "pipeline"
    assert figures["images_per_step"] == 2  # the smoke config's labeled batch; supervised uses no unlabeled
    assert 0.0 <= figures["input_stall_fraction"] < 1.0
    assert figures["fed_step_s"] > 0 and figures["loader_ms_per_batch"] > 0
    # The state (params, batch stats, momentum) crosses the jit boundary: arguments hold it at least twice.
    assert figures["argument_bytes"] > 2 * 4 * 100_000


def test_bench_model_only_on_random_tensors(tmp_path, capsys):
    figures = _bench(tmp_path, capsys, "--model-only")
    _check_common(figures)
    assert figures["mode"] == "model_only" and figures["batches"] == "random"
    assert "input_stall_fraction" not in figures
    assert figures["params"] > 100_000
