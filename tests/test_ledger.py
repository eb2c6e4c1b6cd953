"""The cell ledger: recorded cells are not run again on another machine, a changed config is,
the report reads records alone, and every launcher writes the same record."""

import json
import sys

import pytest

from ssseg.report import load_results, results_table
from ssseg.report.load import load_many
from ssseg.sweeps.grid import load_sweep
from ssseg.sweeps.launchers import SubmititLauncher
from ssseg.sweeps.ledger import Ledger, number_differences
from ssseg.sweeps.runner import cell_config, run_sweep

# A trainer that trains nothing: result.json holds the config the real trainer would write
# (configs.json beside the sweep root, from the runner's own cell_config, so the ledger's
# config matching is the real one) and scores made from the seed. Plain Python: it starts fast.
FAKE_TRAIN = r"""
import json, os, sys
argv = sys.argv[1:]
workdir = argv[argv.index("--workdir") + 1]
root, name = os.path.split(workdir)
configs = json.load(open(os.path.join(os.path.dirname(root), "configs.json")))
config = json.loads(json.dumps(configs[name]).replace("{root}", root))
with open(os.path.join(root, "calls.txt"), "a") as f:
    f.write(name + "\n")
os.makedirs(workdir, exist_ok=True)
miou = 0.5 + config["seed"] / 100 + (0.1 if config["init_from"] else 0.0)
scores = {"miou": miou, "defect_miou": miou - 0.2, "per_class_iou": {"background": 0.9, "stain": miou}}
result = {"dataset": config["data"]["name"], "method": config["method"]["name"],
          "regime": ("pretrained+" if config["init_from"] else "") + config["method"]["name"],
          "budget": config["data"]["budget"], "seed": config["seed"], "steps": config["train"]["steps"],
          "checkpoint": "last", "init_from": config["init_from"] or None, "val": scores, "test": scores,
          "wall_time_s": 1.0, "git_commit": "abc1234def", "git_dirty": False,
          "machine": {"devices": "1 x cpu"}, "config": config}
with open(os.path.join(workdir, "metrics.jsonl"), "w") as f:
    f.write(json.dumps({"step": 2, "kind": "train", "loss": 1.5, "img_per_s": 3.0}) + "\n")
with open(os.path.join(workdir, "result.json"), "w") as f:
    json.dump(result, f)
"""

SWEEP = """
from ssseg.config.loader import import_experiment
from ssseg.sweeps.grid import grid, pretrain_cells

get_config = import_experiment("experiments/synthetic_defects.py").get_config


def get_sweep(name):
    return (pretrain_cells([0], method="pretrain_mim", name="pre", extra_arg="smoke")
            + grid(["supervised", "pretrained+supervised"], ["1/8"], [0], extra_arg="smoke",
                   overrides={{"train.steps": {steps}}}, pretrain_name="pre"))
"""


def sweep(tmp_path, steps=4):
    file = tmp_path / f"tiny_{steps}.py"
    file.write_text(SWEEP.format(steps=steps))
    return load_sweep(f"{file}:main")


def fake_argv(tmp_path):
    script = tmp_path / "fake_train.py"
    script.write_text(FAKE_TRAIN)
    return [sys.executable, str(script)]


def calls(root):
    path = root / "calls.txt"
    return path.read_text().splitlines() if path.exists() else []


def run(tmp_path, root, ledger, steps=4, **kw):
    config_file, cells = sweep(tmp_path, steps)
    configs = {c.name: cell_config(config_file, c) for c in cells}
    (tmp_path / "configs.json").write_text(json.dumps(configs))
    logged = []
    summary = run_sweep(config_file, cells, root, train_argv=fake_argv(tmp_path), echo=None,
                        log=logged.append, ledger=ledger, **kw)
    return summary, logged


def test_recorded_cells_are_not_run_again_and_a_changed_config_is(tmp_path):
    ledger = Ledger(tmp_path / "ledger")
    first, _ = run(tmp_path, tmp_path / "machine_a", ledger)
    assert first.ran == ["pre__s0", "supervised__b1_8__s0", "pretrained+supervised__b1_8__s0"]
    assert ledger.names() == sorted(first.ran)
    record = ledger.read("pretrained+supervised__b1_8__s0")
    # The root is machine-specific: the record names the dependency's folder as {root}/...
    assert record["config"]["init_from"] == record["init_from"] == "{root}/pre__s0"
    assert record["cell"]["grid"] == {"regime": "pretrained+supervised", "budget": "1/8", "seed": 0}
    assert record["cell"]["order"] == 2 and record["machine"] == {"devices": "1 x cpu"}
    assert ledger.read_metrics("pre__s0") == [{"step": 2, "kind": "train", "loss": 1.5, "img_per_s": 3.0}]

    # Another machine, empty root, same ledger: nothing trains.
    again, logged = run(tmp_path, tmp_path / "machine_b", ledger)
    assert again.ran == [] and len(again.skipped) == 3 and again.ok
    assert calls(tmp_path / "machine_b") == []
    assert f"[2/3] supervised__b1_8__s0: skipped (recorded in {ledger.directory})" in logged

    # Train steps changed for the supervised cells: they train again; the pretraining is still
    # recorded but its checkpoint is not on this machine, so it trains too.
    changed, logged = run(tmp_path, tmp_path / "machine_c", ledger, steps=6)
    assert calls(tmp_path / "machine_c") == ["pre__s0", "supervised__b1_8__s0", "pretrained+supervised__b1_8__s0"]
    assert ("[2/3] supervised__b1_8__s0: ledger record stale, config changed "
            "(train.steps: 4 recorded, 6 now)") in logged
    assert "[1/3] pre__s0: recorded, trains again: pretrained+supervised__b1_8__s0 start from its checkpoint" in logged
    assert ledger.read("supervised__b1_8__s0")["steps"] == 6

    # Where the pretraining's folder is at hand, only the changed cells train.
    ledger_d = Ledger(tmp_path / "ledger_d")
    run(tmp_path, tmp_path / "machine_d", ledger_d)
    (tmp_path / "machine_d" / "calls.txt").unlink()
    for name in ("supervised__b1_8__s0", "pretrained+supervised__b1_8__s0"):
        (tmp_path / "machine_d" / name / "result.json").unlink()
    run(tmp_path, tmp_path / "machine_d", ledger_d, steps=6)
    assert calls(tmp_path / "machine_d") == ["supervised__b1_8__s0", "pretrained+supervised__b1_8__s0"]


def test_report_from_ledger_records_alone(tmp_path):
    ledger = Ledger(tmp_path / "ledger")
    run(tmp_path, tmp_path / "machine_a", ledger)
    runs = load_results(ledger.directory)
    assert {r["name"]: r["grid"].get("regime") for r in runs} == {
        "pre__s0": "pretrain_mim", "supervised__b1_8__s0": "supervised",
        "pretrained+supervised__b1_8__s0": "pretrained+supervised"}
    table = results_table(runs)
    assert table.rows == ("supervised", "pretrained+supervised") and table.cols == ("1/8",)
    assert table.get("supervised", "1/8").values == pytest.approx((50.0,))
    assert table.get("pretrained+supervised", "1/8").values == pytest.approx((60.0,))
    assert table.note.endswith(" Code: abc1234 (2 runs).")
    # A cell read from its run folder and from its record counts once.
    both = load_many([tmp_path / "machine_a", ledger.directory])
    assert sorted(r["name"] for r in both) == sorted(r["name"] for r in runs)


def test_submitit_local_executor_writes_the_same_records(tmp_path):
    local = Ledger(tmp_path / "ledger_local")
    run(tmp_path, tmp_path / "local", local)
    launcher = SubmititLauncher(tmp_path / "submitit", cluster="local")
    launcher.poll_s = 0.2
    remote = Ledger(tmp_path / "ledger_submitit")
    summary, _ = run(tmp_path, tmp_path / "slurm", remote, launcher=launcher)
    # The pretraining and the supervised cell go out as one array: either may finish first.
    assert sorted(summary.ran) == ["pre__s0", "pretrained+supervised__b1_8__s0", "supervised__b1_8__s0"]
    assert local.names() == remote.names()
    for name in local.names():
        assert remote.read(name) == local.read(name)
        assert remote.read_metrics(name) == local.read_metrics(name)
    # A recorded cell is never handed to the launcher again.
    again, _ = run(tmp_path, tmp_path / "slurm2", remote, launcher=SubmititLauncher(tmp_path / "s2", cluster="local"))
    assert again.ran == [] and calls(tmp_path / "slurm2") == []


@pytest.mark.slow  # starts a local Ray runtime (~10-20 s on 2 shared cores)
def test_ray_local_runtime_writes_the_same_records(tmp_path):
    pytest.importorskip("ray")  # pip install 'ssseg[cluster]'
    from ssseg.sweeps.launchers import RayLauncher

    local = Ledger(tmp_path / "ledger_local")
    run(tmp_path, tmp_path / "local", local)
    remote = Ledger(tmp_path / "ledger_ray")
    launcher = RayLauncher({"num_cpus": 1, "include_dashboard": False})
    summary, _ = run(tmp_path, tmp_path / "ray", remote, launcher=launcher)
    assert sorted(summary.ran) == ["pre__s0", "pretrained+supervised__b1_8__s0", "supervised__b1_8__s0"]
    for name in local.names():
        assert remote.read(name) == local.read(name)


def test_number_differences_are_exact_and_ignore_timings():
    record = {"val": {"miou": 0.25, "model": "teacher", "per_class_iou": {"a": 0.5, "b": float("nan")}},
              "test": {"miou": 0.125}, "steps": 4}
    metrics = [{"step": 2, "kind": "train", "loss": 1.5, "img_per_s": 3.0, "data_frac": 0.1}]
    same = json.loads(json.dumps(record).replace("NaN", "NaN"))
    assert number_differences(record, same, metrics, [{**metrics[0], "img_per_s": 9.0, "data_frac": 0.5}]) == []
    nudged = {**record, "val": {**record["val"], "per_class_iou": {"a": 0.5000000000000001, "b": float("nan")}}}
    assert number_differences(record, nudged, metrics, metrics) == [
        "val.per_class_iou.a: 0.5 recorded, 0.5000000000000001 re-run"]
    assert number_differences(record, record, metrics, [{**metrics[0], "loss": 1.25}]) == [
        "metrics.jsonl line 1 (step 2, train): loss 1.5 recorded, 1.25 re-run"]
    assert number_differences(record, record, metrics, []) == [
        "metrics.jsonl: 1 records recorded, 0 re-run"]


def test_a_sweep_overrides_only_where_this_machine_keeps_its_data():
    from ssseg.commands.sweep import machine_overrides
    from ssseg.sweeps.grid import SweepError

    assert machine_overrides(["--config.data.manual_dir=/shared/mt"]) == {"data.manual_dir": "/shared/mt"}
    with pytest.raises(SweepError, match="--config.train.steps: a sweep overrides only keys that do not change"):
        machine_overrides(["--config.train.steps=5"])


def test_steps_may_differ_between_columns_but_not_within_one(tmp_path):
    from fabricated_runs import write_run

    from ssseg.report import ReportError

    write_run(tmp_path, "supervised", "1/8", 0, 0.5, 0.3, steps=100)
    write_run(tmp_path, "unimatch", "1/8", 0, 0.6, 0.4, steps=100)
    write_run(tmp_path, "supervised", "full", 0, 0.7, 0.6, {"train.steps": 800}, steps=800)
    table = results_table(load_results(tmp_path))
    assert table.steps == (("1/8", 100), ("full", 800))
    assert " Steps: 1/8 100, full 800." in table.note
    write_run(tmp_path, "unimatch", "full", 0, 0.7, 0.6, steps=100)
    with pytest.raises(ReportError, match="refusing to put them in column 'full'.*'train.steps' \\(800 vs 100\\)"):
        results_table(load_results(tmp_path))
