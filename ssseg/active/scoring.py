"""Image-level scores of a model's softmax output, for choosing which images to label next.

Pure numpy on one image's probabilities `probs_hwk` (softmax over K classes, class 0 =
background) and its `valid_hw` mask (False on eval-canvas padding).

The default score, `defect_entropy`, is the mean normalised entropy (0 = one-hot, 1 =
uniform) over the image's *candidate defect pixels*: pixels whose total defect probability
1 - p(background) reaches `defect_prob` (0.5: the pixels predicted as some defect). On
inspection images ~98 % of pixels are confident background; an image-wide mean is then a
measure of defect area, not of doubt, and a max is one noisy pixel (ValUES, ICLR 2024: the
aggregation decides what an image score finds). An image with no candidate pixel scores 0.
`mean_entropy` (all valid pixels) and `max_entropy` are there to compare.
"""

from __future__ import annotations

import numpy as np

from ssseg.errors import ConfigError

AGGREGATIONS = ("defect_entropy", "mean_entropy", "max_entropy")


def normalized_entropy(probs_hwk: np.ndarray) -> np.ndarray:
    """[H,W] entropy of the class distribution divided by log K: 0 for one-hot, 1 for uniform."""
    probs = np.asarray(probs_hwk, np.float64)
    k = probs.shape[-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(probs > 0, probs * np.log(probs), 0.0)
    return -terms.sum(-1) / np.log(k)


def image_score(probs_hwk: np.ndarray, valid_hw: np.ndarray | None = None, *,
                aggregation: str = "defect_entropy", defect_prob: float = 0.5) -> float:
    """One image's uncertainty under `aggregation` (see the module docstring)."""
    if aggregation not in AGGREGATIONS:
        raise ConfigError(f"aggregation {aggregation!r}: expected one of {', '.join(AGGREGATIONS)}")
    probs = np.asarray(probs_hwk, np.float64)
    valid = np.ones(probs.shape[:2], bool) if valid_hw is None else np.asarray(valid_hw, bool)
    entropy = normalized_entropy(probs)
    if aggregation == "mean_entropy":
        return float(entropy[valid].mean()) if valid.any() else 0.0
    if aggregation == "max_entropy":
        return float(entropy[valid].max()) if valid.any() else 0.0
    candidates = valid & (1.0 - probs[..., 0] >= defect_prob)
    return float(entropy[candidates].mean()) if candidates.any() else 0.0


def predicted_classes(probs_hwk: np.ndarray, valid_hw: np.ndarray | None = None, *,
                      min_pixels: int = 1) -> tuple[int, ...]:
    """Defect classes (ids >= 1) that the argmax assigns to at least `min_pixels` valid pixels."""
    probs = np.asarray(probs_hwk)
    valid = np.ones(probs.shape[:2], bool) if valid_hw is None else np.asarray(valid_hw, bool)
    counts = np.bincount(probs.argmax(-1)[valid], minlength=probs.shape[-1])
    return tuple(int(c) for c in np.flatnonzero(counts >= min_pixels) if c > 0)


def pooled_features(features_hwc: np.ndarray, valid_hw: np.ndarray | None = None) -> np.ndarray:
    """[C] mean of an encoder feature map over the valid region (mask resized by nearest sampling)."""
    features = np.asarray(features_hwc, np.float64)
    fh, fw = features.shape[:2]
    if valid_hw is None:
        return features.reshape(-1, features.shape[-1]).mean(0)
    valid = np.asarray(valid_hw, bool)
    rows = (np.arange(fh) * valid.shape[0]) // fh
    cols = (np.arange(fw) * valid.shape[1]) // fw
    mask = valid[np.ix_(rows, cols)]
    if not mask.any():
        return np.zeros(features.shape[-1])
    return features[mask].mean(0)
