"""OHEM: the pixels it keeps and its loss value on a hand-made batch, against a numpy
transcription of UniMatch's ProbOhemCrossEntropy2d (util/ohem.py)."""

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from ssseg.errors import ConfigError
from ssseg.train import losses

# True-class probabilities of 10 pixels (1 x 2 x 5, two classes); the last three are ignored.
P_TRUE = np.asarray([0.1, 0.3, 0.5, 0.65, 0.75, 0.8, 0.9, 0.95, 0.2, 0.99])
LABELS = np.asarray([1, 0, 1, 0, 1, 0, 1, 255, 255, 255]).reshape(1, 2, 5)


def _logits():
    """Two-class logits whose softmax gives P_TRUE to the true class (class 1 for ignored pixels)."""
    margin = np.log(P_TRUE / (1 - P_TRUE)).astype(np.float32)
    true_is_1 = LABELS.reshape(-1) != 0
    logits = np.stack([np.where(true_is_1, 0.0, margin), np.where(true_is_1, margin, 0.0)], -1)
    return jnp.asarray(logits.reshape(1, 2, 5, 2))


def _unimatch_reference(logits, labels, thresh, min_kept):
    """numpy transcription of ProbOhemCrossEntropy2d.forward (reduction mean)."""
    logits = np.asarray(logits, np.float64).reshape(-1, 2)
    target = labels.reshape(-1).copy()
    valid = target != 255
    target = target * valid
    prob = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    if min_kept <= valid.sum() and valid.sum() > 0:
        mask_prob = np.where(valid, prob[np.arange(len(target)), target], 1.0)
        threshold = thresh
        if min_kept > 0:
            index = mask_prob.argsort(kind="stable")
            threshold_index = index[min(len(index), min_kept) - 1]
            if mask_prob[threshold_index] > thresh:
                threshold = mask_prob[threshold_index]
            valid = valid & (mask_prob <= threshold)
    nll = -np.log(prob[np.arange(len(target)), target])
    return valid, float(nll[valid].mean())


@pytest.mark.parametrize("min_kept, kept_pixels", [
    (2, [0, 1, 2, 3]),  # the 0.7 bar keeps more than min_kept: p <= 0.7
    (6, [0, 1, 2, 3, 4, 5]),  # bar raised to the 6th smallest valid p (0.8)
    (8, [0, 1, 2, 3, 4, 5, 6]),  # fewer valid pixels (7) than min_kept: all valid, plain CE
])
def test_ohem_keeps_the_hard_pixels_and_averages_their_ce(min_kept, kept_pixels):
    logits, labels = _logits(), jnp.asarray(LABELS)
    nll, valid = losses.pixel_cross_entropy(logits, labels)
    kept = np.asarray(losses.ohem_kept(nll, valid, 0.7, min_kept)).reshape(-1)
    assert np.flatnonzero(kept).tolist() == kept_pixels
    expected = float(np.mean(-np.log(P_TRUE[kept_pixels])))
    ref_kept, ref_loss = _unimatch_reference(logits, LABELS, 0.7, min_kept)
    assert np.flatnonzero(ref_kept).tolist() == kept_pixels
    ohem = jax.jit(lambda lg, lb: losses.ohem_cross_entropy(lg, lb, thresh=0.7, min_kept=min_kept))
    got = float(ohem(logits, labels))
    assert got == pytest.approx(expected, rel=1e-5)
    assert got == pytest.approx(ref_loss, rel=1e-5)


def test_ohem_refuses_a_min_kept_that_keeps_everything():
    cfg = ml_collections.ConfigDict(dict(name="ohem", ohem_thresh=0.7, ohem_min_kept=10))
    with pytest.raises(ConfigError, match=r"ohem_min_kept=10: a labeled batch has only 10 pixels"):
        losses.make_pixel_loss(cfg)(_logits(), jnp.asarray(LABELS))


def test_ohem_gradient_reaches_the_kept_pixels_only():
    logits, labels = _logits(), jnp.asarray(LABELS)
    grad = jax.jit(jax.grad(lambda lg: losses.ohem_cross_entropy(lg, labels, thresh=0.7, min_kept=2)))(logits)
    ce_grad = jax.grad(lambda lg: losses.pixel_cross_entropy(lg, labels)[0].sum())(logits)
    kept = np.zeros(10, bool)
    kept[:4] = True  # p_true <= 0.7
    expected = np.where(kept[:, None], np.asarray(ce_grad).reshape(10, 2) / 4, 0.0)
    np.testing.assert_allclose(np.asarray(grad).reshape(10, 2), expected, rtol=1e-5, atol=1e-7)


def test_loss_name_ohem_is_every_methods_labeled_loss():
    """`loss.name=ohem` becomes ctx.labeled_loss, the labeled loss every method calls."""
    from ssseg.config.loader import load_config
    from ssseg.train.setup import build_run

    cfg = load_config("experiments/synthetic_defects.py:method=unimatch,smoke",
                      ["--config.loss.name=ohem", "--config.loss.ohem_min_kept=6"])
    got = build_run(cfg).ctx.labeled_loss(_logits(), jnp.asarray(LABELS))
    assert float(got) == pytest.approx(float(np.mean(-np.log(P_TRUE[:6]))), rel=1e-5)
