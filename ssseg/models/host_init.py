"""Host-side (numpy) parameter initialisation for build_model, following PyTorch's ResNet/DeepLab init.

Initialising through jax.random compiles one XLA RNG kernel per parameter
shape: ~20 s on a shared 2-core CPU before the first step of a small model.
numpy draws the same distributions in milliseconds. Each leaf gets its own
stream seeded by (seed, crc32 of its path), so adding a module elsewhere does
not change the values of the others.
"""

from __future__ import annotations

import zlib
from typing import Any

import numpy as np

from ssseg.errors import ConfigError

Tree = dict[str, Any]


def _rng(seed: int, path: tuple[str, ...]) -> np.random.Generator:
    return np.random.default_rng([int(seed), zlib.crc32("/".join(path).encode())])


def _init_module(module: Tree, path: tuple[str, ...], seed: int) -> Tree:
    if "kernel" in module:
        kernel_shape = tuple(module["kernel"].shape)  # HWIO
        *window, fan_in_channels, out_channels = kernel_shape
        receptive = int(np.prod(window)) if window else 1
        if "bias" in module:
            # conv with bias (the classifiers): PyTorch's default kaiming_uniform(a=√5) => U(±1/√fan_in)
            bound = 1.0 / np.sqrt(receptive * fan_in_channels)
            return {"kernel": _rng(seed, path + ("kernel",)).uniform(-bound, bound, kernel_shape),
                    "bias": _rng(seed, path + ("bias",)).uniform(-bound, bound, module["bias"].shape)}
        # conv before BatchNorm: torchvision's kaiming_normal(fan_out, relu)
        std = np.sqrt(2.0 / (receptive * out_channels))
        return {"kernel": _rng(seed, path + ("kernel",)).normal(0.0, std, kernel_shape)}
    if "scale" in module or "mean" in module:  # BatchNorm params or running stats
        values = {"scale": np.ones, "bias": np.zeros, "mean": np.zeros, "var": np.ones}
        return {name: values[name](leaf.shape) for name, leaf in module.items()}
    raise ConfigError(f"host_init: no initialiser for module {'.'.join(path)!r} with leaves {sorted(module)}")


def init_tree(abstract_tree: Tree, seed: int) -> Tree:
    """Concrete float32 numpy arrays for an abstract (ShapeDtypeStruct) params or batch_stats tree."""

    def walk(node: Tree, path: tuple[str, ...]) -> Tree:
        if any(not isinstance(v, dict) for v in node.values()):
            init = _init_module(node, path, seed)
            return {k: np.asarray(v, dtype=node[k].dtype) for k, v in init.items()}
        return {k: walk(v, path + (k,)) for k, v in node.items()}

    return walk(abstract_tree, ())
