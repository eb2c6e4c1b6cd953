"""Data parallelism by sharding over a one-axis ("data",) mesh (no pmap).

With several processes (train/distributed.py) the mesh holds every process's
devices; each process supplies its own contiguous rows of a batch and
`shard_batch` assembles them into one global array. With one process the rows
are the whole batch.
"""

from __future__ import annotations

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from ssseg.errors import ConfigError


def make_mesh(devices=None) -> Mesh:
    devices = jax.devices() if devices is None else devices
    return Mesh(np.asarray(devices), ("data",))


def replicated(mesh: Mesh) -> NamedSharding:
    return NamedSharding(mesh, PartitionSpec())


def batch_sharding(mesh: Mesh) -> NamedSharding:
    return NamedSharding(mesh, PartitionSpec("data"))


def check_batch_size(batch_size: int, mesh: Mesh, key: str) -> None:
    n = mesh.devices.size
    if batch_size % n:
        raise ConfigError(f"{key}={batch_size}: must be a multiple of the {n} devices in the mesh")


def process_rows(batch_size: int) -> slice:
    """The rows of a global batch that this process loads: its contiguous share, in process order."""
    share = batch_size // jax.process_count()
    return slice(jax.process_index() * share, (jax.process_index() + 1) * share)


def shard_batch(local_batch, mesh: Mesh):
    """This process's rows of a batch (host numpy) -> global arrays split along the batch axis."""
    sharding = batch_sharding(mesh)
    return jax.tree.map(lambda rows: jax.make_array_from_process_local_data(sharding, rows), local_batch)


def shard_global_batch(batch, mesh: Mesh):
    """A whole batch that every process holds (e.g. evaluation) -> global arrays; each process gives its rows."""
    return shard_batch(jax.tree.map(lambda x: x[process_rows(x.shape[0])], batch), mesh)
