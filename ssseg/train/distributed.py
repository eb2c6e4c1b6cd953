"""Multi-host start-up: `jax.distributed.initialize()` when the environment names a cluster.

Every host (or every GPU) runs the same `ssseg train` command; JAX joins the
processes into one runtime whose `jax.devices()` are all of them, so the
("data",) mesh, the jitted step and orbax's checkpoints span the hosts with no
other change. Each process loads only its rows of every batch
(data/pipeline.py `shard`), only process 0 writes the workdir's files
(config.json, metrics.jsonl, result.json); checkpoints are written by all
processes together (orbax).

The environment decides (nothing set: one process, nothing initialised):
  SSSEG_COORDINATOR=host:port with SSSEG_NUM_PROCESSES and SSSEG_PROCESS_ID
      explicit, e.g. several processes on one machine;
  JAX_COORDINATOR_ADDRESS  jax's own variables (with JAX_NUM_PROCESSES, JAX_PROCESS_ID);
  SSSEG_DISTRIBUTED=1      jax's cluster detection: SLURM (`srun`, one task per
      GPU), Cloud TPU pod slices, Open MPI, Kubernetes.
"""

from __future__ import annotations

import os
from typing import Mapping

import jax

from ssseg.errors import ConfigError


def initialize_from_env(environ: Mapping[str, str] = os.environ) -> bool:
    """Join the cluster the environment names (before any other JAX call); True if distributed."""
    if jax.distributed.is_initialized():
        return True
    coordinator = environ.get("SSSEG_COORDINATOR", "")
    if coordinator:
        try:
            num_processes, process_id = int(environ["SSSEG_NUM_PROCESSES"]), int(environ["SSSEG_PROCESS_ID"])
        except (KeyError, ValueError):
            raise ConfigError(f"SSSEG_COORDINATOR={coordinator!r}: also set SSSEG_NUM_PROCESSES and "
                              "SSSEG_PROCESS_ID to integers (the process count and this process's index)") from None
        jax.distributed.initialize(coordinator, num_processes, process_id)
        return True
    if environ.get("JAX_COORDINATOR_ADDRESS") or environ.get("SSSEG_DISTRIBUTED", "") not in ("", "0"):
        jax.distributed.initialize()
        return True
    return False


def is_main_process() -> bool:
    """The process that writes the workdir's files (process 0; True without a cluster)."""
    return jax.process_index() == 0
