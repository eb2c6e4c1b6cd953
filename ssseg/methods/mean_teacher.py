"""Mean Teacher (Tarvainen & Valpola, NeurIPS 2017) for segmentation.

The EMA teacher (eval mode) sees the weak view; the student sees a strong
photometric view of it (colour jitter / grayscale / blur, ssseg.augment) in
the same train-mode forward as the labeled batch. Consistency is the MSE
between the two softmaxes, averaged over classes and valid pixels (PyTorch's
`mse_loss(reduction="mean")` as in SSL4MIS), weighted by
consistency_weight · exp(−5 (1 − t/rampup_steps)²) (the sigmoid ramp-up of
Laine & Aila 2017 used by Mean Teacher). loss = l_x + weight · consistency.

Defaults and sources: ema_momentum 0.99 with the true average for the first
steps, min(1 − 1/t, 0.99) (SSL4MIS train_mean_teacher_2D.py; U2PL's 0.99,
PEERS.md); consistency_weight 10 — SSL4MIS uses 0.1, Tarvainen et al. 100
(CIFAR-10) with the same normalisation, mmsegmentation's semi-supervised
configs sweep 10–100; 10 keeps the consistency term comparable to the CE
term at the start of training without swamping it on 6 classes;
rampup_steps 500 (a third of the CPU presets' 1500 steps; SSL4MIS ramps over
all of training, Tarvainen over the first ~5 epochs). cutmix_prob 0 (classic
Mean Teacher mixes nothing; >0 pastes the partner's teacher probabilities
into the same box). conf_thresh is for the diagnostics only (mask ratio):
Mean Teacher weights every pixel. teacher="self" gives the Π-model with a
stop-gradient target (an ablation).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import ml_collections

from ssseg.errors import ConfigError
from ssseg.methods import _pseudo, _teacher
from ssseg.methods.contract import Method


def defaults() -> ml_collections.ConfigDict:
    c = ml_collections.ConfigDict()
    _teacher.add_defaults(c, teacher="ema", ema_momentum=0.99)
    c.consistency_weight = 10.0
    c.rampup_steps = 500
    c.cutmix_prob = 0.0
    c.conf_thresh = _pseudo.CONF_THRESH  # diagnostics only
    return c


def init_extra(ctx, params, batch_stats, rng):
    del rng
    cfg = ctx.method_cfg
    if cfg.rampup_steps < 0 or cfg.consistency_weight < 0:
        raise ConfigError(f"config.method.rampup_steps={cfg.rampup_steps!r}, consistency_weight="
                          f"{cfg.consistency_weight!r}: expected non-negative values")
    return _teacher.init_teacher(cfg, params, batch_stats)


def sigmoid_rampup(step, rampup_steps):
    """exp(−5 (1 − clip(step / rampup_steps, 0, 1))²); 1 when there is no ramp-up."""
    if rampup_steps <= 0:
        return jnp.float32(1.0)
    phase = 1.0 - jnp.clip(jnp.asarray(step, jnp.float32) / rampup_steps, 0.0, 1.0)
    return jnp.exp(-5.0 * phase * phase)


def softmax_mse(student_logits_bhwk, teacher_probs_bhwk, valid_bhw):
    """Mean over valid pixels and classes of (softmax(student) − teacher)²."""
    diff = jax.nn.softmax(student_logits_bhwk.astype(jnp.float32), axis=-1) - teacher_probs_bhwk
    valid = valid_bhw.astype(jnp.float32)[..., None]
    count = jnp.maximum(jnp.sum(valid) * diff.shape[-1], 1.0)
    return jnp.sum(diff * diff * valid) / count


def loss(ctx, params, state, batch, rng):
    cfg = ctx.method_cfg
    labeled, unlabeled = batch["labeled"], batch["unlabeled"]
    x, u_w = ctx.normalize(labeled["image"]), ctx.normalize(unlabeled["image"])
    valid = unlabeled["valid"]
    num_x = x.shape[0]

    student_weak = None
    batch_stats = state.batch_stats
    if cfg.teacher == "self":
        student_weak, batch_stats = ctx.apply(params, batch_stats, u_w, train=True)
    probs_t = jax.nn.softmax(_teacher.weak_logits(ctx, state, u_w, student_weak).astype(jnp.float32), axis=-1)

    strong, (probs_t_mixed, valid_mixed), _ = _pseudo.strong_view(
        ctx, rng, unlabeled["image"], (probs_t, valid), cutmix_prob=cfg.cutmix_prob)
    logits, batch_stats = ctx.apply(params, batch_stats, jnp.concatenate([x, strong]), train=True)

    loss_x = ctx.labeled_loss(logits[:num_x], labeled["label"])
    consistency = softmax_mse(logits[num_x:], probs_t_mixed, valid_mixed)
    weight = cfg.consistency_weight * sigmoid_rampup(state.step, cfg.rampup_steps)
    total = loss_x + weight * consistency

    confident = jnp.max(probs_t, axis=-1) >= cfg.conf_thresh
    metrics = {"loss_x": loss_x, "consistency": consistency, "consistency_weight": weight}
    metrics.update(_pseudo.diagnostics(probs_t, confident, valid, unlabeled.get("label")))
    return total, {"batch_stats": batch_stats, "metrics": metrics}


METHOD = Method(
    name='mean_teacher',
    defaults=defaults,
    loss=loss,
    uses_unlabeled=True,
    init_extra=init_extra,
    after_update=_teacher.after_update,
    eval_models=_teacher.eval_models,
)
