"""Masked image modelling (`pretrain_mim`): masks, targets and loss on tiny fixed inputs, then a few steps."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ssseg.config.loader import load_config
from ssseg.errors import ConfigError
from ssseg.methods import pretrain_mim as mim
from ssseg.train.setup import build_run
from test_pretrain_training import SMOKE, _run_steps


def test_patch_mask_hides_exactly_the_ratio_per_image_and_follows_the_key():
    mask = np.asarray(mim.patch_mask(jax.random.key(3), 5, (4, 4), 0.6))
    assert mask.shape == (5, 4, 4)
    assert (mask.reshape(5, -1).sum(axis=1) == 10).all()  # round(0.6 · 16)
    assert len({m.tobytes() for m in mask}) > 1  # each image its own draw
    np.testing.assert_array_equal(mask, mim.patch_mask(jax.random.key(3), 5, (4, 4), 0.6))
    assert (mask != np.asarray(mim.patch_mask(jax.random.key(4), 5, (4, 4), 0.6))).any()
    np.testing.assert_array_equal(mim.to_pixels(jnp.asarray([[[True, False]]]), 2),
                                  [[[True, True, False, False], [True, True, False, False]]])


def test_targets_are_normalised_per_patch_without_padding():
    # One 2×2 patch [0, 2, 4, 6] (mean 3, var 5) beside a constant patch of 7s.
    image = jnp.asarray([[0.0, 2.0, 7.0, 7.0], [4.0, 6.0, 7.0, 7.0]]).reshape(1, 2, 4, 1)
    valid = jnp.ones((1, 2, 4), bool)
    out = np.asarray(mim.normalised_targets(image, valid, 2))[0, :, :, 0]
    np.testing.assert_allclose(out[:, :2], (np.array([[0, 2], [4, 6]]) - 3) / np.sqrt(5 + 1e-6), rtol=1e-6)
    np.testing.assert_allclose(out[:, 2:], 0.0, atol=1e-6)  # a flat patch has nothing to predict
    # Padding pixel (value 100) is left out of the patch's statistics: [0, 2, 4] has mean 2, var 8/3.
    padded = image.at[0, 1, 1, 0].set(100.0)
    out = np.asarray(mim.normalised_targets(padded, valid.at[0, 1, 1].set(False), 2))[0, :, :, 0]
    np.testing.assert_allclose(out[0, :2], (np.array([0, 2]) - 2) / np.sqrt(8 / 3 + 1e-6), rtol=1e-6)


def test_masked_mse_counts_only_the_weighted_pixels():
    pred = jnp.asarray([[[[1.0, 3.0], [0.0, 0.0]], [[5.0, 5.0], [2.0, 2.0]]]])  # [1, 2, 2, 2]
    target = jnp.zeros_like(pred)
    weights = jnp.asarray([[[True, False], [False, True]]])
    # Pixel (0,0): mean(1, 9) = 5; pixel (1,1): mean(4, 4) = 4.
    assert float(mim.masked_mse(pred, target, weights)) == pytest.approx(4.5)


def test_unfold_cells_lays_a_cell_vector_out_row_major():
    cells = jnp.arange(8.0).reshape(1, 1, 2, 4)  # two cells of a 1×2 grid, stride 2, one channel
    np.testing.assert_array_equal(np.asarray(mim.unfold_cells(cells, 2))[0, :, :, 0],
                                  [[0, 1, 4, 5], [2, 3, 6, 7]])


@pytest.fixture(scope="module")
def mim_run():
    return build_run(load_config(SMOKE.format("pretrain_mim"), ["--config.train.steps=100"]))


def test_mim_steps_learn_the_hidden_texture(mim_run):
    state, losses, metrics = _run_steps(mim_run, 8)
    assert all(np.isfinite(losses))
    assert np.mean(losses[-2:]) < 0.8 * losses[0], losses
    assert float(metrics["hidden_fraction"]) == pytest.approx(0.5)  # round(0.6 · 4) of the smoke 2×2 patches
    assert "ssl_heads" not in mim.METHOD.eval_models(state)["pretrained"][0]
    enc0, enc = (jax.tree.leaves(s.params["encoder"])[0] for s in (mim_run.state, state))
    assert float(jnp.abs(enc - enc0).max()) > 0  # the loss reaches the encoder


def test_mim_refuses_a_patch_that_does_not_tile_the_crop():
    with pytest.raises(ConfigError, match="patch_size=12: expected a positive divisor of config.data.crop_size=32"):
        build_run(load_config(SMOKE.format("pretrain_mim"), ["--config.method.patch_size=12"]))
