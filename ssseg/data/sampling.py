"""Repeat-factor sampling of the labeled list, for rare classes (Gupta et al., LVIS 2019).

Each labeled image is repeated r = max(1, sqrt(t / f_c)) times, c its rarest
class and f_c the fraction of labeled images containing c; fractional parts
are rounded stochastically from the run seed, so the list is fixed per run.
Inspection budgets hold few defect images (magnetic_tile 1/8: 34 of 117);
without this a batch of 8 often has no defect pixel at all.
"""

from __future__ import annotations

import math
from typing import Mapping, Sequence

import numpy as np


def repeat_factors(ids: Sequence[str], class_presence: Mapping[str, Sequence[int]], thresh: float) -> np.ndarray:
    counts: dict[int, int] = {}
    for example_id in ids:
        for c in set(class_presence[example_id]):
            counts[c] = counts.get(c, 0) + 1
    factors = []
    for example_id in ids:
        classes = set(class_presence[example_id]) or {-1}
        r = max(max(1.0, math.sqrt(thresh / (counts.get(c, len(ids)) / len(ids)))) for c in classes)
        factors.append(r)
    return np.asarray(factors)


def repeat_factor_ids(ids: Sequence[str], class_presence, thresh: float, seed: int) -> list[str]:
    """The id list with rare-class images repeated; `thresh` <= 0 returns `ids` unchanged."""
    if thresh <= 0:
        return list(ids)
    factors = repeat_factors(ids, class_presence, thresh)
    rng = np.random.default_rng([seed, 0xFAC7])
    repeats = np.floor(factors).astype(int) + (rng.random(len(ids)) < factors - np.floor(factors))
    return [example_id for example_id, k in zip(ids, repeats) for _ in range(int(k))]
