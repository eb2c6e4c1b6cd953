"""Cross Pseudo Supervision (Chen et al., CVPR 2021): two networks teach each other.

Two students with the same architecture but different initialisations
(`init_params`: network "b" is built with seed+1; with an ImageNet backbone
both encoders start from it and the heads differ, as in TorchSemiSeg). Each
is trained on the labeled batch and on the other's hard pseudo-labels
(argmax, no threshold: conf_thresh 0) on a CutMix image: both networks
predict the unmixed weak view (stop-gradient), the predictions are pasted
with the same box as the images, and each network's prediction on the mixed
image is supervised by the other's. loss = l_x(a) + l_x(b) +
cps_weight · (CE(a, ŷ_b) + CE(b, ŷ_a)).

Defaults (TorchSemiSeg, CPS+CutMix on VOC; PEERS.md): cps_weight 1.5,
CutMix on every pair (cutmix_prob 1.0), no photometric perturbation
(`photometric` False). Departures: the CutMix box is UniMatch's (one box,
area U[0.02, 0.4]) rather than TorchSemiSeg's three boxes of 25–50%, and the
partner is the batch rolled by one rather than a second unlabeled batch —
the same shared ssseg.augment code as the other methods.

params / batch_stats are {"a": ..., "b": ...}; with teacher="ema" the
teacher holds an EMA of both, and teacher(a) labels b's targets and vice
versa. class_adaptive keeps one set of class confidences fed by both
networks. Evaluation reports network a first (and a's diagnostics are
logged), then b; with a teacher, teacher a and b come first.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import ml_collections

from ssseg.methods import _pseudo, _teacher
from ssseg.methods.contract import Method
from ssseg.models import functional as model_fns
from ssseg.models.factory import build_model

NETWORKS = ("a", "b")


def defaults() -> ml_collections.ConfigDict:
    c = ml_collections.ConfigDict()
    _pseudo.add_defaults(c, conf_thresh=0.0)
    c.cps_weight = 1.5
    c.cutmix_prob = 1.0
    c.photometric = False
    return c


def init_params(cfg, spec, params, batch_stats):
    """{"a": the run's network, "b": the same architecture initialised from seed + 1}."""
    model_b = build_model(cfg.model, len(spec.class_names), spec.channels, seed=cfg.seed + 1)
    _, params_b, batch_stats_b = model_fns.split_model(model_b)
    return {"a": params, "b": params_b}, {"a": batch_stats, "b": batch_stats_b}


def head_mask(params):
    return {name: model_fns.head_mask(params[name]) for name in NETWORKS}


def eval_models(state) -> dict:
    models = {}
    if "teacher" in state.extra:
        teacher = state.extra["teacher"]
        for name in NETWORKS:
            models[f"teacher_{name}"] = (teacher["params"][name], teacher["batch_stats"][name])
    for name in NETWORKS:
        models[name] = (state.params[name], state.batch_stats[name])
    return models


def loss(ctx, params, state, batch, rng):
    cfg = ctx.method_cfg
    labeled, unlabeled = batch["labeled"], batch["unlabeled"]
    x, u_w = ctx.normalize(labeled["image"]), ctx.normalize(unlabeled["image"])
    valid = unlabeled["valid"]
    num_x, num_u = x.shape[0], u_w.shape[0]

    batch_stats, loss_x, probs_w = dict(state.batch_stats), {}, {}
    for name in NETWORKS:
        if cfg.teacher == "self":
            logits, batch_stats[name] = ctx.apply(params[name], batch_stats[name], jnp.concatenate([x, u_w]),
                                                  train=True)
            student_weak = logits[num_x:]
        else:
            logits, batch_stats[name] = ctx.apply(params[name], batch_stats[name], x, train=True)
            student_weak = None
        loss_x[name] = ctx.labeled_loss(logits[:num_x], labeled["label"])
        weak = _teacher.weak_logits(ctx, state, u_w, student_weak, part=name)
        probs_w[name] = jax.nn.softmax(weak.astype(jnp.float32), axis=-1)

    # One call for both networks, so class-adaptive confidences and alignment see both.
    probs_ab, extra = _pseudo.align(ctx, state.extra, jnp.concatenate([probs_w["a"], probs_w["b"]]),
                                    jnp.concatenate([valid, valid]))
    probs_w = {"a": probs_ab[:num_u], "b": probs_ab[num_u:]}
    labels, _, confident, thresholds, extra = _pseudo.pseudo_labels(cfg, extra, probs_ab, jnp.concatenate([valid, valid]))
    labels_a, labels_b = labels[:num_u], labels[num_u:]
    confident_a, confident_b = confident[:num_u], confident[num_u:]

    pasted, (labels_a, labels_b), (confident_a, confident_b, valid_p), paste_ratio = _pseudo.paste_labeled(
        ctx, rng, unlabeled["image"], labeled, (labels_a, labels_b), (confident_a, confident_b, valid))
    mixed, (labels_a, confident_a, labels_b, confident_b, valid_m), _ = _pseudo.strong_view(
        ctx, rng, pasted, (labels_a, confident_a, labels_b, confident_b, valid_p),
        cutmix_prob=cfg.cutmix_prob, photometric_on=cfg.photometric)
    logits_a, batch_stats["a"] = ctx.apply(params["a"], batch_stats["a"], mixed, train=True)
    logits_b, batch_stats["b"] = ctx.apply(params["b"], batch_stats["b"], mixed, train=True)
    class_weights = _pseudo.pseudo_class_weights(ctx)
    cps_a = _pseudo.unlabeled_loss(cfg, logits_a, labels_b, confident_b, valid_m, class_weights=class_weights)  # a learns from b
    cps_b = _pseudo.unlabeled_loss(cfg, logits_b, labels_a, confident_a, valid_m, class_weights=class_weights)
    total = loss_x["a"] + loss_x["b"] + cfg.cps_weight * (cps_a + cps_b)

    agree = (jnp.argmax(probs_w["a"], -1) == jnp.argmax(probs_w["b"], -1)) & valid
    metrics = {
        "loss_x": loss_x["a"],
        "loss_x_b": loss_x["b"],
        "loss_cps": cps_a + cps_b,
        "ab_agreement": jnp.sum(agree) / jnp.maximum(jnp.sum(valid), 1),
    }
    if paste_ratio is not None:
        metrics["paste_ratio"] = paste_ratio
    metrics.update(_pseudo.diagnostics(probs_w["a"], confident[:num_u], valid, unlabeled.get("label"),
                                       thresholds if cfg.class_adaptive else None))
    return total, {"batch_stats": batch_stats, "metrics": metrics, "extra": extra}


METHOD = Method(
    name='cps',
    defaults=defaults,
    loss=loss,
    uses_unlabeled=True,
    init_params=init_params,
    init_extra=_pseudo.init_extra,
    after_update=_pseudo.after_update,
    head_mask=head_mask,
    eval_models=eval_models,
)
