"""Orbax checkpoints of the whole TrainState: periodic saves, keep-last-k, resume.

Saves are atomic (orbax writes to a temporary folder and renames), so a run
killed with -9 mid-save resumes from the previous complete step. The data
position needs no saving: batches are a pure function of (seed, step).
"""

from __future__ import annotations

import os

import jax
import orbax.checkpoint as ocp

from ssseg.errors import CheckpointError


def checkpoint_dir(workdir: str) -> str:
    return os.path.join(os.path.abspath(workdir), "checkpoints")


def make_manager(workdir: str, keep: int = 2, read_only: bool = False) -> ocp.CheckpointManager:
    options = ocp.CheckpointManagerOptions(
        max_to_keep=keep, create=not read_only, enable_async_checkpointing=False, read_only=read_only
    )
    return ocp.CheckpointManager(checkpoint_dir(workdir), options=options)


def save(manager: ocp.CheckpointManager, state) -> None:
    step = int(jax.device_get(state.step))
    if manager.latest_step() == step:
        return
    manager.save(step, args=ocp.args.StandardSave(state))
    manager.wait_until_finished()


def restore(manager: ocp.CheckpointManager, target_state, step: int | None = None):
    """Restore into the structure (and shardings) of `target_state`."""
    step = manager.latest_step() if step is None else step
    if step is None:
        raise CheckpointError(f"no checkpoint in {manager.directory}")
    abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, target_state)
    try:
        return manager.restore(step, args=ocp.args.StandardRestore(abstract))
    except (ValueError, KeyError) as e:
        raise CheckpointError(
            f"checkpoint {manager.directory}/{step} does not match this model/config: {str(e).splitlines()[0]}"
        ) from None
