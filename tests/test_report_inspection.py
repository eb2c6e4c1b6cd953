"""Per-image scores, worst-first order, error maps and pseudo-label thresholds on tiny arrays."""

from types import SimpleNamespace

import ml_collections
import numpy as np
import pytest

from ssseg.errors import DataError
from ssseg.inspection.per_image import (ImagePrediction, PseudoLabel, image_scores, pseudo_label_thresholds,
                              trust_by_threshold, worst_first)
from ssseg.inspection.plots import colorize, plot_prediction_grid, plot_pseudo_label_grid

NAMES = ("background", "crack", "pit")
LABEL = np.array([[0, 0, 1], [0, 1, 1], [255, 2, 2]])
PRED = np.array([[0, 1, 1], [0, 1, 0], [0, 2, 0]], np.uint8)


def test_image_scores_ignore_255_and_average_present_classes():
    scores = image_scores(LABEL, PRED, NAMES, defect_classes=(1, 2))
    # background: 2 right, union 3 labeled + 4 predicted - 2; crack: 2 of 3 + 3 - 2; pit: 1 of 2 + 1 - 1.
    assert scores["per_class_iou"] == pytest.approx({"background": 0.4, "crack": 0.5, "pit": 0.5})
    assert scores["miou"] == pytest.approx(1.4 / 3)
    assert scores["defect_miou"] == pytest.approx(0.5)
    assert scores["pixel_acc"] == pytest.approx(5 / 8)
    assert scores["num_pixels"] == 8


def prediction(id_, miou):
    blank = np.zeros((2, 2), np.uint8)
    return ImagePrediction(id_, np.zeros((2, 2, 1), np.uint8), blank, blank, blank.astype(float), {"miou": miou})


def test_worst_first_and_error_map():
    order = worst_first([prediction("a", 0.9), prediction("b", None), prediction("c", 0.1)])
    assert [p.id for p in order] == ["c", "a", "b"]
    p = ImagePrediction("x", np.zeros((3, 3, 1), np.uint8), LABEL, PRED, np.ones((3, 3)), {})
    np.testing.assert_array_equal(p.error, [[0, 1, 0], [0, 0, 1], [-1, 0, 1]])


def test_pseudo_label_thresholds_fixed_and_class_adaptive():
    method = ml_collections.ConfigDict({"name": "unimatch", "conf_thresh": 0.9, "class_adaptive": False})
    predictor = SimpleNamespace(class_names=NAMES, run=SimpleNamespace(
        cfg=ml_collections.ConfigDict({"method": method}),
        state=SimpleNamespace(extra={"class_conf": np.array([0.8, 0.4, 0.2])})))
    np.testing.assert_allclose(pseudo_label_thresholds(predictor), [0.9, 0.9, 0.9])
    method.class_adaptive = True
    np.testing.assert_allclose(pseudo_label_thresholds(predictor), [0.9, 0.45, 0.225])
    supervised = SimpleNamespace(class_names=NAMES, run=SimpleNamespace(
        cfg=ml_collections.ConfigDict({"method": {"name": "supervised"}}), state=None))
    with pytest.raises(DataError, match="'supervised' makes no thresholded.*pass conf_thresh"):
        pseudo_label_thresholds(supervised)


def test_confident_accuracy_counts_only_kept_pixels_with_truth():
    mask = np.array([[True, True, False], [True, False, False], [True, True, False]])
    p = PseudoLabel("u", np.zeros((3, 3, 1), np.uint8), PRED, np.ones((3, 3)), mask, LABEL)
    # kept with truth: (0,0) 0=0, (0,1) 1≠0, (1,0) 0=0, (2,1) 2=2 -> 3 of 4; (2,0) is ignored.
    assert p.confident_accuracy == pytest.approx(0.75)
    assert PseudoLabel("u", p.image, PRED, p.confidence, mask, None).confident_accuracy is None


def test_colorize_and_grids():
    rgb = colorize(LABEL, 3)
    assert rgb.shape == (3, 3, 3)
    assert tuple(rgb[2, 0]) == (255, 255, 255) and tuple(rgb[0, 0]) == (0, 0, 0)
    p = ImagePrediction("x", np.zeros((3, 3, 1), np.uint8), LABEL, PRED, np.ones((3, 3)), {"miou": 0.5})
    fig = plot_prediction_grid([p, p], NAMES)
    assert fig.axes[0].get_ylabel() == "x\nmiou 50.0"
    q = PseudoLabel("u", np.zeros((3, 3, 3), np.uint8), PRED, np.ones((3, 3)), PRED > 0, LABEL)
    fig = plot_pseudo_label_grid([q], NAMES)
    assert fig.axes[0].get_ylabel() == "u\nkept 44%, acc 75%"


def test_trust_by_threshold_counts_missed_objects_trusted_as_background():
    # 6 known pixels + 1 ignored: truth 0,0,0,1,1,2 ; pseudo 0,0,0,0,1,0 with confidences below.
    truth = np.array([[0, 0, 0, 1, 1, 2, 255]], np.uint8)
    label = np.array([[0, 0, 0, 0, 1, 0, 0]], np.uint8)
    conf = np.array([[0.999, 0.96, 0.9, 0.995, 0.97, 0.5, 1.0]], np.float32)
    p = PseudoLabel(id="a", image=np.zeros((1, 7, 1), np.uint8), pseudo_label=label, confidence=conf,
                    mask=conf >= 0.95, truth=truth)
    low, mid, high = trust_by_threshold([p], thresholds=(0.95, 0.99, 0.9999), num_classes=3)
    # t=0.95: confident = px 0,1,3,4 (4 of 6); background ones 0,1,3, of which px 3 is class 1.
    assert low["mask_ratio"] == pytest.approx(4 / 6)
    assert low["false_background"] == pytest.approx(1 / 3)
    assert low["missed_trusted"] == pytest.approx(1 / 3)  # of the 3 foreground pixels, px 3
    np.testing.assert_allclose(low["precision"], [2 / 3, 1.0, np.nan])
    np.testing.assert_allclose(low["recall"], [2 / 3, 1 / 2, 0.0])
    # t=0.99: px 0 and 3 remain, both background pseudo-labels: the miss is as confident as the hit.
    assert mid["false_background"] == pytest.approx(1 / 2)
    assert mid["missed_trusted"] == pytest.approx(1 / 3)
    assert np.isnan(high["false_background"]) and high["mask_ratio"] == 0.0


def test_trust_by_threshold_needs_truth():
    p = PseudoLabel(id="a", image=np.zeros((1, 1, 1), np.uint8), pseudo_label=np.zeros((1, 1), np.uint8),
                    confidence=np.ones((1, 1), np.float32), mask=np.ones((1, 1), bool), truth=None)
    with pytest.raises(DataError, match="hidden truth"):
        trust_by_threshold([p])
