"""Per-pixel uncertainty of a softmax output and the image score aggregated from it.

Maps (numpy, [H,W] in [0, 1], 0 = certain):
- `entropy`: entropy of the class distribution divided by log K (0 one-hot, 1 uniform).
- `margin`: 1 - (p1 - p2), the gap between the two most probable classes (0 one-hot,
  1 when the top two tie).
- `disagreement`: total variation 0.5 * sum_k |p_k - q_k| between two models' outputs
  (a run's EMA teacher and its student), 0 when they agree, 1 when disjoint.

Image score (`image_score`), one of AGGREGATIONS:
- `defect_mean` (default): the mean uncertainty over the candidate defect pixels, those
  whose summed defect probability 1 - p(background) reaches 0.5 (every pixel predicted as a
  defect, plus near misses where background wins with under half), as `ssseg active`
  scores images; 0 for an image with none. ValUES (Kahl et al., ICLR 2024) found the
  aggregation from pixel to image matters more than the pixel measure itself; on inspection
  images almost every pixel is easy background, so a whole-image mean measures defect area,
  not doubt, and a max is one noisy boundary pixel. The mean over candidate defects asks
  "how sure is the model of the defects it (nearly) reports". A defect the model gives well
  under half its probability stays unseen; `share` can see it.
- `max`: the largest pixel uncertainty.
- `share`: the share of pixels whose uncertainty reaches `threshold`.
"""

from __future__ import annotations

import numpy as np

from ssseg.active.scoring import normalized_entropy
from ssseg.errors import ConfigError

MEASURES = ("entropy", "margin", "disagreement")
AGGREGATIONS = ("defect_mean", "max", "share")
DEFECT_PROB = 0.5  # a candidate defect pixel: 1 - p(background) >= this


def entropy_map(probs_hwk: np.ndarray) -> np.ndarray:
    """[H,W] float32 entropy / log K."""
    return normalized_entropy(probs_hwk).astype(np.float32)


def margin_map(probs_hwk: np.ndarray) -> np.ndarray:
    """[H,W] float32 1 - (largest - second largest probability)."""
    top2 = np.sort(np.asarray(probs_hwk, np.float32), axis=-1)[..., -2:]
    return (1.0 - (top2[..., 1] - top2[..., 0])).astype(np.float32)


def disagreement_map(probs_hwk: np.ndarray, other_probs_hwk: np.ndarray) -> np.ndarray:
    """[H,W] float32 total variation distance between two class distributions."""
    diff = np.abs(np.asarray(probs_hwk, np.float32) - np.asarray(other_probs_hwk, np.float32))
    return (0.5 * diff.sum(-1)).astype(np.float32)


def uncertainty_maps(probs_hwk: np.ndarray, other_probs_hwk: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """{"entropy", "margin"} and, given a second model's probabilities, "disagreement"."""
    maps = {"entropy": entropy_map(probs_hwk), "margin": margin_map(probs_hwk)}
    if other_probs_hwk is not None:
        maps["disagreement"] = disagreement_map(probs_hwk, other_probs_hwk)
    return maps


def image_score(uncertainty_hw: np.ndarray, probs_hwk: np.ndarray, aggregation: str = "defect_mean",
                threshold: float = 0.5, background: int = 0) -> float:
    """One image's score from its uncertainty map and class probabilities (see the module docstring)."""
    if aggregation not in AGGREGATIONS:
        raise ConfigError(f"aggregation {aggregation!r}: expected one of {', '.join(AGGREGATIONS)}")
    uncertainty = np.asarray(uncertainty_hw, np.float64)
    if aggregation == "max":
        return float(uncertainty.max())
    if aggregation == "share":
        return float((uncertainty >= threshold).mean())
    candidates = 1.0 - np.asarray(probs_hwk, np.float64)[..., background] >= DEFECT_PROB
    return float(uncertainty[candidates].mean()) if candidates.any() else 0.0


def defect_areas(pred_hw: np.ndarray, num_classes: int, background: int = 0) -> dict[int, int]:
    """{class id: predicted pixel count} for the defect classes present, ascending id."""
    counts = np.bincount(np.asarray(pred_hw, np.int64).reshape(-1), minlength=num_classes)
    return {int(c): int(counts[c]) for c in np.flatnonzero(counts) if c != background}
