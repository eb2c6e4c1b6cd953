"""On-device strong views: exact values on tiny inputs, determinism given a key."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ssseg.augment import copy_paste, cutmix, photometric


@pytest.fixture(scope="module")
def images01():
    return jax.random.uniform(jax.random.key(0), (2, 16, 16, 3), minval=0.1, maxval=0.9)


def _box_sides(mask_hw):
    rows, cols = np.nonzero(np.asarray(mask_hw))
    return cols.max() - cols.min() + 1, rows.max() - rows.min() + 1


def test_box_masks_follow_unimatch_distribution():
    height, width = 32, 48
    masks = np.asarray(cutmix.box_masks(jax.random.key(3), 256, height, width, prob=1.0))
    area = masks.sum(axis=(1, 2)) / (height * width)
    # U[0.02, 0.4] of the crop, sides truncated to integers (as UniMatch's int()).
    assert area.min() >= 0.015 and area.max() <= 0.4, (area.min(), area.max())
    for mask in masks[:32]:
        box_w, box_h = _box_sides(mask)
        assert mask.sum() == box_w * box_h  # one solid rectangle
        assert 0.3 * 0.7 <= box_h / box_w <= (1 / 0.3) / 0.7  # ratio in [0.3, 1/0.3], up to truncation
    assert not np.asarray(cutmix.box_masks(jax.random.key(3), 8, height, width, prob=0.0)).any()
    half = np.asarray(cutmix.box_masks(jax.random.key(4), 400, 8, 8, prob=0.5)).any(axis=(1, 2)).mean()
    assert 0.4 < half < 0.6


def test_box_masks_are_deterministic_given_the_key():
    a = cutmix.box_masks(jax.random.key(5), 4, 16, 16, prob=1.0)
    b = cutmix.box_masks(jax.random.key(5), 4, 16, 16, prob=1.0)
    c = cutmix.box_masks(jax.random.key(6), 4, 16, 16, prob=1.0)
    np.testing.assert_array_equal(a, b)
    assert (np.asarray(a) != np.asarray(c)).any()


def test_paste_from_partner_mixes_labels_confidences_validity_and_images_alike():
    box = np.zeros((3, 2, 2), bool)
    box[0, 0, 0] = True  # example 0 takes its top-left pixel from its partner, example 2
    box[1, :, 1] = True  # example 1 takes its right column from example 0
    labels = np.stack([np.full((2, 2), v, np.int32) for v in (1, 2, 3)])
    confident = np.array([np.ones((2, 2), bool), np.zeros((2, 2), bool), np.ones((2, 2), bool)])
    valid = np.array([np.ones((2, 2), bool), np.ones((2, 2), bool), np.zeros((2, 2), bool)])
    images = labels[..., None].repeat(3, axis=-1).astype(np.float32) / 10
    m_img, m_lab, m_conf, m_valid = cutmix.paste_from_partner(jnp.asarray(box), images, labels, confident, valid)
    np.testing.assert_array_equal(m_lab, [[[3, 1], [1, 1]], [[2, 1], [2, 1]], [[3, 3], [3, 3]]])
    np.testing.assert_array_equal(m_conf[1], [[False, True], [False, True]])
    np.testing.assert_array_equal(m_valid[0], [[False, True], [True, True]])
    np.testing.assert_allclose(m_img[..., 0], np.asarray(m_lab, np.float32) / 10)
    np.testing.assert_allclose(m_img[..., 2], m_img[..., 0])


def test_two_strong_views_differ_and_a_key_reproduces_its_view(images01):
    view = jax.jit(photometric.strong_photometric)
    a, b, again = view(jax.random.key(1), images01), view(jax.random.key(2), images01), view(jax.random.key(1), images01)
    np.testing.assert_array_equal(a, again)
    assert float(jnp.abs(a - b).mean()) > 1e-3
    assert float(a.min()) >= 0.0 and float(a.max()) <= 1.0
    # Per example: the two examples of one batch get different draws.
    assert a.shape == images01.shape


def test_strong_view_with_all_probabilities_zero_is_the_identity(images01):
    out = photometric.strong_photometric(jax.random.key(1), images01, p_jitter=0.0, p_grayscale=0.0, p_blur=0.0)
    np.testing.assert_allclose(out, images01, rtol=0, atol=0)


def test_brightness_jitter_is_one_multiplicative_factor_per_image(images01):
    gray = images01[..., :1] * 0.5  # grayscale path; values ≤ 0.45 so ×1.5 never clips
    out = photometric.strong_photometric(jax.random.key(7), gray, jitter=(0.5, 0.0, 0.0, 0.0),
                                         p_jitter=1.0, p_blur=0.0)
    ratio = np.asarray(out / gray)
    for r in ratio:
        np.testing.assert_allclose(r, r.flat[0], rtol=1e-5)
        assert 0.5 <= r.flat[0] <= 1.5
    assert out.shape[-1] == 1


def test_random_grayscale_uses_rec601_luma(images01):
    # dm-pix's (TensorFlow's) rec601 weights.
    out = photometric.strong_photometric(jax.random.key(1), images01, p_jitter=0.0, p_grayscale=1.0, p_blur=0.0)
    luma = images01[..., 0] * 0.2989 + images01[..., 1] * 0.587 + images01[..., 2] * 0.114
    for c in range(3):
        np.testing.assert_allclose(out[..., c], luma, atol=1e-6)


def test_gaussian_blur_keeps_flat_images_flat_and_mass():
    flat = jnp.full((9, 9, 1), 0.7)
    np.testing.assert_allclose(photometric.gaussian_blur(flat, jnp.float32(2.0)), flat, atol=1e-6)  # no dark border
    impulse = jnp.zeros((21, 21, 1)).at[10, 10, 0].set(1.0)
    blurred = photometric.gaussian_blur(impulse, jnp.float32(1.0))
    assert abs(float(blurred.sum()) - 1.0) < 1e-5
    assert float(blurred[10, 10, 0]) == pytest.approx(1 / (2 * np.pi), rel=0.05)


def test_copy_paste_moves_only_paste_class_pixels_of_the_drawn_source():
    labels = np.zeros((2, 4, 4), np.int32)
    labels[0, 1, 1:3] = 1  # source 0: two class-1 pixels
    labels[1, 2, 2] = 2  # source 1: one class-2 pixel (not a paste class) ...
    labels[1, 0, 0], labels[1, 3, 3] = 1, 255  # ... one class-1 pixel, one ignored
    sources = np.stack([np.full((4, 4, 1), 10, np.uint8), np.full((4, 4, 1), 20, np.uint8)])
    classes = jnp.array([False, True, False])
    source, mask = copy_paste.paste_masks(jax.random.key(0), jnp.asarray(labels), classes, 6, prob=1.0)
    source, mask = np.asarray(source), np.asarray(mask)
    assert set(source) == {0, 1}  # both sources drawn among 6 targets
    np.testing.assert_array_equal(mask, labels[source] == 1)
    targets = np.zeros((6, 4, 4, 1), np.uint8)
    pasted = np.asarray(copy_paste.paste(jnp.asarray(mask), jnp.asarray(source), targets, sources))
    np.testing.assert_array_equal(pasted[..., 0], np.where(mask, sources[source, ..., 0], 0))
    assert pasted.dtype == np.uint8
    _, never = copy_paste.paste_masks(jax.random.key(0), jnp.asarray(labels), classes, 6, prob=0.0)
    assert not np.asarray(never).any()
