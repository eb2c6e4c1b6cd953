"""A few real (compiled) train steps per method on tiny shapes: the loss falls, a key fixes a step.

Steps are compiled without LLVM optimisation (xla_backend_optimization_level
0): on tiny shapes this halves compile time, which dominates these tests.
"""

import functools

import jax
import numpy as np
import pytest
from conftest import fabricated_labeled_batch
from test_methods import ALL_METHODS, fabricated_unlabeled_batch, method_config

from ssseg.train import sharding
from ssseg.train.setup import build_run
from ssseg.train.step import train_step

FAST_COMPILE = {"xla_backend_optimization_level": 0}


def _compiled(name):
    run = build_run(method_config(name))
    mesh = sharding.make_mesh()
    replicated = sharding.replicated(mesh)
    step = jax.jit(functools.partial(train_step, ctx=run.ctx),
                   in_shardings=(replicated, sharding.batch_sharding(mesh), replicated),
                   out_shardings=(replicated, replicated), compiler_options=FAST_COMPILE)
    num_classes = len(run.spec.class_names)
    batch = {"labeled": fabricated_labeled_batch(run.cfg, num_classes)}
    if run.ctx.method.uses_unlabeled:
        batch["unlabeled"] = fabricated_unlabeled_batch(run.cfg, num_classes)
    state = jax.device_put(run.state, replicated)
    return run, step, state, sharding.shard_batch(batch, mesh)


@pytest.fixture(scope="module")
def compiled():
    cache = {}

    def get(name):
        if name not in cache:
            cache[name] = _compiled(name)
        return cache[name]

    return get


# CPS compiles two networks (twice the others' compile time): slow on 2 shared cores.
SLOW = {"cps"}


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.slow) if n in SLOW else n for n in ALL_METHODS])
def test_a_few_steps_decrease_the_loss(compiled, name):
    _, step, state, batch = compiled(name)
    rng = jax.random.key(0)
    losses = []
    for _ in range(8):
        state, metrics = step(state, batch, rng)
        losses.append(float(metrics["loss"]))
    assert all(np.isfinite(losses)), losses
    assert losses[-1] < 0.85 * losses[0], losses
    if "mask_ratio" in metrics:
        assert 0.0 <= float(metrics["mask_ratio"]) <= 1.0


def test_a_step_is_a_function_of_its_key(compiled):
    _, step, state, batch = compiled("unimatch")
    out_a, metrics_a = step(state, batch, jax.random.key(1))
    out_again, metrics_again = step(state, batch, jax.random.key(1))
    out_b, metrics_b = step(state, batch, jax.random.key(2))
    assert float(metrics_a["loss"]) == float(metrics_again["loss"])
    for x, y in zip(jax.tree.leaves(out_a), jax.tree.leaves(out_again)):
        np.testing.assert_array_equal(x, y)
    # Another key: other strong views, other FP dropout masks, so other gradients.
    assert any(not np.array_equal(x, y) for x, y in zip(jax.tree.leaves(out_a.params), jax.tree.leaves(out_b.params)))
