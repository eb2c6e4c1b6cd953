"""Zero-label references on tiny images with known answers, and the result.json they write."""

import json
import os

import numpy as np
import pytest

from ssseg.baselines.matching import contingency, hungarian_mapping
from ssseg.baselines.segmenters import Adaptive, KMeans, Otsu, SlicKMeans, make_segmenter
from ssseg.errors import ConfigError


def _square_image(size=32, lo=60, hi=180):
    """Dark background with a bright 8×8 square at (12, 12); label 1 on the square."""
    image = np.full((size, size, 1), lo, np.uint8)
    image[12:20, 12:20] = hi
    label = np.zeros((size, size), np.int32)
    label[12:20, 12:20] = 1
    return image, label


def test_otsu_separates_a_bright_square():
    image, label = _square_image()
    np.testing.assert_array_equal(Otsu().predict(image), label)
    assert Otsu().predict(np.full((4, 4, 1), 7, np.uint8)).tolist() == [[0] * 4] * 4  # constant image


def test_adaptive_finds_a_dark_spot_on_a_ramp():
    # A gentle illumination ramp (1 grey level per pixel): a global threshold cannot isolate the spot.
    image = np.tile(np.linspace(40, 87, 48), (48, 1))
    image[20:24, 30:34] -= 30  # darker than its surroundings, as bright as the ramp's left part
    noise = np.random.default_rng(0).normal(0, 1.0, image.shape)
    clusters = Adaptive(block_size=31, k=5.0).predict(np.clip(image + noise, 0, 255).astype(np.uint8)[..., None])
    expected = np.ones((48, 48), np.int32)
    expected[20:24, 30:34] = 0
    np.testing.assert_array_equal(clusters, expected)


def test_kmeans_and_slic_kmeans_recover_two_regions_after_matching():
    image, label = _square_image(lo=50, hi=200)
    image = (image + np.random.default_rng(0).integers(0, 5, image.shape)).astype(np.uint8)
    slic_clusters = SlicKMeans(n_clusters=2, n_segments=16).fit([image], seed=0).predict(image)
    mapping, unmatched = hungarian_mapping(contingency([slic_clusters], [label], 2, 2))
    assert unmatched == []
    np.testing.assert_array_equal(mapping[slic_clusters], label)  # superpixels follow the edges exactly
    clusters = KMeans(n_clusters=2).fit([image], seed=0).predict(image)
    mapping, _ = hungarian_mapping(contingency([clusters], [label], 2, 2))
    pred = mapping[clusters]
    # Pixel features are smoothed (σ up to 4), so the square's one-pixel rim may go either way.
    np.testing.assert_array_equal(pred[13:19, 13:19], 1)
    np.testing.assert_array_equal(pred[:8, :], 0)
    assert (pred != label).sum() <= 32  # at most the rim (28 pixels of the 8×8 square) plus corners


def test_contingency_and_hungarian_matching():
    clusters = np.array([[0, 0, 1, 1], [2, 2, 2, 1]])
    labels = np.array([[1, 1, 0, 255], [0, 0, 2, 0]])
    table = contingency([clusters], [labels], 3, 3)
    np.testing.assert_array_equal(table, [[0, 2, 0], [2, 0, 0], [2, 0, 1]])
    mapping, unmatched = hungarian_mapping(table)
    # Best one-to-one: 0->1, 1->0, 2->2 (2 + 2 + 1 = 5 correct pixels).
    np.testing.assert_array_equal(mapping, [1, 0, 2])
    assert unmatched == []
    # Four clusters, two classes: the two unmatched clusters take their majority class.
    table4 = np.array([[5, 0], [0, 4], [3, 1], [0, 2]])
    mapping4, unmatched4 = hungarian_mapping(table4)
    np.testing.assert_array_equal(mapping4, [0, 1, 0, 1])
    assert unmatched4 == [2, 3]


def test_make_segmenter_defaults_and_errors():
    assert make_segmenter("kmeans", num_classes=6).n_clusters == 6
    assert make_segmenter("slic_kmeans", num_classes=6, clusters=2).n_clusters == 2
    with pytest.raises(ConfigError, match="expected one of"):
        make_segmenter("watershed", 6)
    with pytest.raises(ConfigError, match="--clusters applies to kmeans"):
        make_segmenter("otsu", 6, clusters=3)


def test_run_classical_writes_a_zero_label_result(synthetic_data_dir, tmp_path):
    from ssseg.baselines.run import run_classical
    from ssseg.config.loader import load_config

    cfg = load_config("experiments/synthetic_defects.py", [f"--config.data.data_dir={synthetic_data_dir}",
                                                           "--config.data.base_size=32"])
    result = run_classical(cfg, "otsu", str(tmp_path))
    with open(os.path.join(tmp_path, "result.json")) as f:
        saved = json.load(f)
    assert saved["regime"] == "zero-label:otsu" and saved["budget"] == "0" and saved["num_labeled"] == 0
    assert saved["config"]["method"]["name"] == "zero-label:otsu"
    assert saved["matching"]["split"] == "val" and len(saved["matching"]["cluster_to_class"]) == 2
    # The confusion matrix counts exactly the labelled pixels the contingency table saw.
    assert np.sum(saved["val"]["confusion_matrix"]) == np.sum(saved["matching"]["contingency"])
    assert saved["val"]["num_pixels"] > 0 and saved["test"]["num_pixels"] > 0
    # Only matched classes can have a nonzero IoU: at most 2 of the 4 classes.
    assert sum(v is not None and v > 0 for v in result["test"]["per_class_iou"].values()) <= 2
