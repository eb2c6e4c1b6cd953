"""The fused BatchNorm(+residual)(+ReLU) equals nnx.BatchNorm followed by the add and the ReLU: values,
running statistics and every gradient."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from ssseg.models.batch_norm import BatchNorm
from ssseg.models.layers import BN_EPS, BN_MOMENTUM


def _pair(channels, dtype=None):
    kwargs = dict(momentum=BN_MOMENTUM, epsilon=BN_EPS, dtype=dtype)
    reference, fused = nnx.BatchNorm(channels, rngs=nnx.Rngs(0), **kwargs), BatchNorm(channels, rngs=nnx.Rngs(0), **kwargs)
    for bn, seed in ((reference, 1), (fused, 1)):   # the same non-trivial parameters and statistics on both
        keys = jax.random.split(jax.random.key(seed), 4)
        bn.scale[...] = 1.0 + 0.5 * jax.random.normal(keys[0], (channels,))
        bn.bias[...] = 0.3 * jax.random.normal(keys[1], (channels,))
        bn.mean[...] = 0.2 * jax.random.normal(keys[2], (channels,))
        bn.var[...] = 1.0 + jax.random.uniform(keys[3], (channels,))
    return reference, fused


def _inputs(shape):
    keys = jax.random.split(jax.random.key(7), 3)
    x = 2.0 * jax.random.normal(keys[0], shape) + 0.5
    residual = jax.random.normal(keys[1], shape)
    weight = jax.random.normal(keys[2], shape)   # a loss that is not symmetric in the output
    return x, residual, weight


def _loss_and_grads(bn, x, residual, weight, relu, train, fused):
    graphdef, params, stats = nnx.split(bn, nnx.Param, nnx.BatchStat)

    def loss(params, x, residual):
        model = nnx.merge(graphdef, params, stats, copy=True)
        if fused:
            y = model(x, use_running_average=not train, residual=residual, relu=relu)
        else:
            y = model(x, use_running_average=not train)
            y = y + residual if residual is not None else y
            y = jax.nn.relu(y) if relu else y
        new_stats = nnx.state(model, nnx.BatchStat)
        return jnp.sum(y * weight), (y, new_stats)

    argnums = (0, 1, 2) if residual is not None else (0, 1)
    (value, (y, new_stats)), grads = jax.jit(jax.value_and_grad(loss, argnums, has_aux=True))(params, x, residual)
    return y, new_stats, grads


@pytest.mark.parametrize("relu,with_residual,train", [(True, False, True), (False, False, True), (True, True, True),
                                                      (False, True, True), (True, True, False)])
def test_fused_batch_norm_matches_nnx(relu, with_residual, train):
    shape = (3, 5, 4, 6)
    x, residual, weight = _inputs(shape)
    residual = residual if with_residual else None
    reference, fused = _pair(shape[-1])
    want = _loss_and_grads(reference, x, residual, weight, relu, train, fused=False)
    got = _loss_and_grads(fused, x, residual, weight, relu, train, fused=True)
    np.testing.assert_allclose(got[0], want[0], rtol=1e-5, atol=1e-5)
    for name in ("mean", "var"):
        np.testing.assert_allclose(got[1][name][...], want[1][name][...], rtol=1e-6, atol=1e-6)
    for got_grad, want_grad in zip(jax.tree.leaves(got[2]), jax.tree.leaves(want[2]), strict=True):
        np.testing.assert_allclose(got_grad, want_grad, rtol=1e-4, atol=1e-5)
    if relu:   # the mask matters: some outputs are clipped
        assert 0 < float(jnp.mean(got[0] == 0)) < 1


def test_fused_batch_norm_gradient_of_its_statistics():
    """The returned batch statistics carry their gradient too (d mean/dx = 1/N, d var/dx = 2(x - mean)/N)."""
    from ssseg.models.batch_norm import batch_norm_train, _stats

    x, _, _ = _inputs((2, 3, 3, 4))
    scale, bias = jnp.ones(4), jnp.zeros(4)

    def fused(x):
        _, mean, var = batch_norm_train(x, scale, bias, None, True, BN_EPS, jnp.dtype(jnp.float32))
        return jnp.sum(mean * jnp.arange(4.0)) + jnp.sum(var * jnp.arange(1.0, 5.0))

    def plain(x):
        mean, var = _stats(x)
        return jnp.sum(mean * jnp.arange(4.0)) + jnp.sum(var * jnp.arange(1.0, 5.0))

    np.testing.assert_allclose(jax.grad(fused)(x), jax.grad(plain)(x), rtol=1e-4, atol=1e-6)


def test_fused_batch_norm_bf16_keeps_f32_statistics_and_follows_nnx():
    x, residual, weight = _inputs((2, 4, 4, 8))
    reference, fused = _pair(8, dtype=jnp.bfloat16)
    x, residual = x.astype(jnp.bfloat16), residual.astype(jnp.bfloat16)
    want = _loss_and_grads(reference, x, residual, weight, True, True, fused=False)
    got = _loss_and_grads(fused, x, residual, weight, True, True, fused=True)
    assert got[0].dtype == jnp.bfloat16 and got[1]["mean"][...].dtype == jnp.float32
    np.testing.assert_allclose(np.float32(got[0]), np.float32(want[0]), rtol=2e-2, atol=2e-2)
    for got_grad, want_grad in zip(jax.tree.leaves(got[2]), jax.tree.leaves(want[2]), strict=True):
        assert got_grad.dtype == want_grad.dtype
        np.testing.assert_allclose(np.float32(got_grad), np.float32(want_grad), rtol=5e-2, atol=5e-2)
