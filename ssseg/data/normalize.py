"""Model input normalisation, in one place: uint8 pixels -> [0, 1] -> standardised by the dataset's mean/std.

Photometric augmentations work in [0, 1] (`to_unit`), the model sees
`standardize` of that; training, evaluation, prediction and active-learning
scoring all call these, so the model always sees the same input scale.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


def to_unit(images_uint8: jax.Array) -> jax.Array:
    """uint8 [..., C] -> float32 in [0, 1]."""
    return images_uint8.astype(jnp.float32) / 255.0


def standardize(images01: jax.Array, mean, std) -> jax.Array:
    """[0, 1] floats -> (x - mean) / std per channel."""
    return (images01 - jnp.asarray(mean, jnp.float32)) / jnp.asarray(std, jnp.float32)


def normalize(images_uint8: jax.Array, mean, std) -> jax.Array:
    """uint8 -> standardised float32, as the model expects."""
    return standardize(to_unit(images_uint8), mean, std)
