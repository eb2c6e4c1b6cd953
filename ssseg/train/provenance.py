"""Where a result came from: the git commit of the code that produced it, and whether
tracked files differed from it. Read when a run starts, since the checkout may move on
while a long run trains."""

from __future__ import annotations

import os
import subprocess

_HERE = os.path.dirname(os.path.abspath(__file__))


def _git(args: list[str], cwd: str | None) -> str | None:
    try:
        out = subprocess.run(["git", *args], cwd=cwd or _HERE, capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout if out.returncode == 0 else None


def git_commit(cwd: str | None = None) -> str | None:
    """HEAD of the checkout holding ssseg, or None outside git (e.g. an installed wheel)."""
    out = _git(["rev-parse", "HEAD"], cwd)
    return (out or "").strip() or None


def git_dirty(cwd: str | None = None) -> bool | None:
    """Whether tracked files differ from HEAD (None outside git)."""
    out = _git(["status", "--porcelain", "--untracked-files=no"], cwd)
    return None if out is None else bool(out.strip())


def machine() -> dict:
    """The kind of machine a run trained on: bit-for-bit equality is promised only between
    runs on the same kind (same platform, devices and library versions)."""
    import platform

    import jax
    import jaxlib

    devices = jax.devices()
    return {
        "host": platform.node(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "devices": f"{len(devices)} x {devices[0].device_kind}",
        "jax": jax.__version__,
        "jaxlib": jaxlib.__version__,
    }
