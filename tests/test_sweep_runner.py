"""Running sweeps with a fake trainer: skip, resume, failure isolation, status file, CLI."""

import argparse
import json
import sys

from ssseg.commands import sweep as sweep_command
from ssseg.sweeps.grid import Cell, grid, pretrain_cells, ordered
from ssseg.sweeps.runner import read_status, run_sweep

# Fake trainer: appends "<cell> <fresh|resumed>" to calls.txt in the sweep root,
# fails with exit code 3 when the config arg contains "fail", otherwise writes result.json.
FAKE_TRAIN = r"""
import json, os, sys
argv = sys.argv[1:]
workdir = argv[argv.index("--workdir") + 1]
config = argv[argv.index("--config") + 1]
root, name = os.path.split(workdir)
state = "resumed" if os.path.isdir(workdir) else "fresh"
with open(os.path.join(root, "calls.txt"), "a") as f:
    f.write(f"{name} {state} {' '.join(a for a in argv if a.startswith('--config.'))}\n")
os.makedirs(workdir, exist_ok=True)
if "fail" in config:
    for i in range(40):
        print(f"log line {i}")
    print("Boom: out of memory", file=sys.stderr)
    sys.exit(3)
if "noresult" in config:
    sys.exit(0)
json.dump({"config_arg": config}, open(os.path.join(workdir, "result.json"), "w"))
"""


def fake_argv(tmp_path):
    script = tmp_path / "fake_train.py"
    script.write_text(FAKE_TRAIN)
    return [sys.executable, str(script)]


def calls(root):
    return (root / "calls.txt").read_text().splitlines()


def test_runs_in_order_skips_finished_and_resumes_partial(tmp_path):
    root = tmp_path / "runs"
    cells = ordered(grid(["supervised", "pretrained+supervised"], ["1/8"], [0]) + pretrain_cells([0]))
    (root / "supervised__b1_8__s0").mkdir(parents=True)
    (root / "supervised__b1_8__s0" / "result.json").write_text("{}")
    (root / "pretrain_dense__s0").mkdir()  # interrupted earlier: no result.json
    logged = []
    summary = run_sweep("exp.py", cells, root, train_argv=fake_argv(tmp_path), echo=None, log=logged.append)
    assert summary.skipped == ["supervised__b1_8__s0"]
    assert summary.ran == ["pretrain_dense__s0", "pretrained+supervised__b1_8__s0"]
    assert summary.ok
    assert calls(root) == ["pretrain_dense__s0 resumed ",
                           f"pretrained+supervised__b1_8__s0 fresh --config.init_from={root}/pretrain_dense__s0"]
    assert logged[-1] == "sweep: 2 done, 1 skipped (already finished), 0 failed, 0 blocked"
    # A second invocation has nothing left to do.
    again = run_sweep("exp.py", cells, root, train_argv=fake_argv(tmp_path), echo=None, log=logged.append)
    assert len(again.skipped) == 3 and not again.ran
    cells_file = json.loads((root / "sweep_cells.json").read_text())
    assert cells_file["order"] == [c.name for c in cells]
    assert cells_file["cells"]["pretrained+supervised__b1_8__s0"]["grid"] == {
        "regime": "pretrained+supervised", "budget": "1/8", "seed": 0}


def test_a_dependency_outside_the_selection_that_finished_under_root_unblocks(tmp_path):
    root = tmp_path / "runs"
    cells = ordered(grid(["pretrained+supervised"], ["1/8"], [0, 1]) + pretrain_cells([0, 1]))
    dependents = [c for c in cells if c.name.startswith("pretrained+")]   # as --only 'pretrained+*' selects
    (root / "pretrain_dense__s0").mkdir(parents=True)
    (root / "pretrain_dense__s0" / "result.json").write_text("{}")
    summary = run_sweep("exp.py", dependents, root, train_argv=fake_argv(tmp_path), echo=None, log=[].append)
    assert summary.ran == ["pretrained+supervised__b1_8__s0"]
    assert summary.blocked == ["pretrained+supervised__b1_8__s1"]   # its pretraining never ran


def test_failure_is_recorded_and_other_cells_still_run(tmp_path):
    root = tmp_path / "runs"
    cells = [Cell("a", "fail"), Cell("b", "ok"), Cell("c", "ok", after=("a",)),
             Cell("d", "noresult"), Cell("e", "ok")]
    summary = run_sweep("exp.py", cells, root, train_argv=fake_argv(tmp_path), echo=None, log=lambda s: None)
    assert summary.failed == ["a", "d"]
    assert summary.blocked == ["c"]
    assert summary.ran == ["b", "e"]
    assert not summary.ok
    status = read_status(root)
    assert status["a"]["status"] == "failed"
    assert status["a"]["returncode"] == 3
    assert len(status["a"]["log_tail"]) == 30
    assert status["a"]["log_tail"][-1] == "Boom: out of memory"
    assert status["a"]["log_tail"][0] == "log line 11"
    assert status["d"]["reason"] == "exited 0 without writing result.json"
    assert status["c"] == {"status": "blocked", "waits_on": ["a"]}
    assert status["b"]["status"] == "done"
    assert "log line 39" in (root / "sweep_logs" / "a.log").read_text()


def _write_experiment(tmp_path):
    file = tmp_path / "exp.py"
    file.write_text(
        "from ssseg.sweeps.grid import grid\n"
        "def get_sweep(name):\n"
        "    return grid(['supervised', 'fail'], ['1/8'], [0, 1])\n")
    return str(file)


def _args(spec, root, **kw):
    defaults = dict(sweep=spec, root=str(root), only=None, dry_run=False, print_commands=False,
                    python="py", quiet=True)
    defaults.update(kw)
    return argparse.Namespace(**defaults)


def test_command_print_commands_and_dry_run(tmp_path, capsys):
    spec = _write_experiment(tmp_path)
    root = tmp_path / "runs"
    assert sweep_command.run(_args(spec, root, print_commands=True, only="s1")) == 0
    out = capsys.readouterr().out.splitlines()
    assert out == [f"py -m ssseg train --config {spec}:method=supervised,budget=1/8,seed=1 "
                   f"--workdir {root}/supervised__b1_8__s1",
                   f"py -m ssseg train --config {spec}:method=fail,budget=1/8,seed=1 "
                   f"--workdir {root}/fail__b1_8__s1"]
    assert sweep_command.run(_args(spec, root, dry_run=True)) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"{spec}: 4 of 4 cells under {root}"
    assert out[1] == "supervised__b1_8__s0  [pending]"
    assert not root.exists()


def test_command_runs_and_returns_nonzero_on_failure(tmp_path, capsys):
    spec = _write_experiment(tmp_path)
    root = tmp_path / "runs"
    code = sweep_command.run(_args(spec, root), train_argv=fake_argv(tmp_path))
    assert code == 1
    assert sorted(p.parent.name for p in root.glob("*/result.json")) == [
        "supervised__b1_8__s0", "supervised__b1_8__s1"]
    assert capsys.readouterr().out.splitlines()[-3:] == [
        "sweep: 2 done, 0 skipped (already finished), 2 failed, 0 blocked",
        "  failed:  fail__b1_8__s0", "  failed:  fail__b1_8__s1"]


def test_status_entries_of_a_concurrent_sweep_are_kept(tmp_path):
    # The fake trainer stands in for another sweep process that records its cell meanwhile.
    root = tmp_path / "runs"
    script = tmp_path / "other_then_train.py"
    script.write_text(
        "import json, os, sys\n"
        "workdir = sys.argv[sys.argv.index('--workdir') + 1]\n"
        "path = os.path.join(os.path.dirname(workdir), 'sweep_status.json')\n"
        "status = json.load(open(path)) if os.path.exists(path) else {}\n"
        "status['other__s9'] = {'status': 'done'}\n"
        "json.dump(status, open(path, 'w'))\n"
        "os.makedirs(workdir, exist_ok=True)\n"
        "json.dump({}, open(os.path.join(workdir, 'result.json'), 'w'))\n")
    run_sweep("exp.py", grid(["supervised"], ["1/8"], [0]), root, train_argv=[sys.executable, str(script)],
              echo=None, log=lambda _: None)
    assert set(read_status(root)) == {"other__s9", "supervised__b1_8__s0"}


def test_cell_claimed_by_another_process_is_passed_over(tmp_path):
    from ssseg.sweeps.runner import claim_cell

    root = tmp_path / "runs"
    cells = grid(["supervised"], ["1/8", "full"], [0])
    held = claim_cell(root, "supervised__b1_8__s0")  # as another sweep process would
    assert held is not None and claim_cell(root, "supervised__b1_8__s0") is None
    logged = []
    summary = run_sweep("exp.py", cells, root, train_argv=fake_argv(tmp_path), echo=None, log=logged.append)
    held.close()
    assert summary.busy == ["supervised__b1_8__s0"] and summary.ran == ["supervised__bfull__s0"]
    assert summary.ok
    assert calls(root) == ["supervised__bfull__s0 fresh "]
    assert logged[-1] == "sweep: 1 done, 0 skipped (already finished), 0 failed, 0 blocked, 1 running elsewhere"
    # Once released, the next invocation runs it.
    again = run_sweep("exp.py", cells, root, train_argv=fake_argv(tmp_path), echo=None, log=logged.append)
    assert again.ran == ["supervised__b1_8__s0"]
