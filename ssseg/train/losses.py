"""Pixel losses for segmentation, all ignoring label 255 (void and padding).

Defects are rare and tiny, so besides plain cross-entropy there are
class-aware options: frequency-weighted CE (weights from the labeled budget),
focal loss, soft Dice, CE + Dice and OHEM (online hard example mining). Every loss takes `logits_bhwk` and integer
`labels_bhw` and returns a scalar; `weights_bhw` (optional) scales pixels, which
the semi-supervised methods use for confidence masks.
"""

from __future__ import annotations

import math
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

from ssseg.data.labels import IGNORE_LABEL
from ssseg.errors import ConfigError

PixelLoss = Callable[..., jax.Array]


def pixel_cross_entropy(logits_bhwk, labels_bhw, class_weights=None):
    """Per-pixel CE, 0 where label is ignored; class_weights scales each pixel by its class."""
    valid = labels_bhw != IGNORE_LABEL
    safe = jnp.where(valid, labels_bhw, 0)
    logp = jax.nn.log_softmax(logits_bhwk.astype(jnp.float32), axis=-1)
    nll = -jnp.take_along_axis(logp, safe[..., None], axis=-1)[..., 0]
    if class_weights is not None:
        nll = nll * jnp.asarray(class_weights, jnp.float32)[safe]
    return jnp.where(valid, nll, 0.0), valid


def _mean_over(values, mask, weights_bhw=None):
    mask = mask.astype(jnp.float32)
    if weights_bhw is not None:
        values = values * weights_bhw
    return jnp.sum(values * mask) / jnp.maximum(jnp.sum(mask), 1.0)


def cross_entropy(logits_bhwk, labels_bhw, weights_bhw=None, class_weights=None):
    nll, valid = pixel_cross_entropy(logits_bhwk, labels_bhw, class_weights)
    if class_weights is not None:
        # Normalise by the summed weights so the loss scale does not drift with class mix.
        w = jnp.asarray(class_weights, jnp.float32)[jnp.where(valid, labels_bhw, 0)] * valid
        if weights_bhw is not None:
            w = w * weights_bhw
            nll = nll * weights_bhw
        return jnp.sum(nll) / jnp.maximum(jnp.sum(w), 1e-6)
    return _mean_over(nll, valid, weights_bhw)


def focal_loss(logits_bhwk, labels_bhw, weights_bhw=None, gamma: float = 2.0):
    """Lin et al. 2017: CE scaled by (1 - p_true)^gamma, so easy background pixels fade."""
    nll, valid = pixel_cross_entropy(logits_bhwk, labels_bhw)
    p_true = jnp.exp(-nll)
    return _mean_over((1.0 - p_true) ** gamma * nll, valid, weights_bhw)


def ohem_cross_entropy(logits_bhwk, labels_bhw, weights_bhw=None, thresh: float = 0.7, min_kept: int = 200000):
    """CE over the hard pixels only: those whose probability of the true class is <= a threshold.

    The peers' definition (UniMatch util/ohem.py `ProbOhemCrossEntropy2d`, from
    TorchSemiSeg; UniMatch's Cityscapes config: thresh 0.7, min_kept 200000 per
    batch): the threshold is `thresh`, raised to the `min_kept`-th smallest true-class
    probability over the batch where that is larger, so at least `min_kept`
    pixels are kept; when the batch has fewer than `min_kept` valid pixels,
    every valid pixel is kept (plain CE). The mean CE over the kept pixels.
    (mmseg's OHEMPixelSampler differs in detail: `min_kept` per image and `<`.)

    Static shapes for jit: the `min_kept`-th value comes from `lax.top_k`, and
    the selection is a mask, never boolean indexing.
    """
    nll, valid = pixel_cross_entropy(logits_bhwk, labels_bhw)
    return _mean_over(nll, ohem_kept(nll, valid, thresh, min_kept), weights_bhw)


def ohem_kept(nll_bhw, valid_bhw, thresh: float, min_kept: int):
    """bool [B,H,W]: the pixels OHEM trains on, from per-pixel CE (p_true = exp(-CE)) and the valid mask."""
    total = math.prod(valid_bhw.shape)
    if min_kept >= total:
        raise ConfigError(f"config.loss.ohem_min_kept={min_kept}: a labeled batch has only {total} pixels, so OHEM "
                          f"would keep them all (plain CE); set it below {total} (UniMatch keeps >= ~16% of a batch)")
    # Ignored pixels count as certain (probability 1), as in UniMatch, so they sort last.
    p_true = jax.lax.stop_gradient(jnp.where(valid_bhw, jnp.exp(-nll_bhw), 1.0))
    threshold = jnp.float32(thresh)
    if min_kept > 0:
        kth_smallest = -jax.lax.top_k(-p_true.reshape(-1), min_kept)[0][-1]
        threshold = jnp.maximum(threshold, kth_smallest)
    return jnp.where(jnp.sum(valid_bhw) < min_kept, valid_bhw, valid_bhw & (p_true <= threshold))


def soft_dice_loss(logits_bhwk, labels_bhw, weights_bhw=None, eps: float = 1.0):
    """1 - mean soft Dice over the classes present in labels or predictions of the batch."""
    num_classes = logits_bhwk.shape[-1]
    valid = (labels_bhw != IGNORE_LABEL).astype(jnp.float32)
    if weights_bhw is not None:
        valid = valid * weights_bhw
    probs = jax.nn.softmax(logits_bhwk.astype(jnp.float32), axis=-1) * valid[..., None]
    onehot = jax.nn.one_hot(jnp.where(labels_bhw == IGNORE_LABEL, 0, labels_bhw), num_classes) * valid[..., None]
    inter = jnp.sum(probs * onehot, axis=(0, 1, 2))
    denom = jnp.sum(probs, axis=(0, 1, 2)) + jnp.sum(onehot, axis=(0, 1, 2))
    dice = (2.0 * inter + eps) / (denom + eps)
    present = (jnp.sum(onehot, axis=(0, 1, 2)) > 0).astype(jnp.float32)
    return 1.0 - jnp.sum(dice * present) / jnp.maximum(jnp.sum(present), 1.0)


def make_pixel_loss(loss_cfg, class_weights: np.ndarray | None = None) -> PixelLoss:
    """The labeled-loss function named by `config.loss.name`."""
    name = loss_cfg.name
    if name == "ce":
        return lambda lg, lb, w=None: cross_entropy(lg, lb, w)
    if name == "wce":
        if class_weights is None:
            raise ValueError("wce needs class weights from the labeled budget")
        cw = jnp.asarray(class_weights, jnp.float32)
        return lambda lg, lb, w=None: cross_entropy(lg, lb, w, class_weights=cw)
    if name == "focal":
        return lambda lg, lb, w=None: focal_loss(lg, lb, w, gamma=loss_cfg.focal_gamma)
    if name == "ohem":
        return lambda lg, lb, w=None: ohem_cross_entropy(
            lg, lb, w, thresh=float(loss_cfg.ohem_thresh), min_kept=int(loss_cfg.ohem_min_kept))
    if name == "dice":
        return lambda lg, lb, w=None: soft_dice_loss(lg, lb, w)
    if name == "ce_dice":
        cw = None if class_weights is None else jnp.asarray(class_weights, jnp.float32)
        return lambda lg, lb, w=None: (
            cross_entropy(lg, lb, w, class_weights=cw) + loss_cfg.dice_weight * soft_dice_loss(lg, lb, w)
        )
    raise ConfigError(f"config.loss.name={name!r}: expected one of ce, wce, focal, ohem, dice, ce_dice")


def class_weights_from_counts(pixel_counts: np.ndarray, power: float) -> np.ndarray:
    """Weight ∝ frequency^-power, normalised to mean 1 over classes seen.

    Classes absent from the labeled budget get the largest seen weight rather
    than infinity.
    """
    counts = np.asarray(pixel_counts, np.float64)
    freq = counts / max(counts.sum(), 1.0)
    seen = freq > 0
    weights = np.zeros_like(freq)
    weights[seen] = freq[seen] ** (-power)
    weights[~seen] = weights[seen].max() if seen.any() else 1.0
    return (weights / weights.mean()).astype(np.float32)
