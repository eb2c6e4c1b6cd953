"""Calibration of pixel probabilities: expected calibration error and temperature scaling.

ECE (Guo et al., ICML 2017) over pixels: confidence c = max_k p_k, correct = argmax == label;
pixels are put in `NUM_BINS` = 15 equal-width confidence bins ((0, 1/15], ..., (14/15, 1]), and
ECE = sum_b (n_b / n) |accuracy_b - mean confidence_b|. Pixels labelled IGNORE_LABEL are left
out. `ReliabilityBins` accumulates the bin sums one image at a time, so a split never sits in
memory; it is kept for all labelled pixels and for ground-truth defect pixels alone (label not
background), where a model that is well calibrated on the ~98 % background can still be
over-confident.

Temperature scaling acts on the model's final log-probabilities: p_T = softmax(log p / T).
For a whole-image forward that is exactly softmax(logits / T) (log p differs from the logits
by a per-pixel constant, which the softmax removes); the argmax, hence every mask and IoU, is
unchanged. T is fitted on the val split by minimising the mean NLL of a pixel subsample
(scipy's bounded scalar minimiser over log T) and stored in the run's workdir (TEMPERATURE_FILE)
so that predict reuses it.
"""

from __future__ import annotations

import json
import os

import numpy as np
from scipy import optimize, special

from ssseg.data.labels import IGNORE_LABEL
from ssseg.errors import CheckpointError, ConfigError

NUM_BINS = 15
TEMPERATURE_FILE = "temperature.json"
# log of float32's smallest subnormal: a probability that underflowed to 0 counts as this.
MIN_LOG_PROB = float(np.log(np.finfo(np.float32).smallest_subnormal))


def apply_temperature(probs_hwk: np.ndarray, temperature: float) -> np.ndarray:
    """softmax(log p / T) over the last axis, float32; T = 1 returns the input."""
    if temperature == 1.0:
        return probs_hwk
    log_probs = np.maximum(np.log(np.maximum(np.asarray(probs_hwk, np.float64), 1e-300)), MIN_LOG_PROB)
    return special.softmax(log_probs / temperature, axis=-1).astype(np.float32)


class ReliabilityBins:
    """Per-bin pixel count, summed confidence and summed correctness, accumulated image by image."""

    def __init__(self, num_bins: int = NUM_BINS):
        self.num_bins = num_bins
        self.count = np.zeros(num_bins, np.int64)
        self.confidence = np.zeros(num_bins, np.float64)
        self.correct = np.zeros(num_bins, np.float64)

    def add(self, confidence: np.ndarray, correct: np.ndarray) -> None:
        confidence = np.asarray(confidence, np.float64).reshape(-1)
        # Bin b holds (b/B, (b+1)/B]; a confidence of exactly 0 cannot occur for a softmax.
        index = np.clip(np.ceil(confidence * self.num_bins).astype(np.int64) - 1, 0, self.num_bins - 1)
        self.count += np.bincount(index, minlength=self.num_bins)
        self.confidence += np.bincount(index, weights=confidence, minlength=self.num_bins)
        self.correct += np.bincount(index, weights=np.asarray(correct, np.float64).reshape(-1),
                                    minlength=self.num_bins)

    def ece(self) -> float | None:
        total = self.count.sum()
        if total == 0:
            return None
        return float(np.abs(self.correct - self.confidence).sum() / total)

    def summary(self) -> dict:
        """ece, pixels, and per bin: count, mean confidence, accuracy (None where empty)."""
        with np.errstate(invalid="ignore", divide="ignore"):
            conf, acc = self.confidence / self.count, self.correct / self.count
        return {
            "ece": self.ece(),
            "num_pixels": int(self.count.sum()),
            "bins": {
                "count": self.count.tolist(),
                "confidence": [None if n == 0 else float(c) for n, c in zip(self.count, conf)],
                "accuracy": [None if n == 0 else float(a) for n, a in zip(self.count, acc)],
            },
        }


def add_image(bins_all: ReliabilityBins, bins_defect: ReliabilityBins, probs_hwk: np.ndarray,
              label_hw: np.ndarray, background: int = 0) -> None:
    """Adds one image's labelled pixels to `bins_all` and its ground-truth defect pixels to `bins_defect`."""
    confidence = probs_hwk.max(-1)
    correct = probs_hwk.argmax(-1) == label_hw
    valid = label_hw != IGNORE_LABEL
    defect = valid & (label_hw != background)
    bins_all.add(confidence[valid], correct[valid])
    bins_defect.add(confidence[defect], correct[defect])


def sample_log_probs(probs_hwk: np.ndarray, label_hw: np.ndarray, max_pixels: int,
                     rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Up to `max_pixels` labelled pixels of one image: (log-probabilities [n,K], labels [n])."""
    rows, cols = np.nonzero(label_hw != IGNORE_LABEL)
    if rows.size > max_pixels:
        keep = rng.choice(rows.size, max_pixels, replace=False)
        rows, cols = rows[keep], cols[keep]
    probs = np.asarray(probs_hwk[rows, cols], np.float64)
    log_probs = np.maximum(np.log(np.maximum(probs, 1e-300)), MIN_LOG_PROB)
    return log_probs, label_hw[rows, cols].astype(np.int64)


def nll(log_probs_nk: np.ndarray, labels_n: np.ndarray, temperature: float) -> float:
    """Mean negative log-likelihood of `labels_n` under softmax(log_probs / T)."""
    scaled = log_probs_nk / temperature
    log_norm = special.logsumexp(scaled, axis=-1)
    return float((log_norm - scaled[np.arange(labels_n.size), labels_n]).mean())


FIT_BOUNDS = (0.05, 20.0)


def fit_temperature(log_probs_nk: np.ndarray, labels_n: np.ndarray, bounds=FIT_BOUNDS) -> float:
    """The T in `bounds` that minimises nll (bounded Brent search over log T)."""
    if labels_n.size == 0:
        raise ConfigError("temperature fit: no labelled pixels to fit on")
    result = optimize.minimize_scalar(lambda log_t: nll(log_probs_nk, labels_n, float(np.exp(log_t))),
                                      bounds=(np.log(bounds[0]), np.log(bounds[1])), method="bounded",
                                      options={"xatol": 1e-6})
    return float(np.exp(result.x))


def save_temperature(workdir: str, record: dict) -> str:
    """Writes `record` (temperature, step, model, split, nll before/after) to the run's TEMPERATURE_FILE."""
    path = os.path.join(workdir, TEMPERATURE_FILE)
    with open(path, "w") as f:
        json.dump(record, f, indent=2)
    return path


def stored_temperature(workdir: str) -> dict | None:
    """The run's fitted temperature record, or None if it has none."""
    path = os.path.join(workdir, TEMPERATURE_FILE)
    if not os.path.exists(path):
        return None
    try:
        with open(path) as f:
            record = json.load(f)
        float(record["temperature"])
    except (ValueError, KeyError, TypeError) as e:
        raise CheckpointError(f"{path}: not a temperature record ({e.__class__.__name__}); "
                              "delete it or refit with --temperature fit") from None
    return record


def parse_temperature(value: str | None) -> str | float | None:
    """--temperature: None (the stored one, else 1), "fit", or a positive float."""
    if value is None or value == "fit":
        return value
    try:
        temperature = float(value)
    except ValueError:
        temperature = float("nan")
    if not temperature > 0:
        raise ConfigError(f"--temperature {value!r}: expected fit or a positive number")
    return temperature
