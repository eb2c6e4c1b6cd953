"""Run a sweep's cells one after another, each as its own training subprocess.

A cell whose workdir holds ``result.json`` is skipped; an interrupted one is
simply rerun (the trainer resumes from its checkpoints). A failing cell is
recorded in ``<root>/sweep_status.json`` (exit code and the last log lines)
and the sweep goes on; cells that wait on it are marked ``blocked``.

Several sweep processes may share one root (e.g. one per GPU or per CPU core):
each claims a cell with an exclusive lock on ``sweep_logs/<cell>.lock`` before
running it and passes over cells claimed by another process, and the shared
files are read, merged and rewritten under ``<root>/.sweep.lock``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import fnmatch
import json
import os
import shlex
import subprocess
import sys
import time
from collections import deque
from pathlib import Path
from typing import Any, Callable, Sequence, TextIO

from ssseg.sweeps.grid import Cell, resolve_overrides

STATUS_FILE = "sweep_status.json"
CELLS_FILE = "sweep_cells.json"
LOG_DIR = "sweep_logs"
TAIL_LINES = 30

DEFAULT_TRAIN_ARGV = (sys.executable, "-m", "ssseg", "train")


@dataclasses.dataclass
class SweepSummary:
    """Cell names by outcome of one sweep invocation."""

    ran: list[str] = dataclasses.field(default_factory=list)
    skipped: list[str] = dataclasses.field(default_factory=list)
    failed: list[str] = dataclasses.field(default_factory=list)
    blocked: list[str] = dataclasses.field(default_factory=list)
    busy: list[str] = dataclasses.field(default_factory=list)  # being run by another sweep process

    @property
    def ok(self) -> bool:
        return not self.failed and not self.blocked

    def lines(self) -> list[str]:
        out = [f"sweep: {len(self.ran)} done, {len(self.skipped)} skipped (already finished), "
               f"{len(self.failed)} failed, {len(self.blocked)} blocked"
               + (f", {len(self.busy)} running elsewhere" if self.busy else "")]
        out += [f"  failed:  {n}" for n in self.failed]
        out += [f"  blocked: {n}" for n in self.blocked]
        return out


def format_override(key: str, value: Any) -> str:
    """``--config.key=value`` in the syntax ssseg.config.loader parses."""
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, (tuple, list)):
        text = repr(tuple(value))
    else:
        text = str(value)
    return f"--config.{key}={text}"


def cell_command(cell: Cell, config_file: str, root: str | Path,
                 train_argv: Sequence[str] = DEFAULT_TRAIN_ARGV) -> list[str]:
    """The argv that trains ``cell`` into ``<root>/<cell.name>``."""
    argv = [*train_argv, "--config", f"{config_file}:{cell.config_arg}",
            "--workdir", str(Path(root) / cell.name)]
    argv += [format_override(k, v) for k, v in resolve_overrides(cell, root).items()]
    return argv


def is_finished(root: str | Path, name: str) -> bool:
    return (Path(root) / name / "result.json").is_file()


def select(cells: Sequence[Cell], only: str | None) -> list[Cell]:
    """Cells whose name matches the glob ``only`` (a bare word matches as a substring)."""
    if not only:
        return list(cells)
    pattern = only if any(ch in only for ch in "*?[") else f"*{only}*"
    return [c for c in cells if fnmatch.fnmatchcase(c.name, pattern)]


def read_status(root: str | Path) -> dict:
    path = Path(root) / STATUS_FILE
    return json.loads(path.read_text()) if path.is_file() else {}


def _write_json(path: Path, data: dict) -> None:
    # Write then rename so a killed sweep never leaves half a status file.
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, path)


@contextlib.contextmanager
def _root_lock(root: Path):
    """Exclusive access to the root's shared files while another sweep process may write them."""
    with open(root / ".sweep.lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def claim_cell(root: str | Path, name: str):
    """An open lock file held for cell ``name``, or None when another process holds it.

    The lock lives as long as the returned file stays open (and dies with the process)."""
    path = Path(root) / LOG_DIR / f"{name}.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = open(path, "a")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        return None
    return handle


def set_status(root: str | Path, name: str, entry: dict) -> None:
    """Merge one cell's entry into ``sweep_status.json`` (other processes' entries are kept)."""
    root = Path(root)
    with _root_lock(root):
        status = read_status(root)
        status[name] = entry
        _write_json(root / STATUS_FILE, status)


def record_cells(root: str | Path, spec: str, cells: Sequence[Cell]) -> None:
    """Merge the cells' grids into ``<root>/sweep_cells.json`` (read by the report)."""
    root = Path(root)
    path = root / CELLS_FILE
    with _root_lock(root):
        data = json.loads(path.read_text()) if path.is_file() else {"cells": {}}
        data["spec"] = spec
        for cell in cells:
            data["cells"][cell.name] = cell.to_json()
        # Keep the sweep's order so the report can list rows as the grid lists them.
        data["order"] = list(dict.fromkeys([*data.get("order", []), *(c.name for c in cells)]))
        _write_json(path, data)


def _run_logged(argv: Sequence[str], log_path: Path, echo: TextIO | None) -> tuple[int, list[str]]:
    """Run argv, teeing stdout+stderr to log_path (and echo); return (exit code, last lines)."""
    tail: deque[str] = deque(maxlen=TAIL_LINES)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "a") as log, subprocess.Popen(
            list(argv), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True, bufsize=1) as proc:
        log.write(f"$ {shlex.join(argv)}\n")
        try:
            for line in proc.stdout:
                log.write(line)
                tail.append(line.rstrip("\n"))
                if echo is not None:
                    echo.write(line)
                    echo.flush()
        except KeyboardInterrupt:
            proc.terminate()
            proc.wait()
            raise
        code = proc.wait()
    return code, list(tail)


def run_sweep(config_file: str, cells: Sequence[Cell], root: str | Path, *,
              spec: str = "", train_argv: Sequence[str] = DEFAULT_TRAIN_ARGV,
              echo: TextIO | None = sys.stdout,
              log: Callable[[str], None] = print) -> SweepSummary:
    """Run ``cells`` (already in dependency order) under ``root``; never raises for a failed cell."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    record_cells(root, spec or config_file, cells)
    summary = SweepSummary()
    unusable: set[str] = set()
    for i, cell in enumerate(cells, 1):
        prefix = f"[{i}/{len(cells)}] {cell.name}"
        if is_finished(root, cell.name):
            log(f"{prefix}: skipped (result.json exists)")
            summary.skipped.append(cell.name)
            continue
        waiting = [d for d in cell.after if d in unusable or not is_finished(root, d)]
        if waiting:
            log(f"{prefix}: blocked (waits on unfinished {', '.join(waiting)})")
            set_status(root, cell.name, {"status": "blocked", "waits_on": waiting})
            summary.blocked.append(cell.name)
            unusable.add(cell.name)
            continue
        claim = claim_cell(root, cell.name)
        if claim is None:
            log(f"{prefix}: running in another sweep process, passed over")
            summary.busy.append(cell.name)
            unusable.add(cell.name)
            continue
        with claim:
            if is_finished(root, cell.name):  # finished by another process since the check above
                log(f"{prefix}: skipped (result.json exists)")
                summary.skipped.append(cell.name)
                continue
            argv = cell_command(cell, config_file, root, train_argv)
            resumed = (root / cell.name).exists()
            log(f"{prefix}: {'resuming' if resumed else 'starting'}")
            start = time.time()
            code, tail = _run_logged(argv, root / LOG_DIR / f"{cell.name}.log", echo)
        entry = {"command": shlex.join(argv), "returncode": code,
                 "wall_time_s": round(time.time() - start, 1)}
        if code == 0 and is_finished(root, cell.name):
            set_status(root, cell.name, {"status": "done", **entry})
            summary.ran.append(cell.name)
            log(f"{prefix}: done in {entry['wall_time_s']} s")
        else:
            reason = f"exit code {code}" if code else "exited 0 without writing result.json"
            set_status(root, cell.name, {"status": "failed", "reason": reason, "log_tail": tail, **entry})
            summary.failed.append(cell.name)
            unusable.add(cell.name)
            log(f"{prefix}: FAILED ({reason}); log: {root / LOG_DIR / (cell.name + '.log')}")
    for line in summary.lines():
        log(line)
    return summary


def describe(config_file: str, cells: Sequence[Cell], root: str | Path,
             train_argv: Sequence[str] = DEFAULT_TRAIN_ARGV) -> list[str]:
    """Dry-run listing: each cell's state, dependencies and command."""
    lines = []
    for cell in cells:
        state = "finished" if is_finished(root, cell.name) else (
            "partial (will resume)" if (Path(root) / cell.name).exists() else "pending")
        after = f"  after: {', '.join(cell.after)}" if cell.after else ""
        lines.append(f"{cell.name}  [{state}]{after}")
        lines.append("    " + shlex.join(cell_command(cell, config_file, root, train_argv)))
    return lines
