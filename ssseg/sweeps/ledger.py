"""The cell ledger: a small record per finished cell, committed in the repo, so a grid
accumulates across machines and sessions although run folders (checkpoints) do not.

    <ledger>/<cell>/result.json    the run's result.json (resolved config, per-class IoU on
                                   val and test, seed, steps, wall time, commit, machine)
                                   plus "cell": the sweep spec, arg, overrides and grid
    <ledger>/<cell>/metrics.jsonl  the run's training and evaluation log

`ssseg sweep` skips a cell whose record holds the cell's resolved config, compared
without ``IGNORED_KEYS`` (where files live, how often to log, evaluate and checkpoint:
nothing that changes the numbers); a changed config runs again and replaces the record.
``init_from`` is kept with the sweep root written as ``{root}``, since roots differ
between machines. A record from another code commit is still used; the report lists
the commits behind every table.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

from ssseg.config.schema import fill_defaults
from ssseg.report.compare import BOOKKEEPING_KEYS, flatten
from ssseg.sweeps.grid import Cell

RESULT_FILE = "result.json"
METRICS_FILE = "metrics.jsonl"
# Keys that do not change a cell's numbers: data locations (manual_dir, data_dir,
# splits_dir: the split files' content is what counts, and `ssseg splits check` guards
# it), worker count, eval batching, logging/eval/checkpoint intervals.
IGNORED_KEYS = (*BOOKKEEPING_KEYS, "data.splits_dir")
# Per-record keys of metrics.jsonl that measure speed, not results: left out of --verify.
TIMING_KEYS = ("img_per_s", "data_frac")
ROOT_TOKEN = "{root}"


def with_root_token(config: dict, root: str | Path) -> dict:
    """``config`` with the sweep root in ``init_from`` written as ``{root}``."""
    init_from = str(config.get("init_from") or "")
    for prefix in (str(Path(root).resolve()), str(root)):
        if init_from.startswith(prefix + "/"):
            return {**config, "init_from": ROOT_TOKEN + init_from[len(prefix):]}
    return config


def comparable(config: dict) -> dict[str, Any]:
    """Flattened config with today's defaults for missing keys, ``IGNORED_KEYS`` left out."""
    flat = flatten(fill_defaults(config))
    return {k: v for k, v in flat.items() if k not in IGNORED_KEYS}


def config_difference(recorded: dict, wanted: dict) -> str | None:
    """``None`` when the configs give the same numbers, else the first differing key."""
    a, b = comparable(recorded), comparable(wanted)
    for key in sorted(set(a) | set(b)):
        if a.get(key, "<missing>") != b.get(key, "<missing>"):
            return f"{key}: {a.get(key, '<missing>')!r} recorded, {b.get(key, '<missing>')!r} now"
    return None


class Ledger:
    """One folder of cell records (``experiments/studies/<study>/ledger``)."""

    def __init__(self, directory: str | Path):
        self.directory = Path(directory)

    def __repr__(self) -> str:
        return f"Ledger({str(self.directory)!r})"

    def read(self, name: str) -> dict | None:
        path = self.directory / name / RESULT_FILE
        return json.loads(path.read_text()) if path.is_file() else None

    def read_metrics(self, name: str) -> list[dict]:
        path = self.directory / name / METRICS_FILE
        if not path.is_file():
            return []
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]

    def names(self) -> list[str]:
        if not self.directory.is_dir():
            return []
        return sorted(p.parent.name for p in self.directory.glob(f"*/{RESULT_FILE}"))

    def mismatch(self, name: str, config: dict) -> str | None:
        """Why cell ``name`` with resolved ``config`` (``{root}`` unresolved) must run:
        ``None`` when its record matches."""
        record = self.read(name)
        if record is None:
            return "no record"
        diff = config_difference(record.get("config", {}), config)
        return None if diff is None else f"config changed ({diff})"

    def write(self, cell: Cell, spec: str, outcome: dict, root: str | Path, order: int | None = None) -> Path:
        """Record a finished cell from its outcome (:func:`ssseg.sweeps.launchers.read_outcome`);
        returns the record's folder. ``order``: the cell's place in its sweep (the report's row order).

        metrics.jsonl is written first and result.json last (by rename), so a folder
        with result.json is always complete."""
        folder = self.directory / cell.name
        folder.mkdir(parents=True, exist_ok=True)
        result = dict(outcome["result"])
        result["config"] = with_root_token(result.get("config", {}), root)
        if result.get("init_from"):
            result["init_from"] = result["config"].get("init_from")
        result["cell"] = {"name": cell.name, "spec": spec, "order": order, **cell.to_json()}
        _write_atomic(folder / METRICS_FILE, outcome.get("metrics", ""))
        _write_atomic(folder / RESULT_FILE, json.dumps(result, indent=2, sort_keys=True) + "\n")
        return folder


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def _numbers(value: Any, prefix: str = "") -> dict[str, Any]:
    """Numeric leaves of nested dicts, by dotted path (strings kept: a network's name)."""
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, sub in value.items():
            out.update(_numbers(sub, f"{prefix}{key}."))
        return out
    return {prefix[:-1]: value}


def number_differences(record: dict, result: dict, record_metrics: list[dict],
                       metrics: list[dict]) -> list[str]:
    """Every number of a re-run that is not bit-for-bit the record's: val, test and every
    network's scores, steps, label counts, and each metrics.jsonl record (timings left out)."""
    diffs = []
    for key in ("val", "test", "models", "steps", "num_labeled", "num_unlabeled"):
        a, b = _numbers(record.get(key), f"{key}."), _numbers(result.get(key), f"{key}.")
        for path in sorted(set(a) | set(b)):
            if not _same(a.get(path), b.get(path)):
                diffs.append(f"{path}: {a.get(path)!r} recorded, {b.get(path)!r} re-run")
    if len(record_metrics) != len(metrics):
        diffs.append(f"metrics.jsonl: {len(record_metrics)} records recorded, {len(metrics)} re-run")
    for i, (a, b) in enumerate(zip(record_metrics, metrics), 1):
        a = {k: v for k, v in a.items() if k not in TIMING_KEYS}
        b = {k: v for k, v in b.items() if k not in TIMING_KEYS}
        if a != b:
            key = next(k for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k))
            diffs.append(f"metrics.jsonl line {i} (step {a.get('step')}, {a.get('kind')}): "
                         f"{key} {a.get(key)!r} recorded, {b.get(key)!r} re-run")
    return diffs


def _same(a: Any, b: Any) -> bool:
    both_nan = isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b)
    return both_nan or a == b
