"""`ssseg sweep` with the real trainer, then `ssseg report` on what it wrote."""

import sys

import pytest

from ssseg.report import load_results, results_table, write_report
from ssseg.sweeps.grid import load_sweep
from ssseg.sweeps.runner import run_sweep

SWEEP_FILE = """
from ssseg.config.loader import import_experiment
from ssseg.sweeps.grid import grid

get_config = import_experiment("experiments/synthetic_defects.py").get_config


def get_sweep(name):
    overrides = {{"data.data_dir": {data_dir!r}, "data.splits_dir": {splits_dir!r}}}
    return grid(["supervised"], ["1/8"], [0], extra_arg="smoke", overrides=overrides)
"""


@pytest.mark.slow  # one 4-step training subprocess (~1 min on 2 shared cores)
def test_sweep_trains_then_skips_and_report_tabulates(tmp_path, synthetic_data_dir, synthetic_splits_dir):
    sweep_file = tmp_path / "tiny_sweep.py"
    sweep_file.write_text(SWEEP_FILE.format(data_dir=synthetic_data_dir, splits_dir=synthetic_splits_dir))
    config_file, cells = load_sweep(f"{sweep_file}:main")
    root = tmp_path / "runs"
    train_argv = (sys.executable, "-m", "ssseg", "train")
    summary = run_sweep(config_file, cells, root, train_argv=train_argv, echo=None, log=lambda s: None)
    assert summary.ran == ["supervised__b1_8__s0"] and summary.ok
    again = run_sweep(config_file, cells, root, train_argv=train_argv, echo=None, log=lambda s: None)
    assert again.skipped == ["supervised__b1_8__s0"]
    (result,) = load_results(root)
    table = results_table([result])
    assert table.rows == ("supervised",) and table.cols == ("1/8",)
    assert table.get("supervised", "1/8").values == pytest.approx((100 * result["test"]["miou"],))
    written = {p.name for p in write_report(root)}
    assert {"miou.md", "defect_miou.md", "learning_curves.png", "per_class_iou_1_8.png"} <= written
