"""A ledger cell reproduces bit for bit on the same kind of machine: a tiny cell trained
twice gives the same numbers, and `ssseg sweep --verify` diffs a re-run against its record."""

import json
import math
import sys

import pytest

from ssseg.report.load import load_metrics
from ssseg.sweeps.grid import load_sweep
from ssseg.sweeps.ledger import Ledger, number_differences
from ssseg.sweeps.runner import run_sweep
from ssseg.sweeps.verify import verify_cell

from conftest import smoke_train_config


@pytest.mark.slow  # two 4-step trainings (~30 s on 2 shared cores)
def test_tiny_cell_trains_twice_to_the_same_numbers(tmp_path, synthetic_data_dir, capsys):
    from ssseg.train.loop import run_training

    # No split files yet: the first run writes them (one line), the second reads them.
    splits_dir = str(tmp_path / "splits")
    cfg = smoke_train_config(synthetic_data_dir, f"--config.data.splits_dir={splits_dir}",
                             "--config.data.budget=1/8")
    first = run_training(cfg, str(tmp_path / "a"), show_progress=False)
    assert "no split files for synthetic_defects budget 1/8 seed 0; wrote" in capsys.readouterr().out
    second = run_training(cfg, str(tmp_path / "b"), show_progress=False)
    assert "no split files" not in capsys.readouterr().out
    assert first["test"]["per_class_iou"] and first["machine"]["devices"]
    assert number_differences(first, second, load_metrics(tmp_path / "a"), load_metrics(tmp_path / "b")) == []


SWEEP = """
from ssseg.config.loader import import_experiment
from ssseg.sweeps.grid import grid

get_config = import_experiment("experiments/synthetic_defects.py").get_config


def get_sweep(name):
    return grid(["supervised"], ["1/8"], [0], extra_arg="smoke",
                overrides={{"data.data_dir": {data_dir!r}, "data.splits_dir": {splits_dir!r}}})


def get_ledger(name):
    return {ledger!r}
"""


@pytest.mark.slow  # two 4-step training subprocesses (~1.5 min on 2 shared cores)
def test_verify_reruns_a_recorded_cell_and_finds_no_difference(tmp_path, synthetic_data_dir, capsys):
    from ssseg.commands import sweep as sweep_command

    ledger = Ledger(tmp_path / "ledger")
    file = tmp_path / "tiny.py"
    file.write_text(SWEEP.format(data_dir=synthetic_data_dir, splits_dir=str(tmp_path / "splits"),
                                 ledger=str(ledger.directory)))
    config_file, cells = load_sweep(f"{file}:main")
    train_argv = (sys.executable, "-m", "ssseg", "train")
    summary = run_sweep(config_file, cells, tmp_path / "runs", train_argv=train_argv, echo=None,
                        log=lambda _: None, ledger=ledger, ensure_splits=True)
    assert summary.ran == ["supervised__b1_8__s0"]
    args = sweep_command_args(f"{file}:main", verify="supervised__b1_8__s0", root=str(tmp_path / "again"))
    assert sweep_command.run(args) == 0
    assert capsys.readouterr().out.splitlines()[-1] == (
        "verify supervised__b1_8__s0: every number matches the record bit for bit")
    # A record whose number is off by one ulp is caught.
    path = ledger.directory / "supervised__b1_8__s0" / "result.json"
    record = json.loads(path.read_text())
    record["test"]["miou"] = math.nextafter(record["test"]["miou"], 1.0)
    path.write_text(json.dumps(record))
    diffs = verify_cell(config_file, cells, "supervised__b1_8__s0", ledger, tmp_path / "again",
                        log=lambda _: None)
    assert [d.split(":")[0] for d in diffs] == ["test.miou"]


def sweep_command_args(spec, **kw):
    import argparse

    defaults = dict(sweep=spec, root=None, only=None, ledger=None, no_ledger=False, launcher="local",
                    launcher_arg=[], verify=None, dry_run=False, print_commands=False, python=sys.executable,
                    quiet=True)
    return argparse.Namespace(**{**defaults, **kw})
