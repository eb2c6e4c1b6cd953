"""Projection / prediction heads as pure functions on plain-dict params.

An MLP is Linear -> BatchNorm -> ReLU -> Linear (BYOL's projector and
predictor; PixPro's dense projector is the same MLP applied per feature cell,
i.e. 1×1 convolutions). BatchNorm here always normalises with the statistics
of the current (masked) batch: the heads are thrown away after pretraining, so
they keep no running averages and add nothing to `batch_stats`.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

_BN_EPS = 1e-5


def init_linear(rng, in_dim: int, out_dim: int) -> dict:
    """He-normal kernel (fan-in), zero bias."""
    kernel = jax.nn.initializers.he_normal()(rng, (in_dim, out_dim), jnp.float32)
    return {"kernel": kernel, "bias": jnp.zeros((out_dim,), jnp.float32)}


def init_mlp(rng, in_dim: int, hidden_dim: int, out_dim: int) -> dict:
    k1, k2 = jax.random.split(rng)
    return {
        "fc1": init_linear(k1, in_dim, hidden_dim),
        "bn": {"scale": jnp.ones((hidden_dim,), jnp.float32), "bias": jnp.zeros((hidden_dim,), jnp.float32)},
        "fc2": init_linear(k2, hidden_dim, out_dim),
    }


def linear(p: dict, x: jax.Array) -> jax.Array:
    return x @ p["kernel"] + p["bias"]


def batch_norm(p: dict, x: jax.Array, weights: jax.Array | None) -> jax.Array:
    """Normalise rows of x [N, D] with the (weighted) batch mean/var; weights [N] in {0,1} skip padding."""
    if weights is None:
        weights = jnp.ones(x.shape[:1], x.dtype)
    w = weights[:, None].astype(x.dtype)
    count = jnp.maximum(w.sum(), 1.0)
    mean = (w * x).sum(0) / count
    var = (w * (x - mean) ** 2).sum(0) / count
    return (x - mean) * jax.lax.rsqrt(var + _BN_EPS) * p["scale"] + p["bias"]


def mlp(p: dict, x: jax.Array, weights: jax.Array | None = None) -> jax.Array:
    """x [..., D] -> [..., out]; BatchNorm statistics over every leading position (weighted)."""
    lead = x.shape[:-1]
    rows = x.reshape(-1, x.shape[-1])
    w = None if weights is None else weights.reshape(-1)
    hidden = jax.nn.relu(batch_norm(p["bn"], linear(p["fc1"], rows), w))
    out = linear(p["fc2"], hidden)
    return out.reshape(*lead, out.shape[-1])
