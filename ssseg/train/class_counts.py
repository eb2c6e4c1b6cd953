"""The labeled budget's pixels per class, recorded in the workdir.

Class-weighted losses, distribution alignment and copy-paste need these counts
to build a run, so `ssseg eval` / `ssseg predict` need them too. The trainer
writes them once to `<workdir>/class_counts.json` when training starts;
restoring a run reads that file, and for a run saved before the file existed
recomputes them from the config's dataset, budget and seed (if reachable).
"""

from __future__ import annotations

import json
import os

import numpy as np

from ssseg.data.sources import load_sources
from ssseg.data.splits import load_budget
from ssseg.errors import CheckpointError, SsSegError

FILENAME = "class_counts.json"


def label_pixel_counts(sources, ids, num_classes: int) -> np.ndarray:
    """Pixels per class over the labeled budget (for class-weighted losses)."""
    counts = np.zeros(num_classes, np.int64)
    for example_id in ids:
        label = sources.record(example_id)["label"].reshape(-1)
        counts += np.bincount(label[label < num_classes], minlength=num_classes)[:num_classes]
    return counts


def write(workdir: str, counts: np.ndarray) -> None:
    """Record the counts once (atomically); an existing file is kept as it is."""
    path = os.path.join(workdir, FILENAME)
    if os.path.exists(path):
        return
    with open(path + ".tmp", "w") as f:
        json.dump({"class_counts": [int(c) for c in counts]}, f)
    os.replace(path + ".tmp", path)


def read(workdir: str, cfg, num_classes: int) -> np.ndarray:
    """The recorded counts; else recomputed from the config's data (older runs); else one named line."""
    path = os.path.join(workdir, FILENAME)
    if os.path.exists(path):
        with open(path) as f:
            counts = np.asarray(json.load(f)["class_counts"], np.int64)
        if counts.shape != (num_classes,):
            raise CheckpointError(f"{path} holds {counts.shape[0]} class counts; the dataset has {num_classes} classes")
        return counts
    try:
        sources = load_sources(cfg.data)
        labeled_ids, _ = load_budget(cfg.data.name, cfg.data.budget, cfg.seed, cfg.data.splits_dir)
    except SsSegError as e:
        raise CheckpointError(f"{path} not found, and the labeled budget to recompute it from is not "
                              f"reachable ({str(e).splitlines()[0]})") from None
    return label_pixel_counts(sources, labeled_ids, num_classes)
