"""Probabilities for review: the Predictor's, with optional flip test-time augmentation and a temperature.

`--tta flips` averages the class probabilities over the four flips of the image (none,
horizontal, vertical, both), each prediction flipped back before the mean; uncertainty is
then read from the mean. The temperature (ssseg/review/calibration.py) is applied to each
view's probabilities, as it was fitted, before the mean.

The second model for teacher-student disagreement is the run's other eval model: the
student when the reported one is the EMA teacher (and the teacher when it is the student);
CPS's two networks (or their teachers) likewise pair up. Runs with one model have none.
"""

from __future__ import annotations

import numpy as np

from ssseg.errors import ConfigError
from ssseg.review.calibration import apply_temperature

TTA = ("none", "flips")


def partner_model(model_names, chosen: str) -> str | None:
    """The eval model to compare `chosen` with, or None."""
    pairs = {"teacher": "student", "student": "teacher", "teacher_a": "teacher_b", "teacher_b": "teacher_a",
             "a": "b", "b": "a"}
    partner = pairs.get(chosen)
    return partner if partner in model_names else None


class ReviewViews:
    """(probabilities, partner probabilities or None) for one image, with TTA and temperature."""

    def __init__(self, predictor, tta: str = "none", temperature: float = 1.0, disagreement: bool = True):
        if tta not in TTA:
            raise ConfigError(f"--tta {tta!r}: expected one of {', '.join(TTA)}")
        self.predictor, self.tta, self.temperature = predictor, tta, float(temperature)
        self.partner = partner_model(predictor.models, predictor.model_name) if disagreement else None

    def probabilities(self, image: np.ndarray, model: str | None = None) -> np.ndarray:
        """float32 [H,W,K] of `model` (default: the predictor's), TTA-averaged, temperature-scaled."""
        flips = [()] if self.tta == "none" else [(), (1,), (0,), (0, 1)]
        total = None
        for axes in flips:
            view = np.flip(image, axes) if axes else image
            probs = apply_temperature(self.predictor.probabilities(np.ascontiguousarray(view), model), self.temperature)
            probs = np.flip(probs, axes) if axes else probs
            total = probs if total is None else total + probs
        return (total / len(flips)).astype(np.float32)

    def __call__(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        other = self.probabilities(image, self.partner) if self.partner else None
        return self.probabilities(image), other
