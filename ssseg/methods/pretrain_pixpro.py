"""PixPro pretraining of the encoder: pixel-level consistency between two views.

Xie et al., "Propagate Yourself", CVPR 2021. Both views are cut from the same
image on device (ssseg/pretrain/views.py), so every feature cell's position in
the source image is known exactly; cells of the two views closer than
`pos_radius` cell diagonals are positive pairs. The online branch (encoder ->
dense projector -> pixel propagation module) regresses the EMA target's dense
projection at the positive cells of the other view (2 − 2·cos, symmetrised).
An optional BYOL term on pooled features (`global_weight`, PixPro+'s instance
branch) can be added. Progress is reported by a linear probe.

    ssseg train --config experiments/magnetic_tile.py:method=pretrain_pixpro --workdir runs/mt_pixpro
    ssseg train --config experiments/magnetic_tile.py:method=supervised,budget=1/16 \
        --config.init_from=runs/mt_pixpro --workdir runs/mt_pixpro_sup_1_16
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import ml_collections

from ssseg.errors import ConfigError
from ssseg.methods.contract import Method
from ssseg.pretrain import heads, layout, objectives, probe, views


def defaults() -> ml_collections.ConfigDict:
    m = ml_collections.ConfigDict()
    # Encoder outputs the dense loss is applied to (-1: the deepest, as in
    # PixPro; 0 adds the stride-4 features that DeepLabV3+'s decoder also reads).
    m.feature_levels = (-1,)
    # Levels finer than this many cells a side are average-pooled by powers of 2
    # first (cost grows as cells²: a 32×32 stride-4 grid is 16× a 16×16 one).
    m.dense_max_side = 16
    # PixPro §4: 2048-wide hidden layer, 256-d output for ResNet-50's 2048-d
    # C5; scaled to the CPU preset's 192-d feature.
    m.proj_hidden = 512
    m.proj_dim = 128
    m.pos_radius = 0.7  # PixPro §3.1, T = 0.7 (best in its Table 3)
    m.ppm_gamma = 2.0  # PixPro §3.2, γ = 2 (Table 4)
    m.global_weight = 0.0  # PixPro+ adds an instance (BYOL) branch with weight 1
    # "pixpro": PPM + regression onto the target (no negatives); "pixcontrast": the paper's
    # contrastive baseline, InfoNCE with every other cell as a negative at temperature
    # `contrast_tau` (0.3, its §4.2). On magnetic_tile the regression left the stride-4
    # features nearly uniform within each image (experiments/studies/pretrain).
    m.dense_loss = "pixpro"
    m.contrast_tau = 0.3
    # PixPro: momentum 0.99 increased to 1 over training; kept at 0.99 here
    # (short runs), see pretrain_byol.defaults.
    m.ema_momentum = 0.99
    views.view_defaults(m)
    probe.probe_defaults(m)
    return m


DENSE_LOSSES = ("pixpro", "pixcontrast")


def _levels(method_cfg, num_levels: int) -> tuple[int, ...]:
    """The encoder outputs to apply the dense loss to, as non-negative indices."""
    raw = tuple(int(x) for x in method_cfg.feature_levels)
    if not raw or any(not -num_levels <= x < num_levels for x in raw):
        raise ConfigError(f"config.method.feature_levels={raw!r}: expected indices into the encoder's "
                          f"{num_levels} outputs (-1: the deepest)")
    return tuple(sorted({x % num_levels for x in raw}))


def init_params(cfg, spec, params, batch_stats):
    m = cfg.method
    if m.dense_loss not in DENSE_LOSSES:
        raise ConfigError(f"config.method.dense_loss={m.dense_loss!r}: expected one of {', '.join(DENSE_LOSSES)}")
    shapes = layout.feature_shapes(cfg, spec, params, batch_stats)
    rng = jax.random.fold_in(jax.random.key(cfg.seed), 0x919)
    projector, transform = {}, {}
    for level in _levels(m, len(shapes)):
        k_proj, k_tr = jax.random.split(jax.random.fold_in(rng, level))
        projector[str(level)] = heads.init_mlp(k_proj, shapes[level][-1], m.proj_hidden, m.proj_dim)
        transform[str(level)] = heads.init_linear(k_tr, m.proj_dim, m.proj_dim)
    ssl_heads = {"projector": projector}
    if m.dense_loss == "pixpro":  # PixContrast has no PPM: no transform to train or decay
        ssl_heads["propagation"] = transform
    if m.global_weight > 0:
        k_gproj, k_gpred = jax.random.split(jax.random.fold_in(rng, 0x6B))
        projector["global"] = heads.init_mlp(k_gproj, shapes[-1][-1], m.proj_hidden, m.proj_dim)
        ssl_heads["predictor"] = heads.init_mlp(k_gpred, m.proj_dim, m.proj_hidden, m.proj_dim)
    return {**params, layout.HEADS_KEY: ssl_heads}, batch_stats


def pool_to_grid(feats: jax.Array, max_side: int) -> jax.Array:
    """Average-pool [2, B, h, w, C] by the smallest integer factor that brings the longer side
    to <= max_side: the pairwise terms grow as (h·w)², so fine levels are compared on a coarser grid."""
    two, b, h, w, c = feats.shape
    factor = 1
    while max(h, w) // factor > max_side and h % (2 * factor) == 0 and w % (2 * factor) == 0:
        factor *= 2
    if factor == 1:
        return feats
    return feats.reshape(two, b, h // factor, factor, w // factor, factor, c).mean(axis=(3, 5))


def _dense_terms(m, ssl_heads, target_projector, feats, target_feats, valid, geoms, level):
    """PixPro loss at one encoder level, and the mean number of positive pairs per image."""
    feats = pool_to_grid(feats, int(m.dense_max_side))
    target_feats = pool_to_grid(target_feats, int(m.dense_max_side))
    two, b, h, w, c = feats.shape
    cells = objectives.cell_valid(valid.reshape(two * b, *valid.shape[2:]), (h, w)).reshape(two, b, h * w)
    key = str(level)
    online = heads.mlp(ssl_heads["projector"][key], feats.reshape(two, b, h * w, c), cells)
    target = heads.mlp(target_projector[key], target_feats.reshape(two, b, h * w, c), cells)
    target = jax.lax.stop_gradient(target)
    positives = objectives.positive_pairs(geoms[0], geoms[1], (h, w), (h, w), float(m.pos_radius))
    positives = positives & cells[0][:, :, None] & cells[1][:, None, :]
    if m.dense_loss == "pixcontrast":
        tau = float(m.contrast_tau)
        loss_ab = objectives.pixcontrast_loss(online[0], target[1], positives, cells[1], tau)
        loss_ba = objectives.pixcontrast_loss(online[1], target[0], jnp.swapaxes(positives, 1, 2), cells[0], tau)
    else:
        propagated = [objectives.pixel_propagation(online[i], cells[i], ssl_heads["propagation"][key],
                                                   m.ppm_gamma) for i in range(2)]
        loss_ab = objectives.pixpro_loss(propagated[0], target[1], positives)
        loss_ba = objectives.pixpro_loss(propagated[1], target[0], jnp.swapaxes(positives, 1, 2))
    return 0.5 * (loss_ab + loss_ba), {
        f"pos_pairs_{level}": positives.sum(axis=(1, 2)).mean(),
        **_target_spreads(target.reshape(two * b, h * w, -1), cells.reshape(two * b, h * w), level)}


def _target_spreads(target, cells, level):
    """Collapse monitors of the target projection [N, cells, D]: over all valid cells, and
    within each image (0 when every cell of an image projects alike, which the dense loss
    would then satisfy without telling a defect from the tile around it)."""
    within = jax.vmap(objectives.spread)(target, cells)
    return {f"target_spread_{level}": objectives.spread(target.reshape(-1, target.shape[-1]), cells.reshape(-1)),
            f"target_spread_within_{level}": within.mean()}


def _global_term(ssl_heads, target_projector, feats, target_feats, valid):
    """BYOL on pooled deepest features (PixPro+'s instance branch)."""
    two, b, h, w, c = feats.shape
    cells = objectives.cell_valid(valid.reshape(two * b, *valid.shape[2:]), (h, w))
    pool = lambda f: objectives.masked_mean_pool(f.reshape(two * b, h, w, c), cells).reshape(two, b, c)
    online = heads.mlp(ssl_heads["predictor"], heads.mlp(ssl_heads["projector"]["global"], pool(feats)))
    target = jax.lax.stop_gradient(heads.mlp(target_projector["global"], pool(target_feats)))
    return 0.5 * (objectives.byol_loss(online[0], target[1]) + objectives.byol_loss(online[1], target[0]))


def loss(ctx, params, state, batch, rng):
    m = ctx.method_cfg
    unlabeled = batch["unlabeled"]
    vc = views.ViewConfig.from_method_cfg(m, unlabeled["image"].shape[1])
    views01, valid, geoms = views.two_views(rng, unlabeled["image"], unlabeled["valid"], vc)
    ssl_heads = params[layout.HEADS_KEY]
    target_projector = state.extra["target"]["projector"]

    features, batch_stats = layout.encode_views(ctx, layout.model_params(params), state.batch_stats, views01)
    target_features, _ = layout.encode_views(
        ctx, layout.target_model_params(params, state.extra), state.batch_stats, views01)
    target_features = jax.lax.stop_gradient(target_features)

    metrics, dense_losses = {}, []
    for level in _levels(m, len(features)):
        term, diagnostics = _dense_terms(m, ssl_heads, target_projector, features[level], target_features[level],
                                         valid, geoms, level)
        dense_losses.append(term)
        metrics[f"loss_dense_{level}"] = term
        metrics.update(diagnostics)
    total = sum(dense_losses) / len(dense_losses)
    if m.global_weight > 0:
        global_term = _global_term(ssl_heads, target_projector, features[-1], target_features[-1], valid)
        metrics["loss_global"] = global_term
        total = total + m.global_weight * global_term
    return total, {"batch_stats": batch_stats, "metrics": metrics}


METHOD = Method(
    name='pretrain_pixpro',
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
