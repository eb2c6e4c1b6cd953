"""Train steps on several simulated CPU devices against one device, and resume across device counts.

tests/test_multidevice.py runs this in subprocesses, since a process's device
count is fixed when JAX starts (pytest's has 2):

    XLA_FLAGS=--xla_force_host_platform_device_count=4 python tests/multidevice.py step supervised
    XLA_FLAGS=--xla_force_host_platform_device_count=2 python tests/multidevice.py save DIR
    XLA_FLAGS=--xla_force_host_platform_device_count=4 python tests/multidevice.py resume DIR

`step`: one step of the method's golden run (tests/golden_steps.py) at batch 4
(+4 unlabeled) on a 1-device mesh and on a mesh of all devices, from the same
state, batch and key. `save`: two steps on all devices, then a checkpoint in
DIR. `resume`: DIR restored as the trainer restores it (into the state
replicated over the mesh) onto 4 devices and onto 1, two more steps each;
beside them four uninterrupted steps on 2 devices. Each prints one JSON line of
losses and relative differences for the test to judge.
"""

from __future__ import annotations

import json
import sys

import golden_steps as g
import jax
import numpy as np

from ssseg.train import checkpoint, sharding
from ssseg.train.setup import build_run
from ssseg.train.step import compile_train_step

BATCH = ("--config.data.batch_size=4", "--config.data.unlabeled_batch_size=4")


def _setup(name: str):
    cfg = g.config(name, *BATCH)
    run = build_run(cfg)
    streams = g.METHODS[name][0]
    spec = run.spec

    def batch(seed: int) -> dict:
        return g.fixed_batch(streams, 4, cfg.data.crop_size, spec.channels, len(spec.class_names), seed)

    return run, batch


def _on_mesh(state, mesh):
    # Fresh buffers: the step donates its input state, and device_put may alias the host state's.
    return jax.tree.map(lambda x: x.copy(), jax.device_put(state, sharding.replicated(mesh)))


def _steps(run, mesh, state, batches) -> tuple[object, list[float]]:
    step = None
    losses = []
    for host_batch in batches:
        batch = sharding.shard_batch(host_batch, mesh)
        if step is None:
            step = compile_train_step(run.ctx, mesh).lower(state, batch, jax.random.key(0)).compile(g.COMPILER_OPTIONS)
        state, metrics = step(state, batch, jax.random.key(0))
        losses.append(float(metrics["loss"]))
    return jax.device_get(state), losses


def _rel_diff(a, b, scale) -> float:
    """max |a - b| over all leaves, relative to max |scale|."""
    diffs = [np.max(np.abs(np.asarray(x, np.float64) - y)) for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b))]
    scales = [np.max(np.abs(np.asarray(s, np.float64))) for s in jax.tree.leaves(scale)]
    return float(max(diffs) / max(scales))


def _params_rel(reference, other, init) -> float:
    """max |a - b| beyond 2 float32 ulps of the parameter (an update of 2e-5 to a weight of 1 is
    rounded to its ulp, 1.2e-7, on either side), relative to the largest parameter update."""
    excess, scale = 0.0, 0.0
    for a, b, a0 in zip(jax.tree.leaves(reference), jax.tree.leaves(other), jax.tree.leaves(init)):
        a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
        ulps = 2 * np.spacing(np.maximum(np.abs(a), np.abs(b)).astype(np.float32)).astype(np.float64)
        excess = max(excess, float(np.max(np.maximum(np.abs(a - b) - ulps, 0.0))))
        scale = max(scale, float(np.max(np.abs(a - a0))))
    return excess / scale


def _compare(reference, other, init) -> dict:
    return {"params_rel": _params_rel(reference.params, other.params, init.params),
            "batch_stats_rel": _rel_diff(reference.batch_stats, other.batch_stats, reference.batch_stats),
            "extra_rel": _rel_diff(reference.extra, other.extra, reference.extra) if jax.tree.leaves(reference.extra) else 0.0}


def step(name: str) -> dict:
    run, batch = _setup(name)
    one, losses_one = _steps(run, sharding.make_mesh(jax.devices()[:1]), _on_mesh(run.state, sharding.make_mesh(jax.devices()[:1])), [batch(0)])
    mesh = sharding.make_mesh()
    many, losses_many = _steps(run, mesh, _on_mesh(run.state, mesh), [batch(0)])
    return {"devices": jax.device_count(), "loss_1": losses_one[0], "loss_n": losses_many[0],
            **_compare(one, many, jax.device_get(run.state))}


def save(workdir: str) -> dict:
    run, batch = _setup("supervised")
    mesh = sharding.make_mesh()
    state, losses = _steps(run, mesh, _on_mesh(run.state, mesh), [batch(1), batch(2)])
    checkpoint.save(checkpoint.make_manager(workdir, keep=1), jax.device_put(state, sharding.replicated(mesh)))
    return {"devices": jax.device_count(), "losses": losses}


def resume(workdir: str) -> dict:
    run, batch = _setup("supervised")
    init = jax.device_get(run.state)
    reference_mesh = sharding.make_mesh(jax.devices()[:2])
    reference, reference_losses = _steps(run, reference_mesh, _on_mesh(run.state, reference_mesh),
                                         [batch(s) for s in (1, 2, 3, 4)])
    out = {"devices": jax.device_count(), "reference_losses": reference_losses}
    manager = checkpoint.make_manager(workdir, read_only=True)
    for devices in (jax.devices(), jax.devices()[:1]):
        mesh = sharding.make_mesh(devices)
        # as the trainer restores: into the fresh state replicated over the new mesh
        restored = checkpoint.restore(manager, _on_mesh(build_run(run.cfg).state, mesh))
        assert int(restored.step) == 2 and jax.tree.leaves(restored.params)[0].sharding.mesh == mesh
        resumed, losses = _steps(run, mesh, restored, [batch(3), batch(4)])
        out[f"resumed_on_{len(devices)}"] = {"losses": losses, "step": int(resumed.step),
                                             **_compare(reference, resumed, init)}
    return out


if __name__ == "__main__":
    command, arg = sys.argv[1], sys.argv[2]
    print(json.dumps({"step": step, "save": save, "resume": resume}[command](arg)))
