"""CutMix on device: a random box per example, filled from a partner image of the same batch.

Box distribution as UniMatch's `obtain_cutmix_box` (LiheYoung/UniMatch,
dataset/transform.py; /work/shared/PEERS.md): with probability p (0.5), area
fraction U[0.02, 0.4] of the crop, aspect ratio U[0.3, 1/0.3], integer sides
truncated, top-left corner uniform among positions where the box fits.
UniMatch re-draws until the box fits; here the ratio is drawn from the range
where it fits (the same distribution conditioned on fitting), so the draw is
one pass, branch-free and jit-friendly, and works for non-square crops.

The partner is the batch rolled by one (example i takes from i-1), as
UniMatch V2 takes it from the flipped batch: its pasted region brings its own
pseudo-labels, confidences and validity, so the same box is applied to every
per-pixel array with `paste_from_partner`.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

CUTMIX_PROB = 0.5
AREA_RANGE = (0.02, 0.4)
RATIO_RANGE = (0.3, 1 / 0.3)


def box_masks(key: jax.Array, batch: int, height: int, width: int, *, prob: float = CUTMIX_PROB,
              area_range=AREA_RANGE, ratio_range=RATIO_RANGE) -> jax.Array:
    """bool [B,H,W]: True inside each example's box (all False where the coin said no)."""
    keys = jax.random.split(key, batch)

    def one(k):
        k_on, k_area, k_ratio, k_x, k_y = jax.random.split(k, 5)
        area = jax.random.uniform(k_area, (), minval=area_range[0], maxval=area_range[1]) * height * width
        # w = sqrt(area / r) <= W and h = sqrt(area · r) <= H  <=>  area/W² <= r <= H²/area.
        lo = jnp.maximum(ratio_range[0], area / width**2)
        hi = jnp.minimum(ratio_range[1], height**2 / area)
        ratio = jax.random.uniform(k_ratio, (), minval=lo, maxval=jnp.maximum(hi, lo))
        box_w = jnp.clip(jnp.floor(jnp.sqrt(area / ratio)), 1, width).astype(jnp.int32)
        box_h = jnp.clip(jnp.floor(jnp.sqrt(area * ratio)), 1, height).astype(jnp.int32)
        x0 = jax.random.randint(k_x, (), 0, width - box_w + 1)
        y0 = jax.random.randint(k_y, (), 0, height - box_h + 1)
        xs, ys = jnp.arange(width)[None, :], jnp.arange(height)[:, None]
        inside = (xs >= x0) & (xs < x0 + box_w) & (ys >= y0) & (ys < y0 + box_h)
        return inside & (jax.random.uniform(k_on) < prob)

    return jax.vmap(one)(keys)


def partner(array_b: jax.Array) -> jax.Array:
    """The CutMix partner of every example: the batch rolled by one along its first axis."""
    return jnp.roll(array_b, 1, axis=0)


def paste_from_partner(box_bhw: jax.Array, *arrays):
    """Each array ([B,H,W] or [B,H,W,...]) with its partner's values inside the box."""
    mixed = []
    for array in arrays:
        box = box_bhw.reshape(box_bhw.shape + (1,) * (array.ndim - 3))
        mixed.append(jnp.where(box, partner(array), array))
    return tuple(mixed)
