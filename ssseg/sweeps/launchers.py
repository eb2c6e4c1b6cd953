"""Where a sweep's cells train: this machine, one after another (``local``), a SLURM job
array (``submitit``), or a Ray cluster (``ray``).

Every launcher runs the same job, :func:`execute_cell`: the cell's ``ssseg train``
command, teed to its log, then the finished run's result.json and metrics.jsonl read
back where it trained. The sweep process keeps the bookkeeping (locks, status, the
ledger record), so every launcher writes the same records, and a cell already recorded
is never handed to one. The sweep root must be a folder every node sees (a cluster's
shared filesystem): ``pretrained+X`` cells load another cell's checkpoint from it.
"""

from __future__ import annotations

import ast
import json
import os
import shlex
import subprocess
import time
from collections import deque
from pathlib import Path
from typing import Any, Mapping, Sequence, TextIO

from ssseg.errors import SsSegError

TAIL_LINES = 30
LAUNCHERS = ("local", "submitit", "ray")


class LauncherError(SsSegError):
    """A launcher is unknown, not installed, or given options it does not take."""


def read_outcome(workdir: str | Path) -> dict | None:
    """A finished run's ``{"result": result.json, "metrics": metrics.jsonl text}``, or None."""
    workdir = Path(workdir)
    if not (workdir / "result.json").is_file():
        return None
    metrics = workdir / "metrics.jsonl"
    return {"result": json.loads((workdir / "result.json").read_text()),
            "metrics": metrics.read_text() if metrics.is_file() else ""}


def run_logged(argv: Sequence[str], log_path: str | Path, echo: TextIO | None = None,
               cwd: str | None = None) -> tuple[int, list[str]]:
    """Run argv in ``cwd``, teeing stdout+stderr to log_path (and echo); return (exit code, last lines)."""
    tail: deque[str] = deque(maxlen=TAIL_LINES)
    log_path = Path(log_path)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "a") as log, subprocess.Popen(
            list(argv), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True, bufsize=1, cwd=cwd) as proc:
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


def execute_cell(argv: Sequence[str], log_path: str, workdir: str, echo: TextIO | None = None,
                 cwd: str | None = None) -> tuple[int, list[str], dict | None]:
    """The job of every launcher: train one cell; (exit code, last log lines, outcome).

    ``cwd``: the sweep's working directory (the repo root), since a cluster worker starts
    elsewhere and the configs name their files relative to it."""
    if cwd is not None:
        log_path, workdir = str(Path(cwd, log_path)), str(Path(cwd, workdir))
    code, tail = run_logged(argv, log_path, echo, cwd)
    return code, tail, read_outcome(workdir) if code == 0 else None


def parse_options(pairs: Sequence[str]) -> dict[str, Any]:
    """``["timeout_min=120", "slurm_partition=gpu"]`` -> {"timeout_min": 120, "slurm_partition": "gpu"}."""
    options: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise LauncherError(f"--launcher-arg {pair!r}: expected key=value")
        try:
            options[key] = ast.literal_eval(raw)
        except (ValueError, SyntaxError):
            options[key] = raw
    return options


class LocalLauncher:
    """Today's runner: each cell trains in a subprocess on this machine before the next starts."""

    def __init__(self, echo: TextIO | None = None):
        self.echo = echo
        self._done: list[tuple[str, tuple]] = []

    def submit(self, name: str, argv: Sequence[str], log_path: Path, workdir: Path) -> None:
        self._done.append((name, execute_cell(argv, str(log_path), str(workdir), self.echo)))

    def flush(self) -> None:
        pass

    def poll(self) -> list[tuple[str, tuple]]:
        done, self._done = self._done, []
        return done

    def wait(self) -> list[tuple[str, tuple]]:
        return self.poll()

    def close(self) -> None:
        pass


class _PollingLauncher:
    """Jobs run elsewhere; the sweep polls them every ``poll_s`` seconds."""

    poll_s = 5.0

    def __init__(self):
        self._running: dict[str, Any] = {}

    def poll(self) -> list[tuple[str, tuple]]:
        finished = [name for name, job in self._running.items() if self._done(job)]
        return [(name, self._outcome(self._running.pop(name))) for name in finished]

    def wait(self) -> list[tuple[str, tuple]]:
        while self._running:
            finished = self.poll()
            if finished:
                return finished
            time.sleep(self.poll_s)
        return []


class SubmititLauncher(_PollingLauncher):
    """SLURM through submitit: the cells ready at one time go out as one job array.

    ``options`` go to ``executor.update_parameters`` (e.g. ``timeout_min``,
    ``slurm_partition``, ``gpus_per_node``, ``cpus_per_task``, ``slurm_array_parallelism``);
    ``cluster`` is submitit's: None (SLURM where available, else local), ``local`` or
    ``debug`` (in this process, for tests)."""

    def __init__(self, folder: str | Path, options: Mapping[str, Any] | None = None,
                 cluster: str | None = None):
        super().__init__()
        try:
            import submitit
        except ImportError:
            raise LauncherError("--launcher submitit needs the submitit package: "
                                "pip install 'ssseg[cluster]'") from None
        options = dict(options or {})
        cluster = options.pop("cluster", cluster)
        self.executor = submitit.AutoExecutor(folder=str(folder), cluster=cluster)
        if options:
            self.executor.update_parameters(**options)
        self._batch: list[tuple[str, tuple]] = []

    def submit(self, name: str, argv: Sequence[str], log_path: Path, workdir: Path) -> None:
        self._batch.append((name, (list(argv), str(log_path), str(workdir), None, os.getcwd())))

    def flush(self) -> None:
        if not self._batch:
            return
        names = [name for name, _ in self._batch]
        args = list(zip(*(job_args for _, job_args in self._batch)))
        self._batch = []
        jobs = self.executor.map_array(execute_cell, *args)
        self._running.update(zip(names, jobs))

    @staticmethod
    def _done(job) -> bool:
        return job.done()

    @staticmethod
    def _outcome(job) -> tuple:
        try:
            return job.result()
        except Exception as e:  # the job died (SLURM timeout, node failure): a failed cell
            lines = str(e).splitlines()
            return 1, lines[-TAIL_LINES:], None

    def close(self) -> None:
        pass


class RayLauncher(_PollingLauncher):
    """A Ray cluster: each cell one remote task. ``options`` go to ``ray.init`` (``address``,
    e.g. ``auto`` for a running cluster; ``num_cpus`` for a local one) except ``num_cpus_per_cell``
    and ``num_gpus_per_cell``, the resources each cell's task asks for."""

    poll_s = 1.0

    def __init__(self, options: Mapping[str, Any] | None = None):
        super().__init__()
        try:
            import ray
        except ImportError:
            raise LauncherError("--launcher ray needs the ray package: pip install 'ssseg[cluster]'") from None
        options = dict(options or {})
        per_cell = {"num_cpus": options.pop("num_cpus_per_cell", 1),
                    "num_gpus": options.pop("num_gpus_per_cell", 0)}
        self.ray = ray
        self._started = not ray.is_initialized()
        if self._started:
            ray.init(**options)
        self.remote = ray.remote(execute_cell).options(**per_cell)

    def submit(self, name: str, argv: Sequence[str], log_path: Path, workdir: Path) -> None:
        self._running[name] = self.remote.remote(list(argv), str(log_path), str(workdir), None, os.getcwd())

    def flush(self) -> None:
        pass

    def _done(self, ref) -> bool:
        ready, _ = self.ray.wait([ref], timeout=0)
        return bool(ready)

    def _outcome(self, ref) -> tuple:
        try:
            return tuple(self.ray.get(ref))
        except Exception as e:  # the task's worker died: a failed cell
            return 1, str(e).splitlines()[-TAIL_LINES:], None

    def close(self) -> None:
        if self._started:
            self.ray.shutdown()


def make_launcher(kind: str, root: str | Path, options: Mapping[str, Any] | None = None,
                  echo: TextIO | None = None):
    """The launcher named ``kind`` (one of ``LAUNCHERS``); submitit keeps its job files
    under ``<root>/submitit``."""
    if kind == "local":
        if options:
            raise LauncherError(f"--launcher local takes no --launcher-arg (got {', '.join(options)})")
        return LocalLauncher(echo)
    if kind == "submitit":
        return SubmititLauncher(Path(root) / "submitit", options)
    if kind == "ray":
        return RayLauncher(options)
    raise LauncherError(f"--launcher {kind!r}: expected one of {', '.join(LAUNCHERS)}")
