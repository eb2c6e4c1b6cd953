"""Metrics to `metrics.jsonl` (one JSON object per line) and TensorBoard events."""

from __future__ import annotations

import json
import math
import os

import numpy as np


def _plain(value):
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (np.generic, np.ndarray)) or hasattr(value, "dtype"):
        value = np.asarray(value).tolist()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


class MetricsLog:
    """Appends records; on resume, drops records past the restored step so the
    log matches what a never-interrupted run would have written."""

    def __init__(self, workdir: str, resume_step: int = 0):
        self.path = os.path.join(workdir, "metrics.jsonl")
        if os.path.exists(self.path):
            with open(self.path) as f:
                kept = [line for line in f if line.strip() and json.loads(line)["step"] <= resume_step]
            with open(self.path, "w") as f:
                f.writelines(kept)
        self._file = open(self.path, "a")
        try:
            from tensorboardX import SummaryWriter

            self._tb = SummaryWriter(os.path.join(workdir, "tb"))
        except ImportError:  # TensorBoard events are a convenience, not a requirement
            self._tb = None

    def write(self, step: int, kind: str, values: dict) -> dict:
        record = {"step": int(step), "kind": kind, **_plain(values)}
        self._file.write(json.dumps(record) + "\n")
        self._file.flush()
        if self._tb is not None:
            prefix = values.get("split", kind)
            for key, value in record.items():
                if isinstance(value, (int, float)) and key != "step":
                    self._tb.add_scalar(f"{prefix}/{key}", value, step)
        return record

    def close(self) -> None:
        self._file.close()
        if self._tb is not None:
            self._tb.close()


class NullLog:
    """MetricsLog's interface, writing nothing: a process other than 0 of a multi-host run."""

    def write(self, step: int, kind: str, values: dict) -> dict:
        return {"step": int(step), "kind": kind, **_plain(values)}

    def close(self) -> None:
        pass
