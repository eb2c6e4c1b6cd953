"""Exact values of the pixel losses on tiny fixed inputs."""

import math

import jax.numpy as jnp
import numpy as np
import pytest

from ssseg.train import losses


def _logits():
    # 1×1×3 pixels, 2 classes.
    return jnp.asarray([[[[2.0, 0.0], [0.0, 0.0], [0.0, 3.0]]]])


def test_cross_entropy_ignores_255_and_averages_valid_pixels():
    labels = jnp.asarray([[[0, 255, 0]]])
    got = losses.cross_entropy(_logits(), labels)
    nll0 = math.log(1 + math.exp(-2.0))
    nll2 = math.log(1 + math.exp(3.0))
    assert float(got) == pytest.approx((nll0 + nll2) / 2, rel=1e-6)


def test_cross_entropy_pixel_weights_keep_valid_count_denominator():
    labels = jnp.asarray([[[0, 1, 0]]])
    weights = jnp.asarray([[[1.0, 0.0, 0.0]]])
    got = losses.cross_entropy(_logits(), labels, weights)
    assert float(got) == pytest.approx(math.log(1 + math.exp(-2.0)) / 3, rel=1e-6)


def test_weighted_cross_entropy_normalises_by_weight_sum():
    labels = jnp.asarray([[[0, 1, 0]]])
    cw = jnp.asarray([1.0, 3.0])
    got = losses.cross_entropy(_logits(), labels, class_weights=cw)
    nll = [math.log(1 + math.exp(-2.0)), math.log(2.0), math.log(1 + math.exp(3.0))]
    assert float(got) == pytest.approx((nll[0] + 3 * nll[1] + nll[2]) / 5, rel=1e-6)


def test_focal_loss_downweights_easy_pixels():
    labels = jnp.asarray([[[0, 1, 1]]])
    got = losses.focal_loss(_logits(), labels, gamma=2.0)
    expected = 0.0
    for logit_row, label in zip([[2.0, 0.0], [0.0, 0.0], [0.0, 3.0]], [0, 1, 1]):
        p = np.exp(logit_row) / np.exp(logit_row).sum()
        expected += (1 - p[label]) ** 2 * -math.log(p[label])
    assert float(got) == pytest.approx(expected / 3, rel=1e-5)


def test_soft_dice_is_zero_for_perfect_confident_prediction_and_counts_present_classes():
    labels = jnp.asarray([[[0, 1, 255]]])
    perfect = jnp.asarray([[[[50.0, 0.0], [0.0, 50.0], [0.0, 50.0]]]])
    assert float(losses.soft_dice_loss(perfect, labels, eps=0.0)) == pytest.approx(0.0, abs=1e-6)
    uniform = jnp.zeros((1, 1, 3, 2))
    # each present class: inter 0.5, denom 1 + 1 -> dice 0.5
    assert float(losses.soft_dice_loss(uniform, labels, eps=0.0)) == pytest.approx(0.5, rel=1e-6)


def test_class_weights_from_counts():
    w = losses.class_weights_from_counts(np.array([900, 100, 0]), power=0.5)
    raw = np.array([0.9 ** -0.5, 0.1 ** -0.5, 0.1 ** -0.5])
    np.testing.assert_allclose(w, raw / raw.mean(), rtol=1e-6)


def test_unknown_loss_is_a_config_error():
    from ml_collections import ConfigDict

    from ssseg.errors import ConfigError

    with pytest.raises(ConfigError, match="config.loss.name='nope'"):
        losses.make_pixel_loss(ConfigDict({"name": "nope"}))
