"""Supervised baseline: the labeled loss on the labeled batch only.

The reference every semi-supervised method must beat at the same budget.
"""

from __future__ import annotations

import ml_collections

USES_UNLABELED = False


def defaults() -> ml_collections.ConfigDict:
    return ml_collections.ConfigDict()


def loss(ctx, params, state, batch, rng):
    del rng  # the host pipeline already applied the random geometry
    labeled = batch["labeled"]
    logits, batch_stats = ctx.apply(params, state.batch_stats, ctx.normalize(labeled["image"]), train=True)
    loss_x = ctx.labeled_loss(logits, labeled["label"])
    return loss_x, {"batch_stats": batch_stats, "metrics": {"loss_x": loss_x}}
