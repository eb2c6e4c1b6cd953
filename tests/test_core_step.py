"""The pure train step: determinism, learning, sharding over 2 devices, checkpoint resume."""

import jax
import numpy as np
import pytest
from conftest import fabricated_labeled_batch

from ssseg.train import checkpoint, sharding
from ssseg.train.setup import build_run
from ssseg.train.step import compile_train_step


@pytest.fixture(scope="module")
def setup():
    from ssseg.config.loader import load_config

    # The smoke schedule ends at step 4; a longer one keeps the lr up for these tests.
    cfg = load_config("experiments/synthetic_defects.py:method=supervised,smoke", ["--config.train.steps=100"])
    run = build_run(cfg)
    mesh = sharding.make_mesh()
    step_fn = compile_train_step(run.ctx, mesh)
    batch = {"labeled": fabricated_labeled_batch(cfg, len(run.spec.class_names))}
    return run, mesh, step_fn, batch


def _fresh_state(setup_):
    run, mesh, _, _ = setup_
    return jax.device_put(build_run(run.cfg).state, sharding.replicated(mesh))


def _steps(setup_, state, n, start=0):
    _, mesh, step_fn, batch = setup_
    rng = jax.random.key(0)
    losses = []
    for _ in range(n):
        state, metrics = step_fn(state, sharding.shard_batch(batch, mesh), rng)
        losses.append(float(metrics["loss"]))
    return state, losses


def test_mesh_uses_both_host_devices(setup):
    assert setup[1].devices.size == jax.device_count() == 2


def test_step_is_deterministic_and_learns(setup):
    state_a, losses_a = _steps(setup, _fresh_state(setup), 8)
    state_b, losses_b = _steps(setup, _fresh_state(setup), 8)
    assert losses_a == losses_b
    np.testing.assert_array_equal(
        jax.tree.leaves(state_a.params)[0], jax.tree.leaves(state_b.params)[0]
    )
    assert int(state_a.step) == 8
    assert losses_a[-1] < 0.9 * losses_a[0] and losses_a == sorted(losses_a, reverse=True), losses_a


def test_resume_from_checkpoint_matches_uninterrupted(setup, tmp_path):
    run = setup[0]
    uninterrupted, losses_full = _steps(setup, _fresh_state(setup), 6)

    first, losses_first = _steps(setup, _fresh_state(setup), 3)
    manager = checkpoint.make_manager(str(tmp_path), keep=1)
    checkpoint.save(manager, first)
    del first
    restored = checkpoint.restore(manager, _fresh_state(setup))
    assert int(restored.step) == 3
    restored = jax.device_put(restored, sharding.replicated(setup[1]))
    resumed, losses_rest = _steps(setup, restored, 3)
    assert losses_first + losses_rest == losses_full
    for a, b in zip(jax.tree.leaves(uninterrupted.params), jax.tree.leaves(resumed.params)):
        np.testing.assert_array_equal(a, b)
    assert run.cfg.method.name == "supervised"
