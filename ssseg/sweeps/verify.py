"""Re-run a recorded cell and diff its numbers against its ledger record, bit for bit.

    ssseg sweep experiments/magnetic_tile.py:main --verify supervised__b1_8__s0

The cell (and the cells it starts from, e.g. its pretraining) trains into a fresh
folder, never the ledger's; every number of the new result.json and metrics.jsonl is
compared with the record's (:func:`ssseg.sweeps.ledger.number_differences`). Equality
is promised on the same kind of machine as the record's (its ``machine`` entry).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Callable, Sequence

from ssseg.report.load import load_metrics
from ssseg.sweeps.grid import Cell, SweepError
from ssseg.sweeps.ledger import Ledger, number_differences
from ssseg.sweeps.runner import DEFAULT_TRAIN_ARGV, cell_config, run_sweep


def with_dependencies(cells: Sequence[Cell], name: str) -> list[Cell]:
    """Cell ``name`` and, transitively, the cells it waits on, in the sweep's order."""
    by_name = {c.name: c for c in cells}
    if name not in by_name:
        raise SweepError(f"--verify {name!r}: no such cell in this sweep")
    wanted, frontier = set(), [name]
    while frontier:
        current = frontier.pop()
        if current not in wanted:
            wanted.add(current)
            frontier += list(by_name[current].after)
    return [c for c in cells if c.name in wanted]


def verify_cell(config_file: str, cells: Sequence[Cell], name: str, ledger: Ledger, root: str | Path, *,
                spec: str = "", train_argv: Sequence[str] = DEFAULT_TRAIN_ARGV,
                log: Callable[[str], None] = print) -> list[str]:
    """Train cell ``name`` (with its dependencies) under ``root``; return the differences
    between its numbers and its record (empty: bit-for-bit equal)."""
    chain = with_dependencies(cells, name)
    record = ledger.read(name)
    if record is None:
        raise SweepError(f"--verify {name!r}: {ledger.directory / name / 'result.json'} does not exist")
    stale = ledger.mismatch(name, cell_config(config_file, chain[-1]))
    if stale:
        log(f"verify {name}: the record is not of today's cell: {stale}; re-running today's")
    summary = run_sweep(config_file, chain, root, spec=spec, train_argv=train_argv, echo=None, log=log,
                        ensure_splits=True)
    if name not in summary.ran + summary.skipped:
        raise SweepError(f"--verify {name!r}: the re-run did not finish (see {Path(root) / 'sweep_logs'})")
    result = json.loads((Path(root) / name / "result.json").read_text())
    diffs = number_differences(record, result, ledger.read_metrics(name), load_metrics(Path(root) / name))
    log(f"verify {name}: recorded on {_machine(record)}, re-run on {_machine(result)}")
    return diffs


def _machine(result: dict) -> str:
    machine = result.get("machine") or {}
    return f"{machine.get('devices', '?')} ({machine.get('platform', '?')}), commit {str(result.get('git_commit'))[:7]}"


def report(name: str, diffs: Sequence[str], out=None) -> int:
    """Print the verdict; 0 when bit-for-bit equal."""
    out = out or sys.stdout
    if not diffs:
        print(f"verify {name}: every number matches the record bit for bit", file=out)
        return 0
    print(f"verify {name}: {len(diffs)} numbers differ from the record", file=out)
    for line in diffs:
        print(f"  {line}", file=out)
    return 1
