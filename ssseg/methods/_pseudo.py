"""Pseudo-labels from weak-view probabilities: thresholds, masked losses, strong views, diagnostics.

Shared by the pseudo-labelling methods so that a threshold, a normalisation
or a diagnostic means the same thing in each of them.

Thresholds. Fixed: a pixel is used when its confidence ≥ `conf_thresh`
(0.95: FixMatch, UniMatch V1/V2 on VOC; PEERS.md). Class-adaptive
(`class_adaptive=True`), in the spirit of FreeMatch's self-adaptive
thresholds (Wang et al. 2023): state.extra["class_conf"][c] is a running
average (momentum `class_conf_momentum`) of the mean confidence of the
pixels pseudo-labelled c, and class c's threshold is
conf_thresh · class_conf[c] / max_k class_conf[k]. Departure from FreeMatch,
and why: FreeMatch normalises each class's mean *probability mass*, which in
segmentation is dominated by pixel frequency (background ~98% of pixels on
magnetic_tile), so rare tiny defects would get a threshold near 0; averaging
the confidence of the pixels predicted as c measures how sure the model is
*when it says c*, independent of how many such pixels there are. Classes the
model is still unsure of (cracks, blowholes) get lower thresholds and start
contributing instead of never passing a fixed 0.95. Momentum 0.99 rather than
FreeMatch's 0.999 because every step sees thousands of pixels and CPU runs
are ~10³ steps. The running averages start at 1/K (FreeMatch's start), where
all thresholds equal conf_thresh; they are updated from the current batch
before its pseudo-labels are thresholded (FreeMatch's order).

Background threshold (`background_thresh`, default None = conf_thresh): a
separate bar for class 0 (the background of magnetic_tile, synthetic_defects
and VOC), applied after the fixed or class-adaptive thresholds. Why: on
inspection data nearly all confident pseudo-labels are background, and some of
them are defects the labeller misses; with a good labeller those misses are
less confident than true background (`ssseg.inspection.trust_by_threshold`
measures it), so a stricter bar for the dominant class stops teaching them as
background while defect classes keep theirs. What it did on magnetic_tile:
experiments/studies/semi/README.md.

Unlabeled loss (`unlabeled_loss`). "ce" (default; UniMatch's natural-image
code): cross-entropy summed over confident valid pixels and divided by the
number of valid (non-padding) pixels, not by the number of confident ones.
"dice" (UniMatch's medical-image code, more-scenarios/medical/unimatch.py,
where the labeled loss is (CE + Dice) / 2 and each unlabeled term is a Dice
loss that ignores pixels below the threshold): soft Dice over the confident
valid pixels, averaged over the classes present among their pseudo-labels.
With rare classes this matters: confident pseudo-labels are then >99%
background, and a pixel-averaged CE over them mostly teaches "background"
(including on the defect pixels the model misses), while Dice weighs every
class present by its own size.

Class-weighted unlabeled CE (`class_weight_power`, default 0 = off, as in
UniMatch): each confident pixel's CE is scaled by its pseudo-class's weight
freq^-power (labeled budget's pixel frequencies, mean 1 over classes), the
rule the labeled loss uses (config.loss.class_weight_power). Why: when almost
all confident pseudo-labels are background, the CE's gradient sits on the
pixels the strong view disagrees on, which are mostly the defects the labeller
misses; unweighted, that stream undoes the class weighting the labeled loss
needed to learn defects at all.

Distribution alignment (`distribution_alignment`, default off; ReMixMatch,
Berthelot et al. 2020): before thresholding, the weak-view probabilities are
multiplied by target_c / running_c and renormalised, where target is the
labeled budget's pixel-class frequency and running the moving average
(`da_momentum` 0.99, per step) of the labeller's mean probability on unlabeled
pixels. Why: a class the labeller has not learned yet on unlabeled images (a
rare defect class, learned late even by the supervised baseline) is otherwise
never pseudo-labelled, and its pixels are taught as background until the class
is gone; alignment raises a class whose predicted share falls short of its
labeled share (and lowers one predicted too often) until the two agree.
Everything downstream (argmax, thresholds, the diagnostics) sees the aligned
probabilities. The soft marginals it aligns can mislead when a class's argmax
is rare but its diffuse mass is not; on magnetic_tile it made every pixel
background (experiments/studies/semi/README.md).

Labeled copy-paste (`copy_paste_prob`, default 0 = off, as in UniMatch;
AEL's copy-paste, Hu et al. 2021, ssseg/augment/copy_paste.py): before the strong views are
made, each unlabeled image takes, with this probability, every pixel of a
random labeled image of the batch whose class is not the labeled budget's
dominant one (background on inspection data), with its true label as a
confident target. Why: a class the labeller misses on unlabeled images only
ever appears as background in the unlabeled stream, which then outweighs the
labeled stream's few examples of it; pasted examples put the class back into
that stream, on the unlabeled images' own backgrounds. The weak view
(pseudo-labels, diagnostics) is not pasted; `paste_ratio` logs the share of
unlabeled pixels that were.

Diagnostics (aux["metrics"], never used for training): mask ratio, per-class
counts of confident pseudo-labels, and — against the hidden truth
`batch["unlabeled"]["label"]` (255 = ignore) — accuracy of the confident
pseudo-labels (NaN when none is confident) and per class how many of them
are right (`pseudo_correct`: precision_c = pseudo_correct[c] / pseudo_counts[c]
where the truth is known), accuracy of all weak-view
argmaxes, their mIoU over the classes present in the batch, and per-class
intersection and union pixel counts, and per true class its pixel count
(`truth_counts`) and how many of them are confidently taught as another class
(`taught_wrong`). The trainer logs window means, so the
counts stay additive: a class's pseudo-label IoU over a logging window is
pseudo_inter[c] / pseudo_union[c] (rare classes are absent from most
batches, and a per-step IoU would be undefined there).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from ml_collections import config_dict

from ssseg.augment import copy_paste, cutmix, photometric
from ssseg.data.labels import IGNORE_LABEL
from ssseg.data.normalize import to_unit
from ssseg.errors import ConfigError
from ssseg.methods import _teacher
from ssseg.train.losses import class_weights_from_counts, pixel_cross_entropy, soft_dice_loss

CONF_THRESH = 0.95
CLASS_CONF_MOMENTUM = 0.99
UNLABELED_LOSSES = ("ce", "dice")
DA_MOMENTUM = 0.99
_PASTE_STREAM = 0xC0B7  # folded into the step key, so the other draws are the same with copy-paste off


def add_defaults(cfg, *, conf_thresh: float = CONF_THRESH, class_adaptive: bool = False,
                 teacher: str = "self", ema_momentum: float = _teacher.EMA_MOMENTUM) -> None:
    cfg.conf_thresh = conf_thresh
    cfg.class_adaptive = class_adaptive
    cfg.class_conf_momentum = CLASS_CONF_MOMENTUM
    cfg.background_thresh = config_dict.placeholder(float)
    cfg.unlabeled_loss = "ce"
    cfg.class_weight_power = 0.0
    cfg.distribution_alignment = False
    cfg.da_momentum = DA_MOMENTUM
    cfg.copy_paste_prob = 0.0
    _teacher.add_defaults(cfg, teacher=teacher, ema_momentum=ema_momentum)


def check(cfg) -> None:
    _teacher.check(cfg)
    if not 0.0 <= cfg.conf_thresh <= 1.0:
        raise ConfigError(f"config.method.conf_thresh={cfg.conf_thresh!r}: expected a value in [0, 1]")
    if cfg.background_thresh is not None and not 0.0 <= cfg.background_thresh <= 1.0:
        raise ConfigError(f"config.method.background_thresh={cfg.background_thresh!r}: expected a value in [0, 1] or None")
    if cfg.class_weight_power < 0:
        raise ConfigError(f"config.method.class_weight_power={cfg.class_weight_power!r}: expected a value >= 0")
    if not 0.0 <= cfg.da_momentum < 1.0:
        raise ConfigError(f"config.method.da_momentum={cfg.da_momentum!r}: expected a value in [0, 1)")
    if not 0.0 <= cfg.copy_paste_prob <= 1.0:
        raise ConfigError(f"config.method.copy_paste_prob={cfg.copy_paste_prob!r}: expected a value in [0, 1]")
    if cfg.unlabeled_loss not in UNLABELED_LOSSES:
        raise ConfigError(f"config.method.unlabeled_loss={cfg.unlabeled_loss!r}: expected one of "
                          f"{', '.join(UNLABELED_LOSSES)}")
    if "cutmix_prob" in cfg and not 0.0 <= cfg.cutmix_prob <= 1.0:
        raise ConfigError(f"config.method.cutmix_prob={cfg.cutmix_prob!r}: expected a value in [0, 1]")


def init_extra(ctx, params, batch_stats, rng):
    """state.extra of a pseudo-labelling method: the EMA teacher and/or per-class confidences."""
    del rng
    cfg = ctx.method_cfg
    check(cfg)
    extra = _teacher.init_teacher(cfg, params, batch_stats)
    if cfg.class_adaptive:
        extra["class_conf"] = jnp.full((ctx.num_classes,), 1.0 / ctx.num_classes, jnp.float32)
    if cfg.distribution_alignment:
        # No correction until the labeller's own marginal is measured.
        extra["da_running"] = jnp.asarray(alignment_target(ctx), jnp.float32)
    return extra


def _labeled_class_counts(ctx, key: str) -> np.ndarray:
    if ctx.class_counts is None:
        raise ConfigError(f"config.method.{key} needs the labeled budget's class counts "
                          "(StepContext.class_counts), which this run was built without")
    return np.asarray(ctx.class_counts, np.float64)


def alignment_target(ctx) -> np.ndarray:
    """The labeled budget's pixel-class frequency; +1 per class so one absent from the budget stays possible."""
    counts = _labeled_class_counts(ctx, "distribution_alignment=True") + 1.0
    return counts / counts.sum()


def align(ctx, extra, probs_bhwk, valid_bhw):
    """Distribution alignment (ReMixMatch): (probs · target / running marginal, renormalised; new extra).

    `running` (state.extra) is a moving average (da_momentum) of the mean weak-view
    probability over valid pixels, updated with this batch first (ReMixMatch's
    order); `target` is `alignment_target(ctx)`, a constant of the run. Off: probs unchanged.
    """
    cfg = ctx.method_cfg
    if not cfg.distribution_alignment:
        return probs_bhwk, extra
    probs_bhwk = jax.lax.stop_gradient(probs_bhwk)
    weight = valid_bhw.astype(jnp.float32)[..., None]
    batch_mean = jnp.sum(probs_bhwk * weight, axis=(0, 1, 2)) / jnp.maximum(jnp.sum(weight), 1.0)
    running = jnp.where(jnp.sum(weight) > 0,
                        cfg.da_momentum * extra["da_running"] + (1.0 - cfg.da_momentum) * batch_mean,
                        extra["da_running"])
    target = jnp.asarray(alignment_target(ctx), jnp.float32)
    aligned = probs_bhwk * (target / jnp.maximum(running, 1e-8))
    aligned = aligned / jnp.sum(aligned, axis=-1, keepdims=True)
    return aligned, {**extra, "da_running": running}


# Hooks every pseudo-labelling method re-exports.
after_update = _teacher.after_update
eval_models = _teacher.eval_models


def update_class_conf(class_conf_k, probs_bhwk, valid_bhw, momentum):
    """Running mean confidence per predicted class; classes absent from the batch keep theirs."""
    num_classes = probs_bhwk.shape[-1]
    conf = jnp.max(probs_bhwk, axis=-1)
    onehot = jax.nn.one_hot(jnp.argmax(probs_bhwk, axis=-1), num_classes) * valid_bhw[..., None]
    count = jnp.sum(onehot, axis=(0, 1, 2))
    mean_conf = jnp.sum(onehot * conf[..., None], axis=(0, 1, 2)) / jnp.maximum(count, 1.0)
    updated = momentum * class_conf_k + (1.0 - momentum) * mean_conf
    return jnp.where(count > 0, updated, class_conf_k)


def class_thresholds(conf_thresh, class_conf_k):
    return conf_thresh * class_conf_k / jnp.max(class_conf_k)


def pseudo_labels(cfg, extra, probs_bhwk, valid_bhw):
    """(labels, confidence, confident, thresholds [K], new extra) from stop-gradient probabilities."""
    probs_bhwk = jax.lax.stop_gradient(probs_bhwk)
    num_classes = probs_bhwk.shape[-1]
    labels = jnp.argmax(probs_bhwk, axis=-1)
    conf = jnp.max(probs_bhwk, axis=-1)
    if cfg.class_adaptive:
        class_conf = update_class_conf(extra["class_conf"], probs_bhwk, valid_bhw, cfg.class_conf_momentum)
        extra = {**extra, "class_conf": class_conf}
        thresholds = class_thresholds(cfg.conf_thresh, class_conf)
    else:
        thresholds = jnp.full((num_classes,), cfg.conf_thresh, jnp.float32)
    if cfg.background_thresh is not None:
        thresholds = thresholds.at[0].set(cfg.background_thresh)
    confident = conf >= thresholds[labels]
    return labels, conf, confident, thresholds, extra


def masked_ce_over_valid(logits_bhwk, labels_bhw, confident_bhw, valid_bhw, class_weights=None):
    """Σ CE over confident valid pixels / #valid pixels (UniMatch's unlabeled-loss normalisation);
    `class_weights` [K] scales each pixel by its pseudo-class (the sum is still over #valid)."""
    nll, _ = pixel_cross_entropy(logits_bhwk, labels_bhw, class_weights)
    used = (confident_bhw & valid_bhw).astype(jnp.float32)
    return jnp.sum(nll * used) / jnp.maximum(jnp.sum(valid_bhw.astype(jnp.float32)), 1.0)


def pseudo_class_weights(ctx):
    """[K] weights of the unlabeled CE by pseudo-class (`class_weight_power` > 0), else None.

    freq_c^-power over the labeled budget's pixels, normalised to mean 1 over
    classes: the rule of config.loss.class_weight_power, so that the two streams
    weigh classes alike.
    """
    power = float(ctx.method_cfg.class_weight_power)
    if power <= 0:
        return None
    return jnp.asarray(class_weights_from_counts(_labeled_class_counts(ctx, "class_weight_power > 0"), power),
                       jnp.float32)


def unlabeled_loss(cfg, logits_bhwk, labels_bhw, confident_bhw, valid_bhw, class_weights=None):
    """The method's loss on pseudo-labels: `cfg.unlabeled_loss` over confident valid pixels
    (`class_weights` from `pseudo_class_weights` scale the CE; Dice weighs classes itself)."""
    if cfg.unlabeled_loss == "dice":
        return soft_dice_loss(logits_bhwk, labels_bhw, (confident_bhw & valid_bhw).astype(jnp.float32))
    return masked_ce_over_valid(logits_bhwk, labels_bhw, confident_bhw, valid_bhw, class_weights)


def paste_classes(ctx) -> np.ndarray:
    """bool [K]: the classes copy-paste moves, every class but the labeled budget's most frequent."""
    counts = _labeled_class_counts(ctx, "copy_paste_prob > 0")
    return counts != counts.max() if counts.any() else np.ones(counts.shape, bool)


def paste_labeled(ctx, key, images_u8, labeled, labels=(), flags=()):
    """Labeled copy-paste onto the unlabeled images: (images, labels, flags, paste_ratio).

    Where a pixel is pasted, each array of `labels` takes the source's true
    label and each of `flags` (confident, valid) becomes True. Off
    (`copy_paste_prob` 0): everything unchanged, paste_ratio None.
    """
    prob = float(ctx.method_cfg.copy_paste_prob)
    if prob <= 0:
        return images_u8, tuple(labels), tuple(flags), None
    if labeled["image"].shape[1:] != images_u8.shape[1:]:
        raise ConfigError(f"config.method.copy_paste_prob={prob}: labeled images {labeled['image'].shape[1:]} and "
                          f"unlabeled images {images_u8.shape[1:]} must have the same crop shape")
    source, mask = copy_paste.paste_masks(jax.random.fold_in(key, _PASTE_STREAM), labeled["label"],
                                          jnp.asarray(paste_classes(ctx)), images_u8.shape[0], prob)
    images = copy_paste.paste(mask, source, images_u8, labeled["image"])
    labels = tuple(copy_paste.paste(mask, source, array, labeled["label"]) for array in labels)
    flags = tuple(mask | array for array in flags)
    return images, labels, flags, jnp.mean(mask.astype(jnp.float32))


def strong_view(ctx, key, images_uint8, per_pixel=(), *, cutmix_prob: float, photometric_on: bool = True):
    """(standardised strong view, per-pixel arrays mixed the same way, box [B,H,W]).

    Photometric perturbation per example on [0,1] images, then CutMix with the
    rolled batch as partner: the partner's strong view, pseudo-labels,
    confidences and validity are pasted inside the same box.
    """
    k_photo, k_box = jax.random.split(key)
    images01 = to_unit(images_uint8)
    if photometric_on:
        images01 = photometric.strong_photometric(k_photo, images01)
    b, h, w = images01.shape[:3]
    if cutmix_prob > 0:
        box = cutmix.box_masks(k_box, b, h, w, prob=cutmix_prob)
        images01, *per_pixel = cutmix.paste_from_partner(box, images01, *per_pixel)
    else:
        box = jnp.zeros((b, h, w), bool)
    return ctx.standardize(images01), tuple(per_pixel), box


def _ratio(num, den):
    return jnp.where(den > 0, num / jnp.maximum(den, 1.0), jnp.nan)


def diagnostics(probs_bhwk, confident_bhw, valid_bhw, truth_bhw=None, thresholds_k=None) -> dict:
    """Mask ratio, pseudo-label counts per class, and quality against the hidden truth."""
    num_classes = probs_bhwk.shape[-1]
    pseudo = jnp.argmax(probs_bhwk, axis=-1)
    used = confident_bhw & valid_bhw
    pseudo_onehot = jax.nn.one_hot(pseudo, num_classes)
    metrics = {
        "mask_ratio": _ratio(jnp.sum(used), jnp.sum(valid_bhw)),
        "pseudo_counts": jnp.sum(pseudo_onehot * used[..., None], axis=(0, 1, 2)),
    }
    if thresholds_k is not None:
        metrics["thresholds"] = thresholds_k
    if truth_bhw is not None:
        known = valid_bhw & (truth_bhw != IGNORE_LABEL)
        correct = pseudo == truth_bhw
        metrics["pseudo_acc"] = _ratio(jnp.sum(correct & used & known), jnp.sum(used & known))
        # Per class: confident pseudo-labels that are right (precision_c = this / pseudo_counts[c]).
        metrics["pseudo_correct"] = jnp.sum(pseudo_onehot * (correct & used & known)[..., None], axis=(0, 1, 2))
        metrics["pseudo_acc_all"] = _ratio(jnp.sum(correct & known), jnp.sum(known))
        truth_onehot = jax.nn.one_hot(jnp.where(known, truth_bhw, 0), num_classes) * known[..., None]
        pred_onehot = pseudo_onehot * known[..., None]
        inter = jnp.sum(pred_onehot * truth_onehot, axis=(0, 1, 2))
        union = jnp.sum(pred_onehot, axis=(0, 1, 2)) + jnp.sum(truth_onehot, axis=(0, 1, 2)) - inter
        present = union > 0
        iou = inter / jnp.maximum(union, 1.0)
        metrics["pseudo_miou"] = _ratio(jnp.sum(jnp.where(present, iou, 0.0)), jnp.sum(present))
        metrics["pseudo_inter"] = inter
        metrics["pseudo_union"] = union
        # Per true class: its pixels, and those confidently taught as another class
        # (a class the labeller has not learned is taught as background here).
        metrics["truth_counts"] = jnp.sum(truth_onehot, axis=(0, 1, 2))
        metrics["taught_wrong"] = jnp.sum(truth_onehot * (used & ~correct)[..., None], axis=(0, 1, 2))
    return jax.lax.stop_gradient(metrics)
