"""Whole-image vs sliding-window inference, with a per-pixel stand-in model whose
output at a pixel depends only on that pixel: windows must then agree exactly."""

import jax.numpy as jnp
import numpy as np
import pytest

from ssseg.eval import evaluate as ev


@pytest.fixture
def per_pixel_model(monkeypatch):
    calls = []

    def apply_model(graphdef, params, batch_stats, x, *, train):
        calls.append(x.shape)
        logits = jnp.concatenate([x * params["w"][i] for i in range(3)], axis=-1)
        return logits, batch_stats

    monkeypatch.setattr(ev.model_fns, "apply_model", apply_model)
    return calls


def test_sliding_window_equals_whole_image_for_a_per_pixel_model(per_pixel_model):
    params = {"w": jnp.asarray([1.0, -2.0, 0.5])}
    images = jnp.asarray(np.random.default_rng(0).integers(0, 255, (2, 10, 13, 1)), jnp.uint8)
    whole = ev.make_prob_fn(None, (0.5,), (0.25,), "whole")(params, {}, images)
    sliding = ev.make_prob_fn(None, (0.5,), (0.25,), "sliding", crop_size=6)(params, {}, images)
    np.testing.assert_allclose(np.asarray(sliding), np.asarray(whole), rtol=1e-6, atol=1e-6)
    # windows of 6 at stride 4 over 10 x 13: rows {0, 4}, cols {0, 4, 7}
    assert per_pixel_model[1:].count((2, 6, 6, 1)) == 6


def test_evaluate_sums_confusion_over_batches(per_pixel_model):
    params = {"w": jnp.asarray([1.0, -1.0, 0.0])}
    conf = ev.make_confusion_fn(ev.make_prob_fn(None, (0.0,), (1.0,), "whole"), 3)
    bright = np.full((1, 4, 4, 1), 200, np.uint8)  # class 0 wins
    dark = np.zeros((1, 4, 4, 1), np.uint8)  # all logits 0: argmax -> class 0
    labels = np.zeros((1, 4, 4), np.int32)
    labels[0, 0, :] = 1
    labels[0, 1, :] = 255
    batches = [{"image": bright, "label": labels}, {"image": dark, "label": labels}]
    out = ev.evaluate(conf, params, {}, batches, ("bg", "a", "b"), defect_classes=(1, 2))
    assert out["confusion_matrix"] == [[16, 0, 0], [8, 0, 0], [0, 0, 0]]
    assert out["per_class_iou"] == {"bg": pytest.approx(16 / 24), "a": 0.0, "b": None}
    assert out["defect_miou"] == 0.0
