"""synthetic_defects: deterministic by seed, realistic rarity, and not solvable by a global threshold."""

import numpy as np
import pytest
from skimage.filters import threshold_otsu

from ssseg.data.builders.synthetic_defects import render
from ssseg.data.registry import get_spec


def _split(seed, split, n):
    pairs = [render.render_example(seed, split, i) for i in range(n)]
    return np.stack([p[0] for p in pairs]), np.stack([p[1] for p in pairs])


@pytest.fixture(scope="module")
def val_split():
    return _split(0, "val", 100)


def _iou(pred, truth):
    return (pred & truth).sum() / max((pred | truth).sum(), 1)


def test_generation_is_deterministic_by_seed():
    image_a, label_a = render.render_example(0, "train", 7)
    image_b, label_b = render.render_example(0, "train", 7)
    image_c, _ = render.render_example(1, "train", 7)
    assert image_a.shape == (96, 96) and image_a.dtype == np.uint8 and label_a.dtype == np.uint8
    np.testing.assert_array_equal(image_a, image_b)
    np.testing.assert_array_equal(label_a, label_b)
    assert np.abs(image_a.astype(int) - image_c.astype(int)).mean() > 5  # another seed, another image
    # Splits draw from separate streams: index 7 of val is not index 7 of train.
    assert not np.array_equal(render.render_example(0, "val", 7)[0], image_a)


def test_known_pixel_values_pin_the_generator():
    # Changing render.py changes the dataset: bump the builder VERSION when this test has to change.
    image, label = render.render_example(0, "train", 3)
    # (A small tolerance on the pixel sum absorbs float rounding differences across CPUs.)
    assert abs(int(image.astype(np.int64).sum()) - 1303560) <= 20
    assert np.bincount(label.ravel(), minlength=4).tolist() == [8934, 75, 0, 207]


def test_defects_are_rare_and_every_class_occurs(val_split):
    _, labels = val_split
    has_defect = labels.reshape(100, -1).max(1) > 0
    assert 0.35 <= 1 - has_defect.mean() <= 0.6  # many defect-free images, as in industry
    fractions = np.bincount(labels.ravel(), minlength=4) / labels.size
    assert fractions[0] > 0.97  # defects are tiny
    assert all(fractions[c] > 0 for c in (1, 2, 3))


def test_a_global_intensity_threshold_does_not_solve_it(val_split):
    images, labels = val_split
    defect = labels > 0
    otsu_dark = np.stack([im < threshold_otsu(im) for im in images])
    assert _iou(otsu_dark, defect) < 0.05 and _iou(~otsu_dark, defect) < 0.05
    # Even the best single threshold over the whole split, either polarity, chosen with the labels:
    best = max(max(_iou(images < t, defect), _iou(images > t, defect)) for t in range(0, 256, 2))
    assert best < 0.15
    # Stains go both ways, so no polarity is right for all of them.
    stain_delta = []
    for image, label in zip(images, labels):
        if (label == 3).any():
            stain_delta.append(np.median(image[label == 3]) - np.median(image[label == 0]))
    assert min(stain_delta) < -10 and max(stain_delta) > 10


def test_spec_normalisation_matches_the_train_split():
    images, _ = _split(0, "train", 100)
    spec = get_spec("synthetic_defects")
    assert abs(images.mean() / 255 - spec.mean[0]) < 0.02
    assert abs(images.std() / 255 - spec.std[0]) < 0.02


def test_built_records_equal_the_renderer(synthetic_sources):
    assert {k: len(v) for k, v in synthetic_sources.splits.items()} == {"train": 400, "val": 100, "test": 100}
    record = synthetic_sources.record("val_0042")
    image, label = render.render_example(0, "val", 42)
    assert record["id"] == "val_0042" and record["image"].shape == (96, 96, 1)
    np.testing.assert_array_equal(record["image"][..., 0], image)
    np.testing.assert_array_equal(record["label"], label)
    assert synthetic_sources.class_presence["val_0042"] == tuple(int(c) for c in np.unique(label))
