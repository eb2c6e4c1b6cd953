"""Repeat-factor sampling: exact factors on a tiny presence table."""

import math

import numpy as np

from ssseg.data.sampling import repeat_factor_ids, repeat_factors

PRESENCE = {"a": (0,), "b": (0,), "c": (0, 1), "d": (0, 2)}


def test_repeat_factors_follow_the_rarest_class():
    f = repeat_factors(list(PRESENCE), PRESENCE, thresh=1.0)
    # class 0 in 4/4 images -> 1; classes 1 and 2 in 1/4 -> sqrt(4) = 2
    np.testing.assert_allclose(f, [1.0, 1.0, 2.0, 2.0])
    f = repeat_factors(list(PRESENCE), PRESENCE, thresh=0.5)
    np.testing.assert_allclose(f, [1.0, 1.0, math.sqrt(2), math.sqrt(2)])


def test_repeat_factor_ids_is_deterministic_and_off_at_zero():
    ids = list(PRESENCE)
    assert repeat_factor_ids(ids, PRESENCE, 0.0, seed=0) == ids
    assert repeat_factor_ids(ids, PRESENCE, 1.0, seed=0) == ["a", "b", "c", "c", "d", "d"]
    once = repeat_factor_ids(ids, PRESENCE, 0.5, seed=3)
    assert once == repeat_factor_ids(ids, PRESENCE, 0.5, seed=3)
    assert once[:2] == ["a", "b"] and set(once) == set(ids)
