"""Masked image modelling for the CNN encoder: reconstruct hidden patches, no labels.

The recipe of MAE (He et al., CVPR 2022) carried to a ConvNet as SparK (Tian et
al., ICLR 2023) does: hide a random `mask_ratio` of the square patches of each
crop, encode the rest, and regress the hidden pixels, each patch's target
normalised by its own mean and std (MAE's `norm_pix_loss`), mean squared error on
hidden, non-padding pixels only. A light head reads every encoder level resized
to the finest one (stride 4) and predicts each cell's stride×stride pixels.

Departures, and why: masked pixels are set to the dataset mean (0 after
standardising) and the encoder runs dense convolutions on them, SparK's
"dense" ablation, instead of sparse convolutions that JAX does not have; no
photometric augmentation (MAE uses crops and flips, which the host pipeline
already does). Why on defect images: the view-invariance objectives (BYOL,
PixPro) teach the encoder to ignore exactly the local intensity and texture
changes a defect is (experiments/studies/pretrain); predicting hidden
texture from its surroundings has to model them.

    ssseg train --config experiments/magnetic_tile.py:method=pretrain_mim --workdir runs/mt_mim
    ssseg train --config experiments/magnetic_tile.py:method=supervised,budget=1/16 \
        --config.init_from=runs/mt_mim --workdir runs/mt_mim_sup_1_16
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import ml_collections

from ssseg.errors import ConfigError
from ssseg.methods.contract import Method
from ssseg.pretrain import heads, layout, objectives, probe

_EPS = 1e-6


def defaults() -> ml_collections.ConfigDict:
    m = ml_collections.ConfigDict()
    # SparK masks 60% of 32-px patches of 224² images (7×7 patches); at the CPU
    # preset's 128² crops 16-px patches keep a comparable 8×8 grid, and stay
    # near the size of the tiles' blowholes and crack widths.
    m.patch_size = 16
    m.mask_ratio = 0.6
    m.head_hidden = 256
    m.norm_pix_loss = True  # MAE: per-patch normalised targets (its Table 1d: +0.5 to +1 points)
    probe.probe_defaults(m)
    return m


def _geometry(cfg, spec, params, batch_stats) -> tuple[int, int, int]:
    """(finest feature stride, total feature channels, patch size), checked against the crop."""
    size, patch = int(cfg.data.crop_size), int(cfg.method.patch_size)
    if patch <= 0 or size % patch:
        raise ConfigError(f"config.method.patch_size={patch}: expected a positive divisor of "
                          f"config.data.crop_size={size}")
    if not 0.0 < float(cfg.method.mask_ratio) < 1.0:
        raise ConfigError(f"config.method.mask_ratio={cfg.method.mask_ratio}: expected a fraction in (0, 1)")
    shapes = layout.feature_shapes(cfg, spec, params, batch_stats)
    stride = size // shapes[0][0]
    if patch % stride:
        raise ConfigError(f"config.method.patch_size={patch}: expected a multiple of the encoder's finest "
                          f"stride {stride}")
    return stride, sum(s[-1] for s in shapes), patch


def init_params(cfg, spec, params, batch_stats):
    stride, channels, _ = _geometry(cfg, spec, params, batch_stats)
    rng = jax.random.fold_in(jax.random.key(cfg.seed), 0x313)
    out_dim = stride * stride * spec.channels
    head = heads.init_mlp(rng, channels, int(cfg.method.head_hidden), out_dim)
    return {**params, layout.HEADS_KEY: {"reconstruct": head}}, batch_stats


def patch_mask(rng, batch: int, grid_hw: tuple[int, int], ratio: float) -> jax.Array:
    """[B, gh, gw] bool: exactly round(ratio·gh·gw) patches hidden per image, at random."""
    gh, gw = grid_hw
    n_hidden = int(round(ratio * gh * gw))
    scores = jax.random.uniform(rng, (batch, gh * gw))
    rank = jnp.argsort(jnp.argsort(scores, axis=1), axis=1)
    return (rank < n_hidden).reshape(batch, gh, gw)


def to_pixels(patch_bhw: jax.Array, patch: int) -> jax.Array:
    """[B, gh, gw] -> [B, gh·patch, gw·patch]."""
    return jnp.repeat(jnp.repeat(patch_bhw, patch, axis=1), patch, axis=2)


def normalised_targets(images_bhwc: jax.Array, valid_bhw: jax.Array, patch: int) -> jax.Array:
    """Each patch's pixels minus its mean, over its std (padding pixels do not count), [B, H, W, C]."""
    b, h, w, c = images_bhwc.shape
    x = images_bhwc.reshape(b, h // patch, patch, w // patch, patch, c)
    wgt = valid_bhw.astype(x.dtype).reshape(b, h // patch, patch, w // patch, patch, 1)
    count = jnp.maximum(wgt.sum(axis=(2, 4, 5), keepdims=True) * c, 1.0)
    mean = (x * wgt).sum(axis=(2, 4, 5), keepdims=True) / count
    var = (((x - mean) ** 2) * wgt).sum(axis=(2, 4, 5), keepdims=True) / count
    return ((x - mean) / jnp.sqrt(var + _EPS)).reshape(b, h, w, c)


def masked_mse(pred: jax.Array, target: jax.Array, weights_bhw: jax.Array) -> jax.Array:
    """Mean over channels and the weighted pixels of (pred − target)²."""
    per_pixel = jnp.mean((pred - target) ** 2, axis=-1)
    w = weights_bhw.astype(per_pixel.dtype)
    return jnp.sum(per_pixel * w) / jnp.maximum(jnp.sum(w), 1.0)


def reconstruct(head: dict, features, stride: int, cells_bhw: jax.Array) -> jax.Array:
    """Every level resized to the finest grid, concatenated, MLP per cell, cells unfolded to pixels."""
    b, h, w = features[0].shape[:3]
    stacked = jnp.concatenate(
        [f if f.shape[1:3] == (h, w) else jax.image.resize(f, (b, h, w, f.shape[-1]), "linear") for f in features],
        axis=-1)
    return unfold_cells(heads.mlp(head, stacked, cells_bhw), stride)


def unfold_cells(cells_bhwk: jax.Array, stride: int) -> jax.Array:
    """[B, h, w, stride·stride·C] -> [B, h·stride, w·stride, C]: a cell's vector, row-major, is its pixels."""
    b, h, w, k = cells_bhwk.shape
    c = k // (stride * stride)
    out = cells_bhwk.reshape(b, h, w, stride, stride, c).transpose(0, 1, 3, 2, 4, 5)
    return out.reshape(b, h * stride, w * stride, c)


def loss(ctx, params, state, batch, rng):
    m = ctx.method_cfg
    unlabeled = batch["unlabeled"]
    images = ctx.normalize(unlabeled["image"])
    valid = unlabeled["valid"]
    b, size = images.shape[0], images.shape[1]
    patch = int(m.patch_size)
    hidden = to_pixels(patch_mask(rng, b, (size // patch, size // patch), float(m.mask_ratio)), patch)
    inputs = jnp.where(hidden[..., None], 0.0, images)  # the dataset mean, once standardised

    features, batch_stats = ctx.encode(layout.model_params(params), state.batch_stats, inputs, train=True)
    stride = size // features[0].shape[1]
    cells = objectives.cell_valid(valid, features[0].shape[1:3])
    pred = reconstruct(params[layout.HEADS_KEY]["reconstruct"], features, stride, cells)
    target = normalised_targets(images, valid, patch) if m.norm_pix_loss else images
    scored = hidden & valid
    loss_mim = masked_mse(pred, target, scored)
    return loss_mim, {
        "batch_stats": batch_stats,
        # With normalised targets, predicting each patch's mean scores 1: below 1 is learned texture.
        "metrics": {"loss_mim": loss_mim, "hidden_fraction": jnp.mean(hidden.astype(jnp.float32)),
                    "loss_mim_visible": masked_mse(pred, target, ~hidden & valid)},
    }


METHOD = Method(
    name='pretrain_mim',
    defaults=defaults,
    loss=loss,
    uses_unlabeled=True,
    pretrain=True,
    init_params=init_params,
    eval_models=layout.eval_models,
    evaluate=probe.evaluate,
    pretrained_parts=layout.PRETRAINED_PARTS,  # the encoder; the reconstruction head is thrown away
)
