"""Supervised baseline: the labeled loss on the labeled batch only.

The reference every semi-supervised method must beat at the same budget.
`copy_paste_prob` (default 0 = off): labeled copy-paste within the labeled
batch (Simple Copy-Paste, Ghiasi et al. 2021; ssseg/augment/copy_paste.py),
each labeled image taking the non-dominant-class pixels of a random labeled
image of the batch (possibly itself, then unchanged). It is the control for
the semi-supervised methods' copy-paste into unlabeled images: the same
augmentation without the unlabeled data.
"""

from __future__ import annotations

import ml_collections

from ssseg.errors import ConfigError
from ssseg.methods import _pseudo
from ssseg.methods.contract import Method


def defaults() -> ml_collections.ConfigDict:
    c = ml_collections.ConfigDict()
    c.copy_paste_prob = 0.0
    return c


def init_extra(ctx, params, batch_stats, rng):
    del params, batch_stats, rng
    if not 0.0 <= ctx.method_cfg.copy_paste_prob <= 1.0:
        raise ConfigError(f"config.method.copy_paste_prob={ctx.method_cfg.copy_paste_prob!r}: "
                          "expected a value in [0, 1]")
    return {}


def loss(ctx, params, state, batch, rng):
    labeled = batch["labeled"]  # the host pipeline already applied the random geometry
    images, (labels,), _, paste_ratio = _pseudo.paste_labeled(ctx, rng, labeled["image"], labeled,
                                                             (labeled["label"],))
    logits, batch_stats = ctx.apply(params, state.batch_stats, ctx.normalize(images), train=True)
    loss_x = ctx.labeled_loss(logits, labels)
    metrics = {"loss_x": loss_x}
    if paste_ratio is not None:
        metrics["paste_ratio"] = paste_ratio
    return loss_x, {"batch_stats": batch_stats, "metrics": metrics}


METHOD = Method(
    name='supervised',
    defaults=defaults,
    loss=loss,
    init_extra=init_extra,
)
