"""UniMatch (Yang et al., CVPR 2023): two strong views plus a feature-perturbed weak view.

Faithful to the official code (LiheYoung/UniMatch, unimatch.py; PEERS.md):
- the student's train-mode forward on [labeled; weak] decodes the clean
  features and, for the weak part, a copy with channel dropout p=0.5 on every
  encoder feature (DeepLabV3+: low- and high-level), via ctx.encode/decode;
- two strong views, each with its own colour jitter/grayscale/blur draw and
  its own CutMix box (p=0.5), forwarded together;
- pseudo-labels: argmax of the weak view where confidence ≥ conf_thresh
  (0.95); every unlabeled loss is summed over confident valid pixels and
  divided by the number of valid (non-padding) pixels;
- loss = (l_x + 0.25·l_s1 + 0.25·l_s2 + 0.5·l_fp) / 2.

Ablation switches (config.method): `dual_strong` (False: one strong view
with weight 0.5, the same total), `feature_perturb` (False: no FP stream; the
strong views then carry the whole unlabeled weight 1.0, so with both off this
is FixMatch with CutMix), `cutmix_prob` (0 disables CutMix),
`class_adaptive` (per-class thresholds, _pseudo.py), `teacher`
("self" as UniMatch V1, "ema" as V2's EMA teacher, _teacher.py).

Departure: the CutMix partner is the batch rolled by one (UniMatch V2 uses
the flipped batch) instead of a second unlabeled loader in eval mode, so its
pseudo-labels come from the same weak forward.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import ml_collections

from ssseg.methods import _pseudo, _teacher
from ssseg.methods.contract import Method

FP_DROPOUT = 0.5  # nn.Dropout2d(0.5) in UniMatch's DeepLabV3+


def defaults() -> ml_collections.ConfigDict:
    """UniMatch V1 on VOC: conf_thresh 0.95, CutMix p=0.5, two strong views, FP dropout 0.5,
    the student as its own teacher (V2: teacher="ema", momentum 0.996)."""
    c = ml_collections.ConfigDict()
    _pseudo.add_defaults(c)
    c.cutmix_prob = 0.5
    c.dual_strong = True
    c.feature_perturb = True
    c.fp_dropout = FP_DROPOUT
    return c


def channel_dropout(key, features_bhwc, rate):
    """Dropout2d: whole channels of each example zeroed with probability `rate`, the rest scaled by 1/(1-rate)."""
    keep = jax.random.bernoulli(key, 1.0 - rate, (features_bhwc.shape[0], 1, 1, features_bhwc.shape[-1]))
    return jnp.where(keep, features_bhwc / (1.0 - rate), 0.0).astype(features_bhwc.dtype)


def combine_losses(loss_x, strong_losses, loss_fp=None):
    """(l_x + l_u) / 2 with l_u = 0.5·mean(strong) + 0.5·l_fp, or mean(strong) without FP."""
    strong_weight = 1.0 if loss_fp is None else 0.5
    loss_u = strong_weight * sum(strong_losses) / len(strong_losses)
    if loss_fp is not None:
        loss_u = loss_u + 0.5 * loss_fp
    return (loss_x + loss_u) / 2.0


def loss(ctx, params, state, batch, rng):
    cfg = ctx.method_cfg
    labeled, unlabeled = batch["labeled"], batch["unlabeled"]
    x, u_w = ctx.normalize(labeled["image"]), ctx.normalize(unlabeled["image"])
    valid = unlabeled["valid"]
    num_x, num_u = x.shape[0], u_w.shape[0]
    k_fp, k_s1, k_s2 = jax.random.split(rng, 3)

    # Clean (and feature-perturbed) streams: one forward, as the official model does it.
    need_weak = cfg.teacher == "self" or cfg.feature_perturb
    inputs = jnp.concatenate([x, u_w]) if need_weak else x
    features, batch_stats = ctx.encode(params, state.batch_stats, inputs, train=True)
    if cfg.feature_perturb:
        fp_keys = jax.random.split(k_fp, len(features))
        features = tuple(jnp.concatenate([f, channel_dropout(k, f[num_x:], cfg.fp_dropout)])
                         for k, f in zip(fp_keys, features))
    logits, batch_stats = ctx.decode(params, batch_stats, features, inputs.shape[1:3], train=True)
    logits_x = logits[:num_x]
    student_weak = logits[num_x:num_x + num_u] if need_weak else None
    logits_fp = logits[num_x + num_u:] if cfg.feature_perturb else None

    probs_w = jax.nn.softmax(_teacher.weak_logits(ctx, state, u_w, student_weak).astype(jnp.float32), axis=-1)
    probs_w, extra = _pseudo.align(ctx, state.extra, probs_w, valid)
    labels, _, confident, thresholds, extra = _pseudo.pseudo_labels(cfg, extra, probs_w, valid)

    # Strong views: independent photometric draws and CutMix boxes, forwarded together.
    pasted, labels_p, flags_p, paste_ratio = _pseudo.paste_labeled(ctx, rng, unlabeled["image"], labeled,
                                                                   (labels,), (confident, valid))
    views = [_pseudo.strong_view(ctx, k, pasted, (*labels_p, *flags_p), cutmix_prob=cfg.cutmix_prob)
             for k in ((k_s1, k_s2) if cfg.dual_strong else (k_s1,))]
    logits_s, batch_stats = ctx.apply(params, batch_stats, jnp.concatenate([v[0] for v in views]), train=True)
    class_weights = _pseudo.pseudo_class_weights(ctx)
    strong_losses = [
        _pseudo.unlabeled_loss(cfg, logits_s[i * num_u:(i + 1) * num_u], *views[i][1], class_weights=class_weights)
        for i in range(len(views))
    ]

    loss_x = ctx.labeled_loss(logits_x, labeled["label"])
    loss_fp = None
    if cfg.feature_perturb:
        loss_fp = _pseudo.unlabeled_loss(cfg, logits_fp, labels, confident, valid, class_weights=class_weights)
    total = combine_losses(loss_x, strong_losses, loss_fp)

    metrics = {"loss_x": loss_x, "loss_s": sum(strong_losses) / len(strong_losses)}
    if loss_fp is not None:
        metrics["loss_fp"] = loss_fp
    if paste_ratio is not None:
        metrics["paste_ratio"] = paste_ratio
    metrics.update(_pseudo.diagnostics(probs_w, confident, valid, unlabeled.get("label"),
                                       thresholds if cfg.class_adaptive else None))
    return total, {"batch_stats": batch_stats, "metrics": metrics, "extra": extra}


METHOD = Method(
    name='unimatch',
    defaults=defaults,
    loss=loss,
    uses_unlabeled=True,
    init_extra=_pseudo.init_extra,
    after_update=_pseudo.after_update,
    eval_models=_pseudo.eval_models,
)
