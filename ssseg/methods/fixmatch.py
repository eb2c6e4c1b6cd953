"""FixMatch for segmentation: hard pseudo-labels from the weak view train the strong view.

As in UniMatch's fixmatch.py (LiheYoung/UniMatch; PEERS.md): the weak view's
argmax (stop-gradient) is the target wherever its confidence ≥ conf_thresh
(0.95); the strong view is the weak view with colour jitter, grayscale, blur
and CutMix (p=0.5) with a partner image whose pseudo-labels are pasted with
it (optionally after labeled copy-paste, `copy_paste_prob`); the unlabeled CE is summed over confident valid pixels and divided by
the number of valid pixels; loss = (l_x + l_s) / 2. With teacher="self" the
weak-view logits come from the student's train-mode forward on
[labeled; weak] as in that code; teacher="ema" uses the EMA teacher.

Departure: the CutMix partner is another image of the same unlabeled batch
(rolled by one, as UniMatch V2 uses the flipped batch) rather than a second
loader, so the partner's pseudo-labels come from the same weak forward.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import ml_collections

from ssseg.methods import _pseudo, _teacher
from ssseg.methods.contract import Method


def defaults() -> ml_collections.ConfigDict:
    """conf_thresh 0.95 and CutMix p=0.5 (UniMatch's fixmatch.py / FixMatch), teacher "self",
    class_adaptive off; see ssseg/methods/_pseudo.py and _teacher.py for the shared keys."""
    c = ml_collections.ConfigDict()
    _pseudo.add_defaults(c)
    c.cutmix_prob = 0.5
    return c


def loss(ctx, params, state, batch, rng):
    cfg = ctx.method_cfg
    labeled, unlabeled = batch["labeled"], batch["unlabeled"]
    x, u_w = ctx.normalize(labeled["image"]), ctx.normalize(unlabeled["image"])
    valid = unlabeled["valid"]
    num_x = x.shape[0]

    if cfg.teacher == "self":
        logits, batch_stats = ctx.apply(params, state.batch_stats, jnp.concatenate([x, u_w]), train=True)
        logits_x, student_weak = logits[:num_x], logits[num_x:]
    else:
        logits_x, batch_stats = ctx.apply(params, state.batch_stats, x, train=True)
        student_weak = None
    probs_w = jax.nn.softmax(_teacher.weak_logits(ctx, state, u_w, student_weak).astype(jnp.float32), axis=-1)
    probs_w, extra = _pseudo.align(ctx, state.extra, probs_w, valid)
    labels, _, confident, thresholds, extra = _pseudo.pseudo_labels(cfg, extra, probs_w, valid)

    pasted, (labels_p,), (confident_p, valid_p), paste_ratio = _pseudo.paste_labeled(
        ctx, rng, unlabeled["image"], labeled, (labels,), (confident, valid))
    strong, (labels_s, confident_s, valid_s), _ = _pseudo.strong_view(
        ctx, rng, pasted, (labels_p, confident_p, valid_p), cutmix_prob=cfg.cutmix_prob)
    logits_s, batch_stats = ctx.apply(params, batch_stats, strong, train=True)

    loss_x = ctx.labeled_loss(logits_x, labeled["label"])
    loss_s = _pseudo.unlabeled_loss(cfg, logits_s, labels_s, confident_s, valid_s,
                                    class_weights=_pseudo.pseudo_class_weights(ctx))
    total = (loss_x + loss_s) / 2.0
    metrics = {"loss_x": loss_x, "loss_s": loss_s}
    if paste_ratio is not None:
        metrics["paste_ratio"] = paste_ratio
    metrics.update(_pseudo.diagnostics(probs_w, confident, valid, unlabeled.get("label"),
                                       thresholds if cfg.class_adaptive else None))
    return total, {"batch_stats": batch_stats, "metrics": metrics, "extra": extra}


METHOD = Method(
    name='fixmatch',
    defaults=defaults,
    loss=loss,
    uses_unlabeled=True,
    init_extra=_pseudo.init_extra,
    after_update=_pseudo.after_update,
    eval_models=_pseudo.eval_models,
)
