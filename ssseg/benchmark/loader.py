"""Host loading throughput of a data config: how fast the input pipeline alone delivers batches.

`ssseg bench` reports it beside the step time to tell whether training is input-bound: if
`ms_per_batch` here is close to the train step time, the loader is the limit.
"""

from __future__ import annotations

import time

from ssseg.data import pipeline
from ssseg.data.sources import DataSources, load_sources


def _cycle_eval(source, data_cfg):
    while True:
        for batch, _ in pipeline.eval_batches(source, data_cfg):
            yield batch


def measure_loader(
    data_cfg,
    *,
    kind: str = "labeled",
    num_batches: int = 50,
    warmup_batches: int = 5,
    seed: int = 0,
    sources: DataSources | None = None,
) -> dict:
    """Time `num_batches` batches of `kind` ("labeled", "unlabeled" or "eval") after `warmup_batches`.

    Uses every train id (val for eval). Returns batches_per_s, ms_per_batch,
    images_per_s, batch_size, worker_count and the shape of one image batch.
    """
    sources = sources or load_sources(data_cfg)
    if kind == "eval":
        batch_size = int(data_cfg.eval_batch_size)
        batches = _cycle_eval(sources.source("val"), data_cfg)
    elif kind in ("labeled", "unlabeled"):
        make = pipeline.labeled_batches if kind == "labeled" else pipeline.unlabeled_batches
        batch_size = int(data_cfg.batch_size if kind == "labeled" else data_cfg.unlabeled_batch_size)
        batches = make(sources, sources.ids("train"), data_cfg, seed)
    else:
        raise ValueError(f"kind={kind!r}: expected 'labeled', 'unlabeled' or 'eval'")
    for _ in range(warmup_batches):
        batch = next(batches)
    start = time.perf_counter()
    for _ in range(num_batches):
        batch = next(batches)
    elapsed = time.perf_counter() - start
    return {
        "kind": kind,
        "batches_per_s": num_batches / elapsed,
        "ms_per_batch": 1000.0 * elapsed / num_batches,
        "images_per_s": num_batches * batch_size / elapsed,
        "batch_size": batch_size,
        "worker_count": int(data_cfg.worker_count),
        "image_shape": tuple(batch["image"].shape),
    }
