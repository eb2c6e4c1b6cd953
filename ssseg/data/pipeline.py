"""Host input pipeline: seeded, resumable labeled/unlabeled batch streams and fixed-shape eval batches.

Built on `grain.MapDataset`. A stream is the id list shuffled per epoch
(reshuffled every epoch by grain from the seed), repeated forever; example i
of the stream is batch `i // B`, slot `i % B`, and its augmentation draws
come from (seed, step, slot). So the batch at step s is a pure function of
(seed, s), and `start_step` reproduces a run's batches after a restart.

`worker_count` (data config, default 0) > 0 moves loading into grain worker
processes; on a 2-core machine 0 is faster.
"""

from __future__ import annotations

import math
from typing import Iterator, Sequence

import grain
import numpy as np

from ssseg.data import transforms
from ssseg.errors import DataError


def _stream_seed(seed: int, stream: int) -> int:
    """A 32-bit shuffle seed per (seed, stream), as grain requires."""
    return int(np.random.SeedSequence([seed, stream, 0x5EED]).generate_state(1)[0])


class _TrainExample:
    """Map of stream index -> transformed example (a class so grain workers can pickle it)."""

    def __init__(self, sources, data_cfg, seed: int, batch_size: int, stream: int):
        self.sources, self.data_cfg = sources, data_cfg
        self.seed, self.batch_size, self.stream = seed, batch_size, stream

    def __call__(self, index: int, example_id: str) -> dict:
        step, slot = divmod(index, self.batch_size)
        rng = transforms.example_rng(self.seed, step, slot, self.stream)
        return transforms.train_transform(
            self.sources.record(example_id), rng, self.data_cfg, labeled=self.stream == transforms.LABELED_STREAM
        )


def _stack_labeled(examples: Sequence[dict]) -> dict:
    return {
        "image": np.stack([e["image"] for e in examples]),
        "label": np.stack([e["label"] for e in examples]),
    }


def _stack_unlabeled(examples: Sequence[dict]) -> dict:
    return {
        "image": np.stack([e["image"] for e in examples]),
        "valid": np.stack([e["valid"] for e in examples]),
        "label": np.stack([e["label"] for e in examples]),
    }


def _iterate(dataset: grain.MapDataset, data_cfg) -> Iterator:
    """Iterate with a small read-ahead (grain's default buffers 500 elements, far too many batches)."""
    workers = int(data_cfg.worker_count)
    threads = int(data_cfg.prefetch_threads)
    read_options = grain.ReadOptions(num_threads=threads, prefetch_buffer_size=max(threads, 1) * 2)
    iter_dataset = dataset.to_iter_dataset(read_options)
    if workers <= 0:
        return iter(iter_dataset)
    from absl import flags

    if not flags.FLAGS.is_parsed():  # grain workers read absl flags; a library caller may not have parsed them
        flags.FLAGS.mark_as_parsed()
    return iter(iter_dataset.mp_prefetch(grain.MultiprocessingOptions(num_workers=workers)))


def id_stream(ids: Sequence[str], seed: int, stream: int) -> grain.MapDataset:
    """Infinite ids: epoch e is a permutation of `ids` seeded by (seed, stream, e)."""
    return grain.MapDataset.source(list(ids)).shuffle(seed=_stream_seed(seed, stream)).repeat()


def batch_stream(
    sources, ids: Sequence[str], data_cfg, seed: int, *, batch_size: int, stream: int, batch_fn,
    shard: tuple[int, int] = (0, 1),
) -> grain.MapDataset:
    """Infinite MapDataset whose element s is the batch at step s: with `shard` = (index, count),
    that batch's rows index·B/count .. (index+1)·B/count only (one process's share; only those
    examples are read and augmented), each the same example as in the whole batch."""
    if not ids:
        raise DataError(f"{sources.spec.name}: cannot make batches from an empty id list")
    missing = [i for i in ids if i not in sources.locations]
    if missing:
        raise DataError(f"{sources.spec.name}: id {missing[0]!r} is not in the built dataset ({len(missing)} missing)")
    index, count = shard
    if batch_size % count:
        raise DataError(f"batch size {batch_size} is not divisible by the {count} processes that share it")
    example = _TrainExample(sources, data_cfg, seed, batch_size, stream)
    if count == 1:
        dataset = id_stream(ids, seed, stream).map_with_index(example)
        return dataset.batch(batch_size, drop_remainder=True, batch_fn=batch_fn)
    # Batch the (cheap) ids first, keep this process's rows, then read and augment only those.
    indexed = id_stream(ids, seed, stream).map_with_index(_with_index)
    rows = slice(index * batch_size // count, (index + 1) * batch_size // count)
    return indexed.batch(batch_size, drop_remainder=True, batch_fn=list).map(_Rows(example, rows, batch_fn))


def _with_index(index: int, example_id: str) -> tuple[int, str]:
    return index, example_id


class _Rows:
    """Global batch of (stream index, id) -> `batch_fn` of this process's rows, transformed."""

    def __init__(self, example: _TrainExample, rows: slice, batch_fn):
        self.example, self.rows, self.batch_fn = example, rows, batch_fn

    def __call__(self, indexed_ids: list) -> dict:
        return self.batch_fn([self.example(i, example_id) for i, example_id in indexed_ids[self.rows]])


def labeled_batches(sources, ids: Sequence[str], data_cfg, seed: int, start_step: int = 0,
                    shard: tuple[int, int] = (0, 1)) -> Iterator[dict]:
    """Endless {"image": uint8 [B,S,S,C], "label": int32 [B,S,S]} from `ids`, B = data_cfg.batch_size
    (a process's share of it with `shard`, see batch_stream)."""
    stream = batch_stream(
        sources, ids, data_cfg, seed,
        batch_size=int(data_cfg.batch_size), stream=transforms.LABELED_STREAM, batch_fn=_stack_labeled, shard=shard,
    )
    return _iterate(stream[start_step:], data_cfg)


def unlabeled_batches(sources, ids: Sequence[str], data_cfg, seed: int, start_step: int = 0,
                      shard: tuple[int, int] = (0, 1)) -> Iterator[dict]:
    """Endless {"image", "valid": bool (False on padding), "label": hidden truth} of size unlabeled_batch_size
    (a process's share of it with `shard`)."""
    stream = batch_stream(
        sources, ids, data_cfg, seed,
        batch_size=int(data_cfg.unlabeled_batch_size), stream=transforms.UNLABELED_STREAM, batch_fn=_stack_unlabeled,
        shard=shard,
    )
    return _iterate(stream[start_step:], data_cfg)


def eval_canvas(data_cfg) -> int:
    """Side of the square eval canvas: data_cfg.eval_canvas if set (> 0), else base_size."""
    return int(data_cfg.eval_canvas or data_cfg.base_size)


class _EvalExample:
    def __init__(self, source, canvas: int, channels: int):
        self.source, self.canvas, self.channels = source, canvas, channels

    def __call__(self, index: int) -> tuple[dict, str]:
        if index >= len(self.source):  # padding of the last batch: fully ignored
            return transforms.blank_eval_example(self.canvas, self.channels), ""
        record = self.source[index]
        return transforms.eval_transform(record, self.canvas), record["id"]


def _stack_eval(examples: Sequence[tuple[dict, str]]) -> tuple[dict, list[str]]:
    return _stack_labeled([e for e, _ in examples]), [i for _, i in examples]


def eval_batches(source, data_cfg, channels: int | None = None) -> Iterator[tuple[dict, list[str]]]:
    """(batch, ids) over a whole split in record order; every batch has eval_batch_size examples on one canvas.

    batch = {"image": uint8 [B,C,C,ch], "label": int32 [B,C,C]}; ids has "" for the padding examples.
    """
    size = len(source)
    if size == 0:
        raise DataError("cannot evaluate on an empty split")
    batch_size = int(data_cfg.eval_batch_size)
    if channels is None:
        channels = source[0]["image"].shape[-1]
    padded = math.ceil(size / batch_size) * batch_size
    dataset = grain.MapDataset.range(padded).map(_EvalExample(source, eval_canvas(data_cfg), channels))
    return _iterate(dataset.batch(batch_size, batch_fn=_stack_eval), data_cfg)


def num_eval_batches(source, data_cfg) -> int:
    return math.ceil(len(source) / int(data_cfg.eval_batch_size))
