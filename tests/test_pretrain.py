"""Pretraining building blocks on tiny fixed inputs: views and their geometry,
the BYOL / PixPro objectives, the EMA target, the ridge probe's algebra."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ssseg.pretrain import layout, objectives, probe, views
from ssseg.train.state import TrainState


def _geom(boxes, hflip=None, vflip=None, size=16):
    boxes = jnp.asarray(boxes, jnp.float32)
    b = boxes.shape[0]
    return views.ViewGeometry(
        box=boxes,
        hflip=jnp.asarray(hflip if hflip is not None else [False] * b),
        vflip=jnp.asarray(vflip if vflip is not None else [False] * b),
        size=size,
    )


def test_byol_loss_of_identical_orthogonal_and_opposite_outputs():
    x = jnp.asarray([[1.0, 0.0], [0.0, 3.0]])
    assert float(objectives.byol_loss(x, x)) == pytest.approx(0.0, abs=1e-6)
    assert float(objectives.byol_loss(x, 2.0 * x)) == pytest.approx(0.0, abs=1e-6)  # scale-free
    assert float(objectives.byol_loss(x, x[::-1])) == pytest.approx(2.0, abs=1e-6)
    assert float(objectives.byol_loss(x, -x)) == pytest.approx(4.0, abs=1e-6)
    # Row weights: only the orthogonal row (weight 1) counts.
    mixed = jnp.asarray([[0.0, 1.0], [0.0, 3.0]])
    assert float(objectives.byol_loss(x, mixed, jnp.asarray([1.0, 0.0]))) == pytest.approx(2.0, abs=1e-6)


def test_spread_is_zero_when_collapsed_and_exact_on_orthogonal_rows():
    d = 4
    # One-hot rows: each dimension is 1 in a quarter of the rows, std sqrt(1/4 - 1/16).
    assert np.isclose(float(objectives.spread(3.0 * jnp.eye(d))), np.sqrt(d) * np.sqrt(1 / d - 1 / d**2))
    same = jnp.tile(jnp.array([[1.0, 2.0, 0.0, -1.0]]), (5, 1)) * jnp.arange(1, 6)[:, None]
    assert np.isclose(float(objectives.spread(same)), 0.0, atol=1e-6)  # one direction at any scale
    # Weights leave rows out: the two one-hot rows left give std 1/2 in two of four dimensions.
    rows = jnp.concatenate([jnp.eye(d)[:2], jnp.ones((3, d))])
    assert np.isclose(float(objectives.spread(rows, jnp.array([1, 1, 0, 0, 0]))), np.sqrt(d) * 0.5 * 2 / d)


def test_render_whole_box_is_identity_and_integer_shift_is_a_crop():
    img = np.arange(2 * 16 * 16, dtype=np.float32).reshape(2, 16, 16, 1) / 512.0
    valid = np.ones((2, 16, 16), bool)
    same, same_valid = views.render(img, valid, _geom([[0, 0, 16, 16], [0, 0, 16, 16]]))
    np.testing.assert_allclose(same, img, atol=1e-6)
    assert bool(same_valid.all())
    # An 8×8 box at (4, 2) rendered at size 8: exactly that crop.
    crop, _ = views.render(img, valid, _geom([[4, 2, 8, 8], [0, 8, 8, 8]], size=8))
    np.testing.assert_allclose(crop[0], img[0, 4:12, 2:10], atol=1e-6)
    np.testing.assert_allclose(crop[1], img[1, 0:8, 8:16], atol=1e-6)
    flipped, _ = views.render(img, valid, _geom([[0, 0, 16, 16]] * 2, hflip=[True, False], vflip=[False, True]))
    np.testing.assert_allclose(flipped[0], img[0, :, ::-1], atol=1e-6)
    np.testing.assert_allclose(flipped[1], img[1, ::-1, :], atol=1e-6)


def test_render_marks_padding_invalid():
    img = np.zeros((1, 16, 16, 1), np.float32)
    valid = np.ones((1, 16, 16), bool)
    valid[:, :, 8:] = False  # right half is crop padding
    _, view_valid = views.render(img, valid, _geom([[0, 4, 8, 8]], size=8))
    np.testing.assert_array_equal(np.asarray(view_valid[0]), np.tile(np.arange(8) < 4, (8, 1)))


def test_grid_centres_map_back_to_source_pixels():
    # A 4×4 grid over a 16-pixel view of the box (2, 4, 16, 16): cell centres at 1.5 + 4k, shifted.
    src = views.grid_to_source(_geom([[2, 4, 16, 16]]), (4, 4))
    centres = 1.5 + 4 * np.arange(4)
    np.testing.assert_allclose(src[0, :, 0], np.repeat(centres + 2, 4))
    np.testing.assert_allclose(src[0, :, 1], np.tile(centres + 4, 4))
    flipped = views.grid_to_source(_geom([[2, 4, 16, 16]], hflip=[True]), (4, 4))
    np.testing.assert_allclose(flipped[0, :, 1], np.tile(centres[::-1] + 4, 4))


def test_positive_pairs_on_a_known_shift():
    # View b is view a shifted right by one 4-pixel cell: b's cell (u, v) sits on a's cell (u, v + 1).
    geom_a = _geom([[0, 0, 16, 16]])
    geom_b = _geom([[0, 4, 16, 16]])
    pos = np.asarray(objectives.positive_pairs(geom_a, geom_b, (4, 4), (4, 4), radius=0.7))[0]
    expected = np.zeros((16, 16), bool)
    for u in range(4):
        for v in range(3):
            expected[u * 4 + v + 1, u * 4 + v] = True
    np.testing.assert_array_equal(pos, expected)
    # Horizontally flipped b: its cell (u, v) lies on a's cell (u, 4 - v), when that exists.
    pos_flip = np.asarray(objectives.positive_pairs(geom_a, _geom([[0, 4, 16, 16]], hflip=[True]),
                                                    (4, 4), (4, 4), radius=0.7))[0]
    expected_flip = np.zeros((16, 16), bool)
    for u in range(4):
        for v in range(1, 4):
            expected_flip[u * 4 + 4 - v, u * 4 + v] = True
    np.testing.assert_array_equal(pos_flip, expected_flip)


def test_pixpro_loss_averages_over_positive_pairs_of_each_image():
    e = jnp.eye(3)
    online = jnp.stack([e, e])  # [2 images, 3 cells, 3 dims]
    target = jnp.stack([e, -e])
    positives = jnp.stack([jnp.eye(3, dtype=bool), jnp.zeros((3, 3), bool)])
    # Image 0: identical cells -> 0; image 1 has no positives and is left out.
    assert float(objectives.pixpro_loss(online, target, positives)) == pytest.approx(0.0, abs=1e-6)
    # Image 0 pairs cell 0 with itself (cos 1) and with cell 1 (cos 0): mean of 0 and 2.
    pairs = jnp.zeros((2, 3, 3), bool).at[0, 0, 0].set(True).at[0, 0, 1].set(True).at[1, 2, 2].set(True)
    # Image 1 pairs opposite vectors: 4. Mean over the two images of (1, 4).
    assert float(objectives.pixpro_loss(online, target, pairs)) == pytest.approx(2.5, abs=1e-6)


def test_pixcontrast_loss_counts_other_cells_and_other_images_as_negatives():
    tau = 0.5
    e = jnp.eye(3)
    one = objectives.pixcontrast_loss(e[None], e[None], jnp.eye(3, dtype=bool)[None], jnp.ones((1, 3), bool), tau)
    # Each cell: its own copy (cos 1) against the two other, orthogonal cells (cos 0).
    assert float(one) == pytest.approx(-np.log(np.exp(2.0) / (np.exp(2.0) + 2.0)), abs=1e-5)
    # Two identical images: the other image's copy of the cell is a negative at cos 1 too.
    both = jnp.stack([e, e])
    two = objectives.pixcontrast_loss(both, both, jnp.stack([jnp.eye(3, dtype=bool)] * 2), jnp.ones((2, 3), bool), tau)
    assert float(two) == pytest.approx(-np.log(np.exp(2.0) / (2 * np.exp(2.0) + 4.0)), abs=1e-5)
    # Invalid target cells leave the denominator; cells without a positive leave the mean.
    pos = jnp.zeros((1, 3, 3), bool).at[0, 0, 0].set(True).at[0, 0, 1].set(True)
    masked = objectives.pixcontrast_loss(e[None], e[None], pos, jnp.array([[True, True, False]]), tau)
    assert float(masked) == pytest.approx(0.0, abs=1e-5)  # both keys left are positives
    grads = jax.grad(lambda x: objectives.pixcontrast_loss(x, e[None], pos, jnp.array([[True, True, False]]), tau))(
        e[None])
    assert np.isfinite(np.asarray(grads)).all()


def test_pixel_propagation_with_orthogonal_cells_and_identity_transform():
    x = jnp.asarray([[[1.0, 0.0], [0.0, 2.0], [0.6, 0.8]]])  # cell 2 is 0.6/0.8 of cells 0/1's directions
    identity = {"kernel": jnp.eye(2), "bias": jnp.zeros(2)}
    y = objectives.pixel_propagation(x, jnp.ones((1, 3), bool), identity, gamma=2.0)
    sim = np.array([[1.0, 0.0, 0.36], [0.0, 1.0, 0.64], [0.36, 0.64, 1.0]])
    np.testing.assert_allclose(y[0], sim @ np.asarray(x[0]), atol=1e-5)
    # An invalid cell contributes nothing.
    y_masked = objectives.pixel_propagation(x, jnp.asarray([[True, True, False]]), identity, gamma=2.0)
    np.testing.assert_allclose(y_masked[0], sim[:, :2] @ np.asarray(x[0, :2]), atol=1e-5)


def test_two_views_are_reproducible_and_differ():
    imgs = (np.arange(2 * 16 * 16) % 251).astype(np.uint8).reshape(2, 16, 16, 1)
    valid = np.ones((2, 16, 16), bool)
    vc = views.ViewConfig(size=8, scale=(0.3, 1.0), ratio=(0.75, 1.33), hflip=True, vflip=True,
                          jitter=(0.4, 0.4, 0.2, 0.1), p_jitter=0.8, p_grayscale=0.2, blur_prob=0.5,
                          blur_sigma=(0.1, 1.0))
    a, va, ga = views.two_views(jax.random.key(3), imgs, valid, vc)
    b, _, _ = views.two_views(jax.random.key(3), imgs, valid, vc)
    np.testing.assert_array_equal(a, b)
    assert a.shape == (2, 2, 8, 8, 1) and va.shape == (2, 2, 8, 8)
    assert float(jnp.abs(a[0] - a[1]).mean()) > 0.01
    assert float(a.min()) >= 0.0 and float(a.max()) <= 1.0
    assert bool((ga[0].box[:, 2] <= 16).all()) and bool((ga[0].box[:, 0] + ga[0].box[:, 2] <= 16 + 1e-4).all())


class _Ctx:
    class method_cfg:  # noqa: N801 (stands in for config.method)
        ema_momentum = 0.9


def test_ema_target_update_is_exact():
    params = {"encoder": {"w": jnp.full((2,), 1.0)}, "decoder": {"w": jnp.zeros(1)},
              layout.HEADS_KEY: {"projector": {"k": jnp.full((1,), 2.0)}, "predictor": {"k": jnp.ones(1)}}}
    extra = {"target": {"encoder": {"w": jnp.zeros(2)}, "projector": {"k": jnp.zeros(1)}}}
    state = TrainState(step=jnp.zeros((), jnp.int32), params=params, batch_stats={}, opt_state=(), extra=extra)
    state = layout.after_update(_Ctx, state)
    np.testing.assert_allclose(state.extra["target"]["encoder"]["w"], [0.1, 0.1], atol=1e-7)
    np.testing.assert_allclose(state.extra["target"]["projector"]["k"], [0.2], atol=1e-7)
    state = layout.after_update(_Ctx, state)
    np.testing.assert_allclose(state.extra["target"]["encoder"]["w"], [0.19, 0.19], atol=1e-7)
    assert set(state.extra["target"]) == {"encoder", "projector"}  # predictor never tracked
    # eval_models hands back the segmentation-shaped tree without heads.
    (seg_params, _), = layout.eval_models(state).values()
    assert set(seg_params) == {"encoder", "decoder"}


def test_probe_class_weights_and_ridge_recovers_a_linear_map():
    labels = [np.array([[0, 0, 0, 1], [0, 0, 0, 255]])]
    w = probe.class_weights_from_labels(labels, 3, power=0.5)
    # counts (6, 1, 0): weights ∝ (6^-0.5, 1, 0), rescaled so that Σ w·count = 7.
    raw = np.array([6 ** -0.5, 1.0, 0.0])
    np.testing.assert_allclose(w, raw * 7 / (raw @ [6, 1, 0]))
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(size=(50, 3)), np.ones((50, 1))], axis=1)
    true_w = rng.normal(size=(4, 2))
    solved = probe.solve_ridge(x.T @ x, x.T @ (x @ true_w), ridge=0.0)
    np.testing.assert_allclose(solved, true_w, atol=1e-8)


def test_pixpro_pools_fine_levels_to_the_grid_limit():
    from ssseg.methods.pretrain_pixpro import pool_to_grid

    x = jnp.arange(2 * 1 * 8 * 8 * 1, dtype=jnp.float32).reshape(2, 1, 8, 8, 1)
    assert pool_to_grid(x, 8) is x
    pooled = pool_to_grid(x, 3)  # 8 -> 4 -> 2 cells a side
    assert pooled.shape == (2, 1, 2, 2, 1)
    np.testing.assert_allclose(pooled[0, 0, 0, 0, 0], np.asarray(x[0, 0, :4, :4, 0]).mean())
