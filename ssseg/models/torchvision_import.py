"""Load torchvision-layout ResNet weights (safetensors) into a model's encoder params and batch stats."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import jax.numpy as jnp
import numpy as np

from ssseg.errors import CheckpointError
from ssseg.models.functional import ENCODER_KEY, Tree, tree_paths

# Our stem module paths -> torchvision prefixes (standard stem and UniMatch's deep stem,
# whose nn.Sequential puts ReLUs at indices 2 and 5).
_STEM_PREFIX = {
    ("stem", "conv"): "conv1",
    ("stem", "bn"): "bn1",
    ("stem", "conv_a", "conv"): "conv1.0",
    ("stem", "conv_a", "bn"): "conv1.1",
    ("stem", "conv_b", "conv"): "conv1.3",
    ("stem", "conv_b", "bn"): "conv1.4",
    ("stem", "conv_c"): "conv1.6",
}
_BLOCK_MODULE = {"downsample_conv": "downsample.0", "downsample_bn": "downsample.1"}
_LEAF = {"kernel": "weight", "scale": "weight", "bias": "bias", "mean": "running_mean", "var": "running_var"}
_FIRST_CONV_KEYS = ("conv1.weight", "conv1.0.weight")
# Present in torchvision state dicts but meaningless for the encoder.
_IGNORED_PREFIXES = ("fc.",)
_IGNORED_SUFFIXES = (".num_batches_tracked",)


@dataclasses.dataclass
class ImportReport:
    path: str
    loaded: list[str] = dataclasses.field(default_factory=list)
    missing: list[str] = dataclasses.field(default_factory=list)        # encoder leaves with no key in the file
    unexpected: list[str] = dataclasses.field(default_factory=list)     # file keys that map to no leaf
    shape_mismatch: list[str] = dataclasses.field(default_factory=list)
    ignored: list[str] = dataclasses.field(default_factory=list)        # fc.*, num_batches_tracked
    summed_rgb_stem: bool = False

    def summary(self) -> str:
        lines = [f"pretrained weights {self.path}: loaded {len(self.loaded)}, missing {len(self.missing)}, "
                 f"unexpected {len(self.unexpected)}, shape-mismatched {len(self.shape_mismatch)}, "
                 f"ignored {len(self.ignored)}"]
        if self.summed_rgb_stem:
            lines.append("  first conv: RGB filters summed over input channels for 1-channel input")
        for name in ("missing", "unexpected", "shape_mismatch"):
            keys = getattr(self, name)
            if keys:
                shown = ", ".join(keys[:8]) + (" ..." if len(keys) > 8 else "")
                lines.append(f"  {name}: {shown}")
        return "\n".join(lines)


def torchvision_key(encoder_path: tuple[str, ...]) -> str:
    """torchvision state-dict key of one encoder leaf, e.g. ('layer1','0','conv1','kernel') -> 'layer1.0.conv1.weight'."""
    *module, leaf = encoder_path
    module = tuple(module)
    if module in _STEM_PREFIX:
        prefix = _STEM_PREFIX[module]
    else:
        prefix = ".".join(_BLOCK_MODULE.get(part, part) for part in module)
    return f"{prefix}.{_LEAF.get(leaf, leaf)}"


def _convert(key: str, array: np.ndarray, expected_shape: tuple[int, ...], report: ImportReport) -> np.ndarray:
    if array.ndim == 4:  # conv OIHW -> HWIO
        if key in _FIRST_CONV_KEYS and array.shape[1] == 3 and expected_shape[2] == 1:
            # Grayscale input: a gray image equals R=G=B, so summed RGB filters give the same response.
            array = array.sum(axis=1, keepdims=True)
            report.summed_rgb_stem = True
        array = array.transpose(2, 3, 1, 0)
    return array


def load_torchvision_resnet(path: str | Path, params: Tree, batch_stats: Tree, *,
                            strict_shapes: bool = True) -> tuple[Tree, Tree, ImportReport]:
    """Copy a torchvision ResNet state dict (safetensors) into the "encoder" subtrees.

    `params` / `batch_stats` are the pure dicts of `functional.split_model`.
    Returns new trees and an ImportReport. Raises CheckpointError naming the key
    when a tensor's shape does not fit (unless strict_shapes=False, then it is
    only reported).
    """
    from safetensors.numpy import load_file  # local: only needed when weights are imported

    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"model.pretrained={str(path)!r}: no such file (expected a .safetensors state dict)")
    try:
        tensors: dict[str, np.ndarray] = load_file(str(path))
    except Exception as exc:  # safetensors raises its own error types
        raise CheckpointError(f"model.pretrained={str(path)!r}: cannot read as safetensors ({exc})") from exc

    report = ImportReport(path=str(path))
    used: set[str] = set()

    def fill(tree: Tree) -> Tree:
        leaves = tree_paths(tree.get(ENCODER_KEY, {}))
        new_leaves: dict[tuple[str, ...], Any] = {}
        for enc_path, leaf in leaves.items():
            key = torchvision_key(enc_path)
            if key not in tensors:
                report.missing.append(key)
                continue
            used.add(key)
            value = _convert(key, np.asarray(tensors[key]), tuple(np.shape(leaf)), report)
            if value.shape != tuple(np.shape(leaf)):
                report.shape_mismatch.append(
                    f"{key}: file {tuple(tensors[key].shape)} -> {value.shape}, model expects {tuple(np.shape(leaf))}")
                continue
            new_leaves[enc_path] = jnp.asarray(value, dtype=jnp.asarray(leaf).dtype)
            report.loaded.append(key)
        return _replace_leaves(tree, new_leaves)

    if ENCODER_KEY not in params:
        raise CheckpointError(f"model params have no {ENCODER_KEY!r} subtree to load {str(path)!r} into")
    new_params, new_stats = fill(params), fill(batch_stats)
    for key in sorted(tensors):
        if key in used:
            continue
        if key.startswith(_IGNORED_PREFIXES) or key.endswith(_IGNORED_SUFFIXES):
            report.ignored.append(key)
        else:
            report.unexpected.append(key)
    if report.shape_mismatch and strict_shapes:
        raise CheckpointError(f"model.pretrained={str(path)!r}: shape mismatch for "
                              + "; ".join(report.shape_mismatch[:4]))
    return new_params, new_stats, report


def _replace_leaves(tree: Tree, encoder_leaves: dict[tuple[str, ...], Any]) -> Tree:
    def rebuild(node: Any, prefix: tuple[str, ...]) -> Any:
        if isinstance(node, dict):
            return {k: rebuild(v, prefix + (k,)) for k, v in node.items()}
        return encoder_leaves.get(prefix, node)

    out = dict(tree)
    out[ENCODER_KEY] = rebuild(tree[ENCODER_KEY], ())
    return out
