"""How well an image score finds the bad predictions: review curves and their areas.

N images with a per-image quality q_i (the image's mIoU) and an uncertainty score s_i are
sent to review most-uncertain first. After reviewing the first k (k = 0, ..., N-1):

- retained quality R(k) = mean q of the N - k images not reviewed;
  AUC_retained = (1/N) sum_{k=0}^{N-1} R(k)  (area over review share 0 .. (N-1)/N, step 1/N).
  Higher is better: the images left to the model are the good ones.
- bad caught C(k) = (bad images among the first k) / (bad images), an image being bad when
  q < `bad_iou`; AUC_caught = (1/N) sum_{k=1}^{N} C(k). Higher is better.

Ties in s are ordered at random; the curves are their expected value over that order, which
amounts to giving every image of a tie group the group's mean q (and mean badness).
References, exact:
- random order: E[R(k)] = mean q for every k, so AUC_retained = mean q; E[C(k)] = k/N, so
  AUC_caught = (N + 1) / (2N).
- oracle order (worst q first, the best any score can do): the same sums with s = -q.
`normalized` = (AUC - random) / (oracle - random): 1 = oracle, 0 = no better than random.
"""

from __future__ import annotations

import numpy as np

from ssseg.errors import DataError

BAD_IOU = 0.5


def _ordered_by_score(values: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """`values` sorted by score (highest first), each tie group replaced by its mean."""
    order = np.argsort(-scores, kind="stable")
    values, scores = values[order].astype(np.float64), scores[order]
    _, start, counts = np.unique(-scores, return_index=True, return_counts=True)
    for s, c in zip(start, counts):
        values[s:s + c] = values[s:s + c].mean()
    return values


def retained_curve(quality: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """[N] R(k), k = 0..N-1: mean quality of the images left after reviewing the first k."""
    q = _ordered_by_score(np.asarray(quality, np.float64), np.asarray(scores, np.float64))
    tail_sums = np.cumsum(q[::-1])[::-1]  # tail_sums[k] = sum of q[k:]
    return tail_sums / np.arange(q.size, 0, -1)


def caught_curve(bad: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """[N] C(k), k = 1..N: share of the bad images among the first k reviewed."""
    b = _ordered_by_score(np.asarray(bad, np.float64), np.asarray(scores, np.float64))
    return np.cumsum(b) / b.sum()


def _summary(auc: float, random: float, oracle: float) -> dict:
    span = oracle - random
    return {"auc": auc, "random": random, "oracle": oracle,
            "normalized": (auc - random) / span if span > 0 else None}


def review_auc(quality, scores, bad_iou: float = BAD_IOU) -> dict:
    """The retained-quality and bad-caught areas with their random and oracle references."""
    quality, scores = np.asarray(quality, np.float64), np.asarray(scores, np.float64)
    if quality.size == 0 or quality.shape != scores.shape:
        raise DataError(f"review_auc: need one score per image, got {scores.shape} scores for {quality.shape} images")
    n = quality.size
    out = {
        "num_images": n,
        "mean_image_miou": float(quality.mean()),
        "retained_miou": _summary(float(retained_curve(quality, scores).mean()), float(quality.mean()),
                                  float(retained_curve(quality, -quality).mean())),
        "bad_iou": bad_iou,
    }
    bad = quality < bad_iou
    out["num_bad"] = int(bad.sum())
    if bad.any():
        out["bad_caught"] = _summary(float(caught_curve(bad, scores).mean()), (n + 1) / (2 * n),
                                     float(caught_curve(bad, -quality).mean()))
    else:
        out["bad_caught"] = None
    return out
