"""Inference over a split: whole-image or sliding-window, compiled once.

Eval batches are padded to a fixed canvas (label 255 on padding) by the data
pipeline, so the jitted functions here see one shape per run. Sliding-window
mode sums softmax over `crop_size` windows with stride 2/3 of the crop, as
UniMatch does on Cityscapes; window positions depend only on the static canvas
shape, so it too compiles once.
"""

from __future__ import annotations

import math
from typing import Callable, Iterable

import jax
import jax.numpy as jnp
import numpy as np

from ssseg.data.normalize import normalize
from ssseg.errors import ConfigError
from ssseg.eval.metrics import confusion_matrix, summarize
from ssseg.models import functional as model_fns


def window_starts(size: int, crop: int, stride: int) -> list[int]:
    """Start offsets covering [0, size) with windows of `crop`, last one flush with the end."""
    if size <= crop:
        return [0]
    n = math.ceil((size - crop) / stride) + 1
    return sorted({min(i * stride, size - crop) for i in range(n)})


def make_prob_fn(graphdef, mean, std, mode: str = "whole", crop_size: int = 0) -> Callable:
    """Returns jitted `(params, batch_stats, images_uint8) -> probs_bhwk` (softmax)."""
    def forward(params, batch_stats, images):
        x = normalize(images, mean, std)
        logits, _ = model_fns.apply_model(graphdef, params, batch_stats, x, train=False)
        return jax.nn.softmax(logits.astype(jnp.float32), axis=-1)

    if mode == "whole":
        return jax.jit(forward)
    if mode != "sliding":
        raise ConfigError(f"config.data.eval_mode={mode!r}: expected whole or sliding")

    def sliding(params, batch_stats, images):
        _, h, w, _ = images.shape
        crop = min(crop_size, h, w)
        stride = max(1, (crop * 2) // 3)
        total, count = None, jnp.zeros((1, h, w, 1), jnp.float32)
        for y in window_starts(h, crop, stride):
            for x in window_starts(w, crop, stride):
                probs = forward(params, batch_stats, images[:, y : y + crop, x : x + crop])
                pad = ((0, 0), (y, h - y - crop), (x, w - x - crop), (0, 0))
                total = jnp.pad(probs, pad) if total is None else total + jnp.pad(probs, pad)
                count = count + jnp.pad(jnp.ones((1, crop, crop, 1)), pad)
        return total / count

    return jax.jit(sliding)


def make_confusion_fn(prob_fn: Callable, num_classes: int) -> Callable:
    """Jitted `(params, batch_stats, images, labels) -> [K, K]` confusion counts."""

    @jax.jit
    def batch_confusion(params, batch_stats, images, labels):
        preds = jnp.argmax(prob_fn(params, batch_stats, images), axis=-1)
        return confusion_matrix(preds, labels, num_classes)

    return batch_confusion


def evaluate(
    confusion_fn: Callable,
    params,
    batch_stats,
    batches: Iterable[dict],
    class_names,
    defect_classes=None,
    put: Callable = lambda x: x,
) -> dict:
    """Sum confusion matrices over all batches of a split and summarise."""
    total = np.zeros((len(class_names), len(class_names)), np.int64)
    for batch in batches:
        images, labels = put(batch["image"]), put(batch["label"])
        total += np.asarray(confusion_fn(params, batch_stats, images, labels), np.int64)
    result = summarize(total, class_names, defect_classes)
    result["confusion_matrix"] = total.tolist()
    return result
