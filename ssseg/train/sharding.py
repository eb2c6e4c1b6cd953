"""Data parallelism by sharding over a one-axis ("data",) mesh (no pmap)."""

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


def shard_batch(batch, mesh: Mesh):
    """Host numpy batch -> global arrays split along the batch axis."""
    return jax.device_put(batch, batch_sharding(mesh))
