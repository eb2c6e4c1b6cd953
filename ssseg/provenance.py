"""Where a result came from: the git commit of the code that produced it."""

from __future__ import annotations

import os
import subprocess


def git_commit() -> str | None:
    """HEAD of the checkout holding ssseg, or None outside git (e.g. an installed wheel)."""
    try:
        here = os.path.dirname(os.path.abspath(__file__))
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=5)
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None
