"""Shared model layers: align-corners bilinear resize and pooling on hand-computed values."""

import jax
import jax.numpy as jnp
import numpy as np

from ssseg.models.layers import max_pool_2x2_ceil, resize_bilinear_align_corners


def test_resize_align_corners_2x2_to_3x3_matches_hand_values():
    x = jnp.array([[0.0, 1.0], [2.0, 3.0]]).reshape(1, 2, 2, 1)
    out = resize_bilinear_align_corners(x, (3, 3))[0, :, :, 0]
    np.testing.assert_allclose(out, [[0.0, 0.5, 1.0], [1.0, 1.5, 2.0], [2.0, 2.5, 3.0]], atol=1e-6)


def test_resize_align_corners_3_to_4_keeps_corners_and_differs_from_half_pixel():
    x = jnp.array([0.0, 3.0, 9.0]).reshape(1, 1, 3, 1)
    out = resize_bilinear_align_corners(x, (1, 4))[0, 0, :, 0]
    # samples at 0, 2/3, 4/3, 2 -> 0, 2, 3 + 6/3, 9
    np.testing.assert_allclose(out, [0.0, 2.0, 5.0, 9.0], atol=1e-5)
    half_pixel = jax.image.resize(x, (1, 1, 4, 1), "bilinear")[0, 0, :, 0]
    assert not np.allclose(half_pixel, out, atol=1e-3)


def test_resize_from_single_pixel_broadcasts_and_keeps_channels_separate():
    x = jnp.array([1.5, -2.0]).reshape(1, 1, 1, 2)
    out = resize_bilinear_align_corners(x, (2, 3))
    assert out.shape == (1, 2, 3, 2)
    np.testing.assert_allclose(out[..., 0], 1.5)
    np.testing.assert_allclose(out[..., 1], -2.0)


def test_max_pool_ceil_keeps_odd_border():
    x = jnp.arange(9.0).reshape(1, 3, 3, 1)
    out = max_pool_2x2_ceil(x)[0, :, :, 0]
    np.testing.assert_array_equal(out, [[4.0, 5.0], [7.0, 8.0]])
