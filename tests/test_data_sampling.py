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


def test_foreground_crop_always_contains_the_defect_and_unlabeled_crops_ignore_it():
    from ml_collections import ConfigDict

    from ssseg.data.transforms import example_rng, train_transform

    label = np.zeros((200, 300), np.uint8)
    label[150, 20] = 3  # one defect pixel far from the centre
    record = {"image": np.zeros((200, 300, 1), np.uint8), "label": label}
    cfg = ConfigDict(dict(base_size=300, crop_size=32, scale_range=(1.0, 1.0), hflip=True, vflip=True,
                          foreground_crop_prob=1.0))
    hits = [train_transform(record, example_rng(0, s, 0), cfg, labeled=True)["label"].max() == 3 for s in range(20)]
    assert all(hits)
    misses = [train_transform(record, example_rng(0, s, 0), cfg, labeled=False)["label"].max() == 3 for s in range(20)]
    assert sum(misses) < 5  # 1 pixel in 300x200: a random 32² crop rarely holds it
