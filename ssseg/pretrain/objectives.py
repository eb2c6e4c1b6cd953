"""The self-supervised objectives: BYOL (global) and PixPro (dense, exact correspondence).

Both are written as 2 − 2·cos between an online output and a stop-gradient
target, so identical, aligned inputs give exactly 0 and the worst case is 4.

BYOL: Grill et al., "Bootstrap your own latent", NeurIPS 2020, eq. 2.
PixPro: Xie et al., "Propagate Yourself: Exploring Pixel-Level Consistency for
Unsupervised Visual Representation Learning", CVPR 2021, §3.1-3.2: two feature
cells of the two views are a positive pair when their centres, mapped back to
the source image, are closer than `radius` feature-cell diagonals (0.7 in the
paper); the online features pass through the pixel propagation module (PPM),
y_i = Σ_j max(cos(x_i, x_j), 0)^γ · g(x_j), γ = 2. PixContrast (the same
paper's §3.1 baseline) replaces the regression by InfoNCE whose negatives are
every other cell, of the same image and of the others in the batch.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from ssseg.pretrain import heads
from ssseg.pretrain.views import ViewGeometry, cell_diagonal, grid_to_source

_EPS = 1e-6


def _unit(x: jax.Array) -> jax.Array:
    return x * jax.lax.rsqrt(jnp.maximum(jnp.sum(x * x, axis=-1, keepdims=True), _EPS**2))


def byol_loss(online: jax.Array, target: jax.Array, weights: jax.Array | None = None) -> jax.Array:
    """Mean over rows of 2 − 2·cos(online, stop_grad(target)); rows [N, D], optional weights [N]."""
    per_row = 2.0 - 2.0 * jnp.sum(_unit(online) * _unit(jax.lax.stop_gradient(target)), axis=-1)
    if weights is None:
        return per_row.mean()
    return jnp.sum(per_row * weights) / jnp.maximum(jnp.sum(weights), 1.0)


def spread(z: jax.Array, weights: jax.Array | None = None) -> jax.Array:
    """Collapse monitor: mean per-dimension std of the unit-normalised rows of z [N, D], × sqrt(D).

    ~1 when the rows point in many directions, 0 when they all point the same way
    (a collapsed projector); `weights` [N] (0/1) leaves rows out."""
    unit = _unit(z)
    w = jnp.ones(z.shape[:1], z.dtype) if weights is None else weights.astype(z.dtype)
    total = jnp.maximum(w.sum(), 1.0)
    mean = jnp.sum(unit * w[:, None], axis=0) / total
    var = jnp.sum((unit - mean) ** 2 * w[:, None], axis=0) / total
    return jnp.sqrt(var).mean() * jnp.sqrt(z.shape[-1])


def masked_mean_pool(features_bhwc: jax.Array, valid_bhw: jax.Array) -> jax.Array:
    """Global average over valid cells: [B, C]."""
    w = valid_bhw.astype(features_bhwc.dtype)[..., None]
    return jnp.sum(features_bhwc * w, axis=(1, 2)) / jnp.maximum(jnp.sum(w, axis=(1, 2)), 1.0)


def cell_valid(view_valid_bhw: jax.Array, grid_hw: tuple[int, int]) -> jax.Array:
    """A feature cell counts when most of the view pixels it covers are real (not padding): [B, gh, gw]."""
    b = view_valid_bhw.shape[0]
    frac = jax.image.resize(view_valid_bhw.astype(jnp.float32), (b, *grid_hw), "linear", antialias=True)
    return frac > 0.5


def positive_pairs(geom_a: ViewGeometry, geom_b: ViewGeometry, grid_a, grid_b, radius: float) -> jax.Array:
    """[B, Na, Nb] bool: cell i of view a and cell j of view b lie within `radius` cell diagonals
    of each other in source pixels (the diagonal of the larger of the two views' cells)."""
    pa = grid_to_source(geom_a, grid_a)
    pb = grid_to_source(geom_b, grid_b)
    dist = jnp.sqrt(jnp.sum((pa[:, :, None, :] - pb[:, None, :, :]) ** 2, axis=-1))
    diag = jnp.maximum(cell_diagonal(geom_a, grid_a), cell_diagonal(geom_b, grid_b))
    return dist < radius * diag[:, None, None]


def pixel_propagation(x: jax.Array, valid: jax.Array, transform: dict, gamma: float) -> jax.Array:
    """PPM on x [B, N, D]: y_i = Σ_j max(cos(x_i, x_j), 0)^γ · g(x_j) over valid j; g linear."""
    xn = _unit(x)
    sim = jnp.maximum(jnp.einsum("bid,bjd->bij", xn, xn), 0.0) ** gamma
    sim = sim * valid[:, None, :].astype(sim.dtype)
    return jnp.einsum("bij,bjd->bid", sim, heads.linear(transform, x))


def pixpro_loss(online: jax.Array, target: jax.Array, positives: jax.Array) -> jax.Array:
    """2 − 2·cos averaged over the positive pairs of each image, then over images that have any.

    online [B, Na, D] (view a, after PPM), target [B, Nb, D] (view b, stop-gradient), positives [B, Na, Nb]."""
    cos = jnp.einsum("bid,bjd->bij", _unit(online), _unit(jax.lax.stop_gradient(target)))
    pos = positives.astype(cos.dtype)
    count = pos.sum(axis=(1, 2))
    per_image = jnp.sum((2.0 - 2.0 * cos) * pos, axis=(1, 2)) / jnp.maximum(count, 1.0)
    has_pairs = (count > 0).astype(cos.dtype)
    return jnp.sum(per_image * has_pairs) / jnp.maximum(has_pairs.sum(), 1.0)


_MASKED_LOGIT = -1e9  # finite, so masked rows keep finite gradients (exp underflows to 0)


def pixcontrast_loss(online: jax.Array, target: jax.Array, positives: jax.Array, target_valid: jax.Array,
                     tau: float) -> jax.Array:
    """Multi-positive InfoNCE per cell of view a, averaged over the cells that have a positive.

    −log Σ_{j∈P(i)} exp(cos(q_i, k_j)/τ) / Σ_j exp(cos(q_i, k_j)/τ), the denominator over the valid
    cells of view b of every image in the batch: other cells of the same image are negatives, which
    is what keeps neighbouring regions (a defect and the tile around it) apart. online [B, Na, D],
    target [B, Nb, D] (stop-gradient), positives [B, Na, Nb], target_valid [B, Nb]."""
    b, na, d = online.shape
    nb = target.shape[1]
    q = _unit(online).reshape(b * na, d)
    k = _unit(jax.lax.stop_gradient(target)).reshape(b * nb, d)
    logits = jnp.where(target_valid.reshape(1, b * nb), (q @ k.T) / tau, _MASKED_LOGIT)
    same_image = jnp.eye(b, dtype=bool)[:, None, :, None]
    pos = (positives[:, :, None, :] & same_image).reshape(b * na, b * nb)
    log_den = jax.nn.logsumexp(logits, axis=1)
    log_num = jax.nn.logsumexp(jnp.where(pos, logits, _MASKED_LOGIT), axis=1)
    has = pos.any(axis=1)
    return jnp.sum(jnp.where(has, log_den - log_num, 0.0)) / jnp.maximum(has.sum(), 1)
