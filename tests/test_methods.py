"""Semi-supervised methods: exact values of every loss piece, hooks, and a traced step per method.

Adding a method = its module in ssseg/methods/ (METHOD = Method(...)) + one row in ALL_METHODS.
Real steps (compiled) are in tests/test_methods_train.py.
"""

import functools
import types

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import fabricated_labeled_batch

import ssseg.config.schema
from ssseg.errors import ConfigError
from ssseg.methods import _pseudo, _teacher, mean_teacher, unimatch
from ssseg.methods.contract import available, get_method
from ssseg.train.state import TrainState

ALL_METHODS = ["supervised", "mean_teacher", "fixmatch", "unimatch", "cps"]
LN2 = float(np.log(2.0))


def fabricated_unlabeled_batch(cfg, num_classes: int) -> dict:
    """A fixed unlabeled batch: uint8 images, crop padding (valid False) on the last rows, hidden truth."""
    batch = fabricated_labeled_batch(cfg, num_classes, seed=1)
    valid = np.ones(batch["label"].shape, bool)
    valid[:, -3:, :] = False
    return {"image": batch["image"], "valid": valid, "label": np.where(valid, batch["label"], 255).astype(np.int32)}


def method_config(name: str, *overrides: str):
    from ssseg.config.loader import load_config

    # A longer schedule than smoke's 4 steps keeps the learning rate up in short runs.
    return load_config(f"experiments/synthetic_defects.py:method={name},smoke",
                       ["--config.train.steps=100", *overrides])


def test_every_method_module_is_listed():
    """Every segmentation-training method (pretraining methods, pretrain=True, are tested by their owner)."""
    trained = {n for n in available() if not get_method(n).pretrain}
    assert trained == set(ALL_METHODS)


# --- exact values on tiny fixed inputs ---------------------------------------------------------

def test_unlabeled_ce_is_summed_over_confident_pixels_and_divided_by_valid_pixels():
    logits = jnp.zeros((1, 2, 2, 2))  # CE = ln 2 at every pixel
    labels = jnp.array([[[0, 1], [1, 0]]])
    confident = jnp.array([[[True, True], [False, True]]])
    valid = jnp.array([[[True, True], [True, False]]])
    # used pixels: (0,0), (0,1); valid pixels: 3 (UniMatch), not 2 (the confident ones).
    assert float(_pseudo.masked_ce_over_valid(logits, labels, confident, valid)) == pytest.approx(2 * LN2 / 3)


def test_unlabeled_dice_covers_confident_valid_pixels_only():
    cfg = types.SimpleNamespace(unlabeled_loss="dice")
    logits = jnp.zeros((1, 2, 2, 2))  # p = 0.5 for both classes everywhere
    labels = jnp.array([[[0, 1], [1, 0]]])
    confident = jnp.array([[[True, True], [False, True]]])
    valid = jnp.array([[[True, True], [True, False]]])
    # Used pixels (0,0) -> 0 and (0,1) -> 1: per class Dice = (2·0.5 + 1) / (1 + 1 + 1) = 2/3.
    assert float(_pseudo.unlabeled_loss(cfg, logits, labels, confident, valid)) == pytest.approx(1 / 3)
    # The unconfident and the padding pixel do not matter.
    other = logits.at[0, 1, :, 0].set(5.0)
    assert float(_pseudo.unlabeled_loss(cfg, other, labels, confident, valid)) == pytest.approx(1 / 3)
    ce = types.SimpleNamespace(unlabeled_loss="ce")
    assert float(_pseudo.unlabeled_loss(ce, logits, labels, confident, valid)) == pytest.approx(2 * LN2 / 3)


def test_unknown_unlabeled_loss_is_a_config_error():
    cfg = ssseg.config.schema.method_defaults("fixmatch")
    cfg.unlabeled_loss = "mse"
    with pytest.raises(ConfigError, match=r"config.method.unlabeled_loss='mse': expected one of ce, dice"):
        _pseudo.check(cfg)


def test_class_weighted_unlabeled_ce_scales_pixels_by_pseudo_class_and_keeps_valid_count():
    logits = jnp.zeros((1, 2, 2, 2))  # CE = ln 2 at every pixel
    labels = jnp.array([[[0, 1], [1, 0]]])
    confident = jnp.array([[[True, True], [False, True]]])
    valid = jnp.array([[[True, True], [True, False]]])
    weights = jnp.array([0.5, 2.0])
    # used pixels: (0,0) class 0 and (0,1) class 1 -> (0.5 + 2) ln 2 over 3 valid pixels.
    got = _pseudo.masked_ce_over_valid(logits, labels, confident, valid, weights)
    assert float(got) == pytest.approx(2.5 * LN2 / 3)
    cfg = types.SimpleNamespace(unlabeled_loss="ce")
    assert float(_pseudo.unlabeled_loss(cfg, logits, labels, confident, valid, class_weights=weights)) == \
        pytest.approx(2.5 * LN2 / 3)


def test_pseudo_class_weights_follow_the_labeled_budget_frequencies():
    def ctx(power, counts=(900, 100)):
        return types.SimpleNamespace(method_cfg=types.SimpleNamespace(class_weight_power=power), class_counts=counts)

    assert _pseudo.pseudo_class_weights(ctx(0.0)) is None  # off by default (UniMatch)
    # freq^-0.5 = (0.9^-0.5, 0.1^-0.5) = (1.054, 3.162), mean 1 over classes.
    np.testing.assert_allclose(_pseudo.pseudo_class_weights(ctx(0.5)), [0.5, 1.5], rtol=1e-5)
    with pytest.raises(ConfigError, match="class_weight_power > 0 needs the labeled budget's class counts"):
        _pseudo.pseudo_class_weights(ctx(0.5, counts=None))
    cfg = ssseg.config.schema.method_defaults("fixmatch")
    cfg.class_weight_power = -1.0
    with pytest.raises(ConfigError, match=r"config.method.class_weight_power=-1.0: expected a value >= 0"):
        _pseudo.check(cfg)


def test_fixed_threshold_masks_pixels_below_conf_thresh():
    cfg = types.SimpleNamespace(conf_thresh=0.95, class_adaptive=False, background_thresh=None)
    probs = jnp.array([[[[0.96, 0.04], [0.06, 0.94], [0.05, 0.95]]]])
    labels, conf, confident, thresholds, extra = _pseudo.pseudo_labels(cfg, {}, probs, jnp.ones((1, 1, 3), bool))
    np.testing.assert_array_equal(labels, [[[0, 1, 1]]])
    np.testing.assert_array_equal(confident, [[[True, False, True]]])  # ≥, as the official code
    np.testing.assert_allclose(thresholds, [0.95, 0.95])
    assert extra == {}


def test_background_threshold_is_a_stricter_bar_for_class_0_only():
    cfg = types.SimpleNamespace(conf_thresh=0.95, class_adaptive=False, background_thresh=0.99)
    probs = jnp.array([[[[0.98, 0.02], [0.995, 0.005], [0.04, 0.96]]]])
    _, _, confident, thresholds, _ = _pseudo.pseudo_labels(cfg, {}, probs, jnp.ones((1, 1, 3), bool))
    np.testing.assert_array_equal(confident, [[[False, True, True]]])
    np.testing.assert_allclose(thresholds, [0.99, 0.95])
    # On top of class-adaptive thresholds too: class 0's becomes background_thresh, the others adapt.
    adaptive = types.SimpleNamespace(conf_thresh=0.95, class_adaptive=True, class_conf_momentum=0.0,
                                     background_thresh=0.99)
    _, _, _, thresholds, _ = _pseudo.pseudo_labels(adaptive, {"class_conf": jnp.array([0.5, 0.5])}, probs,
                                                   jnp.ones((1, 1, 3), bool))
    np.testing.assert_allclose(thresholds, [0.99, 0.95 * 0.96 / (0.9875)], rtol=1e-5)
    bad = ssseg.config.schema.method_defaults("fixmatch")
    assert bad.background_thresh is None
    bad.background_thresh = 1.5
    with pytest.raises(ConfigError, match=r"config.method.background_thresh=1.5: expected a value in \[0, 1\]"):
        _pseudo.check(bad)


def test_class_adaptive_thresholds_follow_each_class_running_confidence():
    cfg = types.SimpleNamespace(conf_thresh=0.95, class_adaptive=True, class_conf_momentum=0.9, background_thresh=None)
    # Class 0 predicted at confidences 0.8 and 0.6 (mean 0.7); class 1 only on a padding pixel.
    probs = jnp.array([[[[0.8, 0.2], [0.6, 0.4], [0.1, 0.9]]]])
    valid = jnp.array([[[True, True, False]]])
    extra = {"class_conf": jnp.array([0.5, 0.5])}
    _, _, confident, thresholds, new = _pseudo.pseudo_labels(cfg, extra, probs, valid)
    np.testing.assert_allclose(new["class_conf"], [0.9 * 0.5 + 0.1 * 0.7, 0.5], rtol=1e-6)
    np.testing.assert_allclose(thresholds, [0.95, 0.95 * 0.5 / 0.52], rtol=1e-6)
    np.testing.assert_array_equal(confident, [[[False, False, False]]])
    # A class the model is less sure of passes below 0.95.
    probs2 = jnp.array([[[[0.05, 0.95]]], [[[0.1, 0.9]]]])
    _, _, confident2, _, _ = _pseudo.pseudo_labels(cfg, {"class_conf": jnp.array([0.99, 0.5])}, probs2,
                                                   jnp.ones((2, 1, 1), bool))
    np.testing.assert_array_equal(confident2[:, 0, 0], [True, True])


def test_diagnostics_against_hidden_truth():
    probs = jnp.array([[[[0.97, 0.03], [0.2, 0.8], [0.01, 0.99], [0.6, 0.4]]]])
    confident = jnp.array([[[True, False, True, False]]])
    valid = jnp.array([[[True, True, True, False]]])
    truth = jnp.array([[[0, 1, 0, 1]]])
    m = _pseudo.diagnostics(probs, confident, valid, truth)
    assert float(m["mask_ratio"]) == pytest.approx(2 / 3)
    np.testing.assert_array_equal(m["pseudo_counts"], [1, 1])
    np.testing.assert_array_equal(m["pseudo_correct"], [1, 0])
    assert float(m["pseudo_acc"]) == pytest.approx(1 / 2)  # confident: (0 vs 0) right, (1 vs 0) wrong
    assert float(m["pseudo_acc_all"]) == pytest.approx(2 / 3)
    # class 0: inter 1, union 2; class 1: inter 1, union 2 (the padding pixel counts nowhere)
    np.testing.assert_array_equal(m["pseudo_inter"], [1, 1])
    np.testing.assert_array_equal(m["pseudo_union"], [2, 2])
    assert float(m["pseudo_miou"]) == pytest.approx(0.5)
    # Truth 0 at two valid pixels, one of them confidently taught as 1; truth 1's pixel is unconfident.
    np.testing.assert_array_equal(m["truth_counts"], [2, 1])
    np.testing.assert_array_equal(m["taught_wrong"], [1, 0])
    three = _pseudo.diagnostics(jnp.pad(probs, ((0, 0), (0, 0), (0, 0), (0, 1))), confident, valid, truth)
    assert float(three["pseudo_miou"]) == pytest.approx(0.5)  # a class absent from truth and prediction is skipped
    m_none = _pseudo.diagnostics(probs, confident, valid, jnp.full((1, 1, 4), 255))
    assert np.isnan(float(m_none["pseudo_acc"])) and np.isnan(float(m_none["pseudo_miou"]))


def test_ema_momentum_schedule_and_update():
    assert float(_teacher.ema_momentum_at(1, 0.996)) == 0.0  # the first update copies the student
    assert float(_teacher.ema_momentum_at(100, 0.996)) == pytest.approx(0.99)
    assert float(_teacher.ema_momentum_at(10_000, 0.996)) == pytest.approx(0.996)
    cfg = types.SimpleNamespace(teacher="ema", ema_momentum=0.9)
    student = {"w": jnp.array([1.0, 2.0])}
    stats = {"mean": jnp.array([4.0])}
    extra = _teacher.init_teacher(cfg, {"w": jnp.array([0.0, 0.0])}, {"mean": jnp.array([0.0])})
    state = TrainState(step=jnp.array(50), params=student, batch_stats=stats, opt_state=(), extra=extra)
    out = _teacher.after_update(types.SimpleNamespace(method_cfg=cfg), state)
    np.testing.assert_allclose(out.extra["teacher"]["params"]["w"], [0.1, 0.2], rtol=1e-6)  # min(0.98, 0.9)
    np.testing.assert_allclose(out.extra["teacher"]["batch_stats"]["mean"], [0.4], rtol=1e-6)
    first = _teacher.after_update(types.SimpleNamespace(method_cfg=cfg), state.replace(step=jnp.array(1)))
    np.testing.assert_allclose(first.extra["teacher"]["params"]["w"], [1.0, 2.0])
    assert list(_teacher.eval_models(out)) == ["teacher", "student"]
    assert list(_teacher.eval_models(state.replace(extra={}))) == ["student"]
    assert _teacher.init_teacher(types.SimpleNamespace(teacher="self", ema_momentum=0.9), student, stats) == {}


def test_unimatch_loss_weights():
    # (l_x + 0.25 l_s1 + 0.25 l_s2 + 0.5 l_fp) / 2
    assert unimatch.combine_losses(1.0, [2.0, 4.0], 8.0) == pytest.approx((1 + 0.5 + 1 + 4) / 2)
    assert unimatch.combine_losses(1.0, [2.0], 8.0) == pytest.approx((1 + 1 + 4) / 2)  # dual_strong off
    assert unimatch.combine_losses(1.0, [2.0, 4.0]) == pytest.approx((1 + 3) / 2)  # feature_perturb off
    assert unimatch.combine_losses(1.0, [2.0]) == pytest.approx(1.5)  # = FixMatch's (l_x + l_s) / 2


def test_channel_dropout_zeroes_whole_channels_and_rescales_the_rest():
    features = jnp.ones((4, 3, 3, 64))
    out = np.asarray(unimatch.channel_dropout(jax.random.key(0), features, 0.5))
    per_channel = out[:, 0, 0, :]
    assert set(np.unique(out)) == {0.0, 2.0}
    np.testing.assert_array_equal(out, np.broadcast_to(per_channel[:, None, None, :], out.shape))
    assert 0.3 < (per_channel == 0).mean() < 0.7


def test_mean_teacher_consistency_and_rampup():
    assert float(mean_teacher.sigmoid_rampup(0, 100)) == pytest.approx(np.exp(-5.0))
    assert float(mean_teacher.sigmoid_rampup(50, 100)) == pytest.approx(np.exp(-1.25))
    assert float(mean_teacher.sigmoid_rampup(200, 100)) == 1.0
    assert float(mean_teacher.sigmoid_rampup(3, 0)) == 1.0
    student = jnp.zeros((1, 1, 2, 2))  # softmax (0.5, 0.5)
    teacher = jnp.array([[[[1.0, 0.0], [0.5, 0.5]]]])
    valid = jnp.array([[[True, False]]])
    assert float(mean_teacher.softmax_mse(student, teacher, valid)) == pytest.approx(0.25)


def test_strong_view_pastes_targets_with_the_image_box():
    ctx = types.SimpleNamespace(standardize=lambda x: x)
    images = np.stack([np.full((8, 8, 1), v, np.uint8) for v in (0, 255)])
    labels = np.stack([np.zeros((8, 8), np.int32), np.ones((8, 8), np.int32)])
    valid = np.stack([np.ones((8, 8), bool), np.zeros((8, 8), bool)])
    view, (m_labels, m_valid), box = _pseudo.strong_view(ctx, jax.random.key(2), images, (labels, valid),
                                                         cutmix_prob=1.0, photometric_on=False)
    box = np.asarray(box)
    assert box[0].any() and box[1].any()
    np.testing.assert_array_equal(m_labels, np.where(box, labels[::-1], labels))
    np.testing.assert_array_equal(m_valid, np.where(box, valid[::-1], valid))
    np.testing.assert_array_equal(np.asarray(view)[..., 0], np.asarray(m_labels, np.float32))  # pixels move with labels


def test_labeled_copy_paste_sets_true_labels_and_flags_where_pasted():
    cfg = types.SimpleNamespace(copy_paste_prob=1.0)
    ctx = types.SimpleNamespace(method_cfg=cfg, class_counts=(90, 5, 5))  # class 0 dominant
    np.testing.assert_array_equal(_pseudo.paste_classes(ctx), [False, True, True])
    truth = np.zeros((1, 4, 4), np.int32)
    truth[0, 0, :2] = 2
    labeled = {"image": np.full((1, 4, 4, 1), 200, np.uint8), "label": truth}
    images = np.zeros((2, 4, 4, 1), np.uint8)
    pseudo = np.ones((2, 4, 4), np.int32)
    confident = np.zeros((2, 4, 4), bool)
    valid = np.ones((2, 4, 4), bool)
    valid[:, 0, 0] = False  # crop padding under a pasted pixel becomes valid: it holds labeled content
    out, (labels,), (conf, val), ratio = _pseudo.paste_labeled(ctx, jax.random.key(0), images, labeled,
                                                              (pseudo,), (confident, valid))
    where = np.broadcast_to(truth == 2, (2, 4, 4))
    np.testing.assert_array_equal(np.asarray(out)[..., 0], np.where(where, 200, 0))
    np.testing.assert_array_equal(labels, np.where(where, 2, 1))
    np.testing.assert_array_equal(conf, where)
    np.testing.assert_array_equal(val, valid | where)
    assert float(ratio) == pytest.approx(2 / 16)
    cfg.copy_paste_prob = 0.0
    same = _pseudo.paste_labeled(ctx, jax.random.key(0), images, labeled, (pseudo,), (confident, valid))
    assert same[0] is images and same[1][0] is pseudo and same[3] is None


# --- every method: hooks and one traced step (no compile) --------------------------------------

@pytest.fixture(scope="module")
def traced():
    """{method: (run, state_out, metrics)} from jax.eval_shape of one train step."""
    from ssseg.data.registry import get_spec
    from ssseg.train.setup import build_run
    from ssseg.train.step import train_step

    out = {}

    def get(name, *overrides):
        key = (name, overrides)
        if key not in out:
            cfg = method_config(name, *overrides)
            counts = np.arange(1, 10)[::-1] * 100  # labeled pixels per class; class 0 dominant
            run = build_run(cfg, class_counts=counts[:len(get_spec(cfg.data.name, cfg.data.manual_dir or None).class_names)])
            num_classes = len(run.spec.class_names)
            batch = {"labeled": fabricated_labeled_batch(run.cfg, num_classes)}
            if run.ctx.method.uses_unlabeled:
                batch["unlabeled"] = fabricated_unlabeled_batch(run.cfg, num_classes)
            step = functools.partial(train_step, ctx=run.ctx)
            state_out, metrics = jax.eval_shape(step, run.state, batch, jax.random.key(0))
            out[key] = (run, state_out, metrics)
        return out[key]

    return get


@pytest.mark.parametrize("name", ALL_METHODS)
def test_step_keeps_the_state_structure_and_reports_diagnostics(traced, name):
    run, state_out, metrics = traced(name)
    assert jax.tree.structure(state_out) == jax.tree.structure(run.state)
    assert metrics["loss"].shape == ()
    if run.ctx.method.uses_unlabeled:
        num_classes = len(run.spec.class_names)
        for key in ("mask_ratio", "pseudo_acc", "pseudo_acc_all", "pseudo_miou"):
            assert metrics[key].shape == (), key
        assert metrics["pseudo_counts"].shape == (num_classes,)
        assert metrics["pseudo_inter"].shape == metrics["pseudo_union"].shape == (num_classes,)


@pytest.mark.parametrize("name,overrides", [
    ("unimatch", ("--config.method.teacher=ema", "--config.method.class_adaptive=true")),
    ("unimatch", ("--config.method.dual_strong=false", "--config.method.feature_perturb=false",
                  "--config.method.cutmix_prob=0")),
    ("fixmatch", ("--config.method.teacher=ema", "--config.method.copy_paste_prob=0.5")),
    ("cps", ("--config.method.teacher=ema", "--config.method.class_adaptive=true",
             "--config.method.copy_paste_prob=1.0")),
])
def test_switches_trace(traced, name, overrides):
    run, state_out, metrics = traced(name, *overrides)
    assert jax.tree.structure(state_out) == jax.tree.structure(run.state)
    cfg = run.cfg.method
    assert ("teacher" in run.state.extra) == (cfg.teacher == "ema")
    if cfg.class_adaptive:
        assert metrics["thresholds"].shape == (len(run.spec.class_names),)
        np.testing.assert_allclose(run.state.extra["class_conf"], 1 / len(run.spec.class_names))
    assert ("paste_ratio" in metrics) == (cfg.copy_paste_prob > 0)


def test_supervised_copy_paste_traces_and_reports_its_ratio(traced):
    run, state_out, metrics = traced("supervised", "--config.method.copy_paste_prob=0.5")
    assert jax.tree.structure(state_out) == jax.tree.structure(run.state)
    assert metrics["paste_ratio"].shape == ()
    assert "paste_ratio" not in traced("supervised")[2]


def test_cps_networks_differ_and_are_evaluated_separately(traced):
    run, _, _ = traced("cps")
    params = run.state.params
    assert set(params) == {"a", "b"}
    pairs = list(zip(jax.tree.leaves(params["a"]), jax.tree.leaves(params["b"])))
    assert all(a.shape == b.shape for a, b in pairs)
    assert any(not np.array_equal(a, b) for a, b in pairs)  # differently initialised
    assert list(run.ctx.method.eval_models(run.state)) == ["a", "b"]
    mask = run.ctx.method.head_mask(params)
    assert jax.tree.structure(mask) == jax.tree.structure(params)
    ema_run, _, _ = traced("cps", "--config.method.teacher=ema", "--config.method.class_adaptive=true")
    assert list(ema_run.ctx.method.eval_models(ema_run.state)) == ["teacher_a", "teacher_b", "a", "b"]


def test_bad_method_keys_are_one_line_errors():
    from ssseg.errors import ConfigError
    from ssseg.train.setup import build_run

    with pytest.raises(ConfigError, match="config.method.teacher='mean'"):
        build_run(method_config("fixmatch", "--config.method.teacher=mean"))
    with pytest.raises(ConfigError, match="conf_thresh"):
        build_run(method_config("unimatch", "--config.method.conf_thresh=1.5"))
    with pytest.raises(ConfigError, match="config.method.copy_paste_prob=2.0"):
        build_run(method_config("fixmatch", "--config.method.copy_paste_prob=2.0"))


def test_distribution_alignment_scales_by_target_over_running_marginal():
    def ctx(**cfg):  # labeled counts (9, 9) -> target (0.5, 0.5) after +1 smoothing
        return types.SimpleNamespace(method_cfg=types.SimpleNamespace(**cfg), class_counts=(9, 9))

    probs = jnp.array([[[[0.9, 0.1], [0.7, 0.3]]]])  # batch mean (0.8, 0.2)
    valid = jnp.ones((1, 1, 2), bool)
    extra = {"da_running": jnp.array([0.6, 0.4])}
    # momentum 0.5: running = 0.5·(0.6, 0.4) + 0.5·(0.8, 0.2) = (0.7, 0.3).
    _, new = _pseudo.align(ctx(distribution_alignment=True, da_momentum=0.5), extra, probs, valid)
    np.testing.assert_allclose(new["da_running"], [0.7, 0.3], rtol=1e-6)
    # momentum 0: running = (0.8, 0.2), ratio target/running = (0.625, 2.5).
    aligned, _ = _pseudo.align(ctx(distribution_alignment=True, da_momentum=0.0), extra, probs, valid)
    np.testing.assert_allclose(aligned[0, 0, 0], [0.5625 / 0.8125, 0.25 / 0.8125], rtol=1e-5)
    np.testing.assert_allclose(aligned[0, 0, 1], [0.4375 / 1.1875, 0.75 / 1.1875], rtol=1e-5)
    # The under-predicted class wins the pixel it lost before alignment.
    assert int(jnp.argmax(probs[0, 0, 1])) == 0 and int(jnp.argmax(aligned[0, 0, 1])) == 1
    same, _ = _pseudo.align(ctx(distribution_alignment=False), {}, probs, valid)
    assert same is probs
