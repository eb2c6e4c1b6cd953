"""BYOL pretraining of the encoder: global features of two views, no labels.

Grill et al., "Bootstrap your own latent", NeurIPS 2020: an online encoder +
projector + predictor regresses the projection of the other view made by an
EMA target (encoder + projector); 2 − 2·cos, symmetrised over the two views.
Features are the encoder's deepest output, average-pooled over the cells that
are not crop padding. Progress is reported by a linear probe (see
ssseg/pretrain/probe.py), not by segmentation metrics.

    ssseg train --config experiments/magnetic_tile.py:method=pretrain_byol --workdir runs/mt_byol
    ssseg train --config experiments/magnetic_tile.py:method=supervised,budget=1/16 \
        --config.init_from=runs/mt_byol --workdir runs/mt_byol_sup_1_16
"""

from __future__ import annotations

import jax
import ml_collections

from ssseg.methods.contract import Method
from ssseg.pretrain import heads, layout, objectives, probe, views


def defaults() -> ml_collections.ConfigDict:
    m = ml_collections.ConfigDict()
    # BYOL §3.3 uses a 4096-wide hidden layer and 256-d output for a 2048-d
    # ResNet-50 feature; these are scaled to the CPU preset's 192-d feature.
    m.proj_hidden = 512
    m.proj_dim = 128
    # BYOL's base target momentum is 0.996 over 1000 epochs, with a cosine ramp
    # to 1; for runs of a few thousand steps the faster 0.99 (BYOL Table 5b:
    # 0.99 within 0.4 points of 0.996) lets the target keep up. Kept constant.
    m.ema_momentum = 0.99
    views.view_defaults(m)
    probe.probe_defaults(m)
    return m


def init_params(cfg, spec, params, batch_stats):
    m = cfg.method
    channels = layout.feature_shapes(cfg, spec, params, batch_stats)[-1][-1]
    k_proj, k_pred = jax.random.split(jax.random.fold_in(jax.random.key(cfg.seed), 0xB70))
    ssl_heads = {
        "projector": heads.init_mlp(k_proj, channels, m.proj_hidden, m.proj_dim),
        "predictor": heads.init_mlp(k_pred, m.proj_dim, m.proj_hidden, m.proj_dim),
    }
    return {**params, layout.HEADS_KEY: ssl_heads}, batch_stats


def _pooled(ctx, model_params, batch_stats, views01, valid):
    """[2, B, C] pooled deepest features of both views, and the updated batch stats."""
    features, new_stats = layout.encode_views(ctx, model_params, batch_stats, views01)
    deepest = features[-1]
    two, b, h, w, c = deepest.shape
    cells = objectives.cell_valid(valid.reshape(two * b, *valid.shape[2:]), (h, w))
    pooled = objectives.masked_mean_pool(deepest.reshape(two * b, h, w, c), cells)
    return pooled.reshape(two, b, c), new_stats


def loss(ctx, params, state, batch, rng):
    unlabeled = batch["unlabeled"]
    vc = views.ViewConfig.from_method_cfg(ctx.method_cfg, unlabeled["image"].shape[1])
    views01, valid, _ = views.two_views(rng, unlabeled["image"], unlabeled["valid"], vc)
    ssl_heads = params[layout.HEADS_KEY]

    pooled, batch_stats = _pooled(ctx, layout.model_params(params), state.batch_stats, views01, valid)
    online = heads.mlp(ssl_heads["predictor"], heads.mlp(ssl_heads["projector"], pooled))
    target_pooled, _ = _pooled(ctx, layout.target_model_params(params, state.extra), state.batch_stats, views01, valid)
    target = jax.lax.stop_gradient(heads.mlp(state.extra["target"]["projector"], target_pooled))

    loss_byol = 0.5 * (objectives.byol_loss(online[0], target[1]) + objectives.byol_loss(online[1], target[0]))
    return loss_byol, {
        "batch_stats": batch_stats,
        "metrics": {"loss_byol": loss_byol, "target_spread": objectives.spread(target.reshape(-1, target.shape[-1]))},
    }


METHOD = Method(
    name='pretrain_byol',
    defaults=defaults,
    loss=loss,
    uses_unlabeled=True,
    pretrain=True,
    init_params=init_params,
    init_extra=layout.init_extra,
    after_update=layout.after_update,
    eval_models=layout.eval_models,
    evaluate=probe.evaluate,
    pretrained_parts=layout.PRETRAINED_PARTS,
)
