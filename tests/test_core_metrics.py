"""Dataset-level confusion-matrix metrics and sliding-window geometry, exact values."""

import jax.numpy as jnp
import numpy as np
import pytest

from ssseg.eval.evaluate import window_starts
from ssseg.eval.metrics import confusion_matrix, summarize


def test_confusion_matrix_ignores_255():
    labels = jnp.asarray([[0, 0, 1, 2, 255]])
    preds = jnp.asarray([[0, 1, 1, 1, 2]])
    cm = np.asarray(confusion_matrix(preds, labels, 3))
    np.testing.assert_array_equal(cm, [[1, 1, 0], [0, 1, 0], [0, 1, 0]])


def test_summarize_dataset_level_iou_and_defect_mean():
    cm = np.array([[8, 2, 0], [1, 3, 0], [0, 0, 0]])
    out = summarize(cm, ("bg", "a", "b"), defect_classes=(1, 2))
    assert out["per_class_iou"]["bg"] == pytest.approx(8 / 11)
    assert out["per_class_iou"]["a"] == pytest.approx(3 / 6)
    assert out["per_class_iou"]["b"] is None  # never seen: no IoU, left out of means
    assert out["miou"] == pytest.approx((8 / 11 + 0.5) / 2)
    assert out["defect_miou"] == pytest.approx(0.5)
    assert out["pixel_acc"] == pytest.approx(11 / 14)


def test_background_only_prediction_scores_zero_on_defects():
    cm = np.array([[90, 0], [10, 0]])
    out = summarize(cm, ("bg", "defect"), defect_classes=(1,))
    assert out["per_class_iou"]["defect"] == 0.0
    assert out["miou"] == pytest.approx(0.45)


@pytest.mark.parametrize("size,crop,stride,expected", [(10, 4, 2, [0, 2, 4, 6]), (10, 4, 3, [0, 3, 6]), (9, 4, 3, [0, 3, 5]), (3, 4, 2, [0])])
def test_window_starts_cover_the_canvas(size, crop, stride, expected):
    starts = window_starts(size, crop, stride)
    assert starts == expected
    assert starts[-1] + min(crop, size) >= size
