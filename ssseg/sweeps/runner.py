"""Run a sweep's cells, each as its own training process (here, or through a launcher).

A cell whose workdir holds ``result.json``, or whose ledger record holds its config
(:mod:`ssseg.sweeps.ledger`), is skipped; an interrupted one is simply rerun (the
trainer resumes from its checkpoints). Each cell that finishes is recorded in the
ledger. Cells go to a launcher (:mod:`ssseg.sweeps.launchers`) as soon as the cells
they wait on have finished. A failing cell is
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
import sys
import time
from pathlib import Path
from typing import Any, Callable, Sequence, TextIO

import ml_collections

from ssseg.config.loader import load_config, to_plain
from ssseg.data.ensure_splits import ensure_budget
from ssseg.sweeps.grid import Cell, resolve_overrides
from ssseg.sweeps.launchers import LocalLauncher, read_outcome
from ssseg.sweeps.ledger import Ledger, config_difference, with_root_token

STATUS_FILE = "sweep_status.json"
CELLS_FILE = "sweep_cells.json"
LOG_DIR = "sweep_logs"

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


def cell_config(config_file: str, cell: Cell) -> dict:
    """The cell's resolved config as its trainer writes it, with ``{root}`` left unresolved."""
    cfg = load_config(f"{config_file}:{cell.config_arg}",
                      [format_override(k, v) for k, v in cell.overrides.items()])
    return to_plain(cfg)


def _recorded_but_needed(cells: Sequence[Cell], queued: set[str], recorded: set[str]) -> dict[str, list[str]]:
    """Recorded cells whose run folder (checkpoint, for init_from) a cell to be run needs:
    {cell: the cells that need it}. The ledger keeps no checkpoints, so these train again."""
    needed: dict[str, list[str]] = {}
    by_name = {c.name: c for c in cells}
    frontier = [by_name[n] for n in queued]
    while frontier:
        cell = frontier.pop()
        for dep in cell.after:
            if dep in recorded:
                if dep not in needed:
                    frontier.append(by_name[dep])
                needed.setdefault(dep, []).append(cell.name)
    return needed


def _plan(cells, root: Path, configs: dict, ledger: Ledger | None, spec: str, order: dict,
          prefix: dict, summary: SweepSummary, log) -> tuple[list[Cell], set[str]]:
    """(cells to train, in order; cells whose finished run folder is under root). Skips
    cells finished under root (recording them in the ledger if it lacks them) and cells the
    ledger records, except a recorded cell whose checkpoint a cell to train needs."""
    have_run: set[str] = set()
    recorded: set[str] = set()
    queued: list[Cell] = []
    for cell in cells:
        if is_finished(root, cell.name) and _same_run(root, cell.name, configs.get(cell.name)):
            log(f"{prefix[cell.name]}: skipped (result.json exists)")
            summary.skipped.append(cell.name)
            have_run.add(cell.name)
            if ledger is not None and ledger.mismatch(cell.name, configs[cell.name]):
                ledger.write(cell, spec, read_outcome(root / cell.name), root, order.get(cell.name))
                log(f"{prefix[cell.name]}: recorded in {ledger.directory}")
            continue
        reason = ledger.mismatch(cell.name, configs[cell.name]) if ledger is not None else None
        if ledger is not None and reason is None:
            recorded.add(cell.name)
            continue
        if reason and reason != "no record":
            log(f"{prefix[cell.name]}: ledger record stale, {reason}")
        queued.append(cell)
    chosen = {c.name for c in cells}
    for cell in cells:   # a dependency left out by --only that finished under root: its checkpoint is there
        have_run.update(d for d in cell.after if d not in chosen and is_finished(root, d))
    needed = _recorded_but_needed(cells, {c.name for c in queued}, recorded)
    for cell in cells:
        if cell.name in needed:
            log(f"{prefix[cell.name]}: recorded, trains again: {', '.join(needed[cell.name])} "
                f"start from its checkpoint")
        elif cell.name in recorded:
            log(f"{prefix[cell.name]}: skipped (recorded in {ledger.directory})")
            summary.skipped.append(cell.name)
    return [c for c in cells if c in queued or c.name in needed], have_run


def run_sweep(config_file: str, cells: Sequence[Cell], root: str | Path, *,
              spec: str = "", train_argv: Sequence[str] = DEFAULT_TRAIN_ARGV,
              echo: TextIO | None = sys.stdout,
              log: Callable[[str], None] = print, ledger: Ledger | None = None,
              launcher=None, ensure_splits: bool = False,
              order: dict[str, int] | None = None) -> SweepSummary:
    """Run ``cells`` (already in dependency order) under ``root``; never raises for a failed cell.

    ``ledger``: skip cells it records with the same config, record each cell that
    finishes. ``launcher``: where cells train (default: here, one after another).
    ``ensure_splits``: write a cell's missing split files before it starts. ``order``: each
    cell's place in the whole sweep (default: in ``cells``), kept in its record."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    spec = spec or config_file
    record_cells(root, spec, cells)
    summary = SweepSummary()
    configs = {c.name: cell_config(config_file, c) for c in cells} if (ledger or ensure_splits) else {}
    prefix = {c.name: f"[{i}/{len(cells)}] {c.name}" for i, c in enumerate(cells, 1)}
    order = order or {c.name: i for i, c in enumerate(cells)}
    queue, have_run = _plan(cells, root, configs, ledger, spec, order, prefix, summary, log)
    unusable: set[str] = set()  # failed, blocked or busy: what waits on them is blocked

    launcher = launcher or LocalLauncher(echo)
    running: dict[str, tuple] = {}  # name -> (cell, claim, start time, argv)

    def finish(name: str, outcome: tuple) -> None:
        cell, claim, start, argv = running.pop(name)
        claim.close()
        code, tail, result = outcome
        entry = {"command": shlex.join(argv), "returncode": code,
                 "wall_time_s": round(time.time() - start, 1)}
        if code == 0 and result is not None:
            set_status(root, name, {"status": "done", **entry})
            summary.ran.append(name)
            have_run.add(name)
            log(f"{prefix[name]}: done in {entry['wall_time_s']} s")
            if ledger is not None:
                log(f"{prefix[name]}: recorded in {ledger.write(cell, spec, result, root, order.get(name))}")
            return
        reason = f"exit code {code}" if code else "exited 0 without writing result.json"
        set_status(root, name, {"status": "failed", "reason": reason, "log_tail": tail, **entry})
        summary.failed.append(name)
        unusable.add(name)
        log(f"{prefix[name]}: FAILED ({reason}); log: {root / LOG_DIR / (name + '.log')}")

    try:
        while queue or running:
            for cell in list(queue):
                pending = {c.name for c in queue} | set(running)
                waiting = [d for d in cell.after if d not in have_run]
                if any(d in unusable or d not in pending for d in waiting):
                    queue.remove(cell)
                    log(f"{prefix[cell.name]}: blocked (waits on unfinished {', '.join(waiting)})")
                    set_status(root, cell.name, {"status": "blocked", "waits_on": waiting})
                    summary.blocked.append(cell.name)
                    unusable.add(cell.name)
                    continue
                if waiting:  # its dependencies are still training elsewhere
                    continue
                queue.remove(cell)
                claim = claim_cell(root, cell.name)
                if claim is None:
                    log(f"{prefix[cell.name]}: running in another sweep process, passed over")
                    summary.busy.append(cell.name)
                    unusable.add(cell.name)
                    continue
                if is_finished(root, cell.name) and _same_run(root, cell.name, configs.get(cell.name)):
                    # finished by another sweep process meanwhile
                    claim.close()
                    log(f"{prefix[cell.name]}: skipped (result.json exists)")
                    summary.skipped.append(cell.name)
                    have_run.add(cell.name)
                    continue
                if ensure_splits:
                    _ensure_splits(configs[cell.name], log)
                argv = cell_command(cell, config_file, root, train_argv)
                log(f"{prefix[cell.name]}: {'resuming' if (root / cell.name).exists() else 'starting'}")
                running[cell.name] = (cell, claim, time.time(), argv)
                launcher.submit(cell.name, argv, root / LOG_DIR / f"{cell.name}.log", root / cell.name)
                for name, outcome in launcher.poll():  # the local launcher has finished it already
                    finish(name, outcome)
            launcher.flush()
            for name, outcome in launcher.wait():
                finish(name, outcome)
    finally:
        launcher.close()
    for line in summary.lines():
        log(line)
    return summary


def _same_run(root: Path, name: str, config: dict | None) -> bool:
    """Whether the finished run folder holds ``config`` (unknown config: assume it does).
    One that does not is left to the trainer, which refuses to overwrite it."""
    if config is None:
        return True
    result = json.loads((root / name / "result.json").read_text())
    return config_difference(with_root_token(result.get("config", {}), root), config) is None


def _ensure_splits(config: dict, log: Callable[[str], None]) -> None:
    from ssseg.data.sources import load_sources  # TFDS: imported only when a sweep writes splits

    data = config["data"]
    message = ensure_budget(data["name"], data["budget"], config["seed"], data["splits_dir"],
                            lambda: load_sources(ml_collections.ConfigDict(data)))
    if message:
        log(message)


def describe(config_file: str, cells: Sequence[Cell], root: str | Path,
             train_argv: Sequence[str] = DEFAULT_TRAIN_ARGV, ledger: Ledger | None = None) -> list[str]:
    """Dry-run listing: each cell's state, dependencies and command."""
    lines = []
    for cell in cells:
        if is_finished(root, cell.name):
            state = "finished"
        elif ledger is not None and ledger.mismatch(cell.name, cell_config(config_file, cell)) is None:
            state = "recorded"
        else:
            state = "partial (will resume)" if (Path(root) / cell.name).exists() else "pending"
        after = f"  after: {', '.join(cell.after)}" if cell.after else ""
        lines.append(f"{cell.name}  [{state}]{after}")
        lines.append("    " + shlex.join(cell_command(cell, config_file, root, train_argv)))
    return lines
