"""The training state: one pytree that crosses the jit boundary and is checkpointed."""

from __future__ import annotations

from typing import Any

import flax.struct
import jax.numpy as jnp


@flax.struct.dataclass
class TrainState:
    """Everything a step reads and writes.

    `params`/`batch_stats` are the student's; `extra` holds what a method adds
    (an EMA teacher, per-class thresholds, a second network), so methods share
    one step and one checkpoint format.
    """

    step: jnp.ndarray
    params: Any
    batch_stats: Any
    opt_state: Any
    extra: Any
