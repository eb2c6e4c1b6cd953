"""Which unlabeled images to send to the annotator: pure functions over pool arrays.

Strategies (every pick is deterministic: ties go to the lower pool index, and the pool is
sorted by id before it gets here):
- `uncertainty`: the k highest (focus-weighted) image scores.
- `uncertainty+kcenter`: the `candidate_factor * k` highest scores, then k-center greedy
  (Sener & Savarese 2018) over their pooled encoder features, with the labeled set's
  features as the centres already placed: uncertain images that are not near-copies of
  each other or of what is labeled.
- `random`: the control; k images drawn without replacement with probability proportional
  to the focus weights (all 1 without `--focus-classes`), seeded (Gumbel top-k).
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from ssseg.errors import ConfigError

STRATEGIES = ("uncertainty", "uncertainty+kcenter", "random")


def top_k(values: np.ndarray, k: int) -> np.ndarray:
    """Indices of the k largest values, largest first; equal values in index order."""
    values = np.asarray(values, np.float64)
    order = np.lexsort((np.arange(values.size), -values))  # last key is primary
    return order[:k]


def gumbel_top_k(weights: np.ndarray, k: int, seed: int) -> np.ndarray:
    """k indices drawn without replacement with probability ∝ weights (weights > 0)."""
    weights = np.asarray(weights, np.float64)
    if np.any(weights <= 0):
        raise ConfigError("random selection needs positive weights")
    gumbel = np.random.default_rng(seed).gumbel(size=weights.size)
    return top_k(np.log(weights) + gumbel, k)


def k_center_greedy(features: np.ndarray, centres: np.ndarray, k: int) -> np.ndarray:
    """k indices into `features` [N,D], each the point farthest (Euclidean) from every centre so
    far; `centres` [M,D] are placed already (M may be 0: then the first pick is index 0)."""
    features = np.asarray(features, np.float64)
    centres = np.asarray(centres, np.float64).reshape(-1, features.shape[1])
    if centres.shape[0]:
        dist = np.sqrt(((features[:, None, :] - centres[None, :, :]) ** 2).sum(-1)).min(1)
    else:
        dist = np.full(features.shape[0], np.inf)
    picks: list[int] = []
    for _ in range(min(k, features.shape[0])):
        i = int(np.argmax(dist))  # first maximum: ties go to the lower index
        picks.append(i)
        dist = np.minimum(dist, np.sqrt(((features - features[i]) ** 2).sum(-1)))
        dist[picks] = -np.inf
    return np.asarray(picks, np.int64)


def worst_classes(per_class_iou: Mapping[str, float | None], class_names: Sequence[str], n: int) -> tuple[int, ...]:
    """Ids of the n defect classes (id >= 1) with the lowest IoU; classes without an IoU are skipped."""
    ranked = [(per_class_iou.get(name), cid) for cid, name in enumerate(class_names) if cid > 0]
    ranked = sorted((iou, cid) for iou, cid in ranked if iou is not None)
    return tuple(cid for _, cid in ranked[:n])


def focus_weights(predicted: Sequence[Sequence[int]], focus: Sequence[int], boost: float) -> np.ndarray:
    """[N] selection weights: 1 + boost for an image predicted to hold any focus class, else 1."""
    focus = set(focus)
    return np.asarray([1.0 + boost if focus.intersection(p) else 1.0 for p in predicted], np.float64)


def select(strategy: str, k: int, *, scores: np.ndarray, weights: np.ndarray | None = None,
           features: np.ndarray | None = None, labeled_features: np.ndarray | None = None,
           candidate_factor: int = 4, seed: int = 0) -> np.ndarray:
    """Pool indices of the k images chosen by `strategy`, in pick order."""
    scores = np.asarray(scores, np.float64)
    weights = np.ones_like(scores) if weights is None else np.asarray(weights, np.float64)
    if not 0 < k <= scores.size:
        raise ConfigError(f"cannot select {k} images from an unlabeled pool of {scores.size}")
    if strategy == "uncertainty":
        return top_k(scores * weights, k)
    if strategy == "random":
        return gumbel_top_k(weights, k, seed)
    if strategy == "uncertainty+kcenter":
        if features is None:
            raise ConfigError("strategy uncertainty+kcenter needs encoder features of the pool")
        candidates = top_k(scores * weights, min(scores.size, candidate_factor * k))
        centres = np.zeros((0, features.shape[1])) if labeled_features is None else labeled_features
        return candidates[k_center_greedy(features[candidates], centres, k)]
    raise ConfigError(f"strategy {strategy!r}: expected one of {', '.join(STRATEGIES)}")
