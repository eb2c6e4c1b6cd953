"""The pure-function boundary around the NNX models: (graphdef, params, batch_stats) in, arrays out.

params and batch_stats are plain nested dicts with string keys (list indices
become "0", "1", ...), so optax, orbax and jax.tree_util see ordinary
pytrees. The graphdef is hashable: pass it as a static argument to jax.jit.

Outputs (logits, embeddings) are float32 whatever the model computes in
(train.compute_dtype), so losses and softmax never run in bfloat16; features
between `encode` and `decode` stay in the compute dtype.

Every model keeps its trunk under the top-level key "encoder" and everything
else (decoder, classifier) under other keys: that is what `head_mask` and
`encoder_subtree` rely on.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

ENCODER_KEY = "encoder"
Tree = dict[str, Any]


def _stringify_keys(tree: Any) -> Any:
    if isinstance(tree, dict):
        return {str(k): _stringify_keys(v) for k, v in tree.items()}
    return tree


def _nnx_keys(tree: Any) -> Any:
    # Python attribute names never consist of digits, so all-digit keys are nnx.List indices.
    if isinstance(tree, dict):
        return {(int(k) if k.isdigit() else k): _nnx_keys(v) for k, v in tree.items()}
    return tree


def split_model(model: nnx.Module) -> tuple[nnx.GraphDef, Tree, Tree]:
    """(graphdef, params, batch_stats) of `model`, the latter two as pure string-keyed dicts."""
    graphdef, params, batch_stats = nnx.split(model, nnx.Param, nnx.BatchStat)
    return graphdef, _stringify_keys(params.to_pure_dict()), _stringify_keys(batch_stats.to_pure_dict())


def merge_model(graphdef: nnx.GraphDef, params: Tree, batch_stats: Tree) -> nnx.Module:
    """A fresh module holding copies of `params` / `batch_stats` (safe inside jit: inputs are never mutated)."""
    return nnx.merge(graphdef, nnx.State(_nnx_keys(params)), nnx.State(_nnx_keys(batch_stats)), copy=True)


def _f32(x: jax.Array) -> jax.Array:
    return x.astype(jnp.float32)


def _batch_stats_of(model: nnx.Module) -> Tree:
    return _stringify_keys(nnx.state(model, nnx.BatchStat).to_pure_dict())


def apply_model(graphdef: nnx.GraphDef, params: Tree, batch_stats: Tree, images_bhwc: jax.Array, *,
                train: bool) -> tuple[jax.Array, Tree]:
    """(logits_bhwc at input resolution, new batch_stats); batch_stats are unchanged when not training."""
    model = merge_model(graphdef, params, batch_stats)
    logits_bhwc = model(images_bhwc, train)
    return _f32(logits_bhwc), _batch_stats_of(model)


def encode(graphdef: nnx.GraphDef, params: Tree, batch_stats: Tree, images_bhwc: jax.Array, *,
           train: bool) -> tuple[tuple[jax.Array, ...], Tree]:
    """(features tuple, new batch_stats): the half of `apply_model` before feature perturbation."""
    model = merge_model(graphdef, params, batch_stats)
    features = model.encode(images_bhwc, train)
    return features, _batch_stats_of(model)


def decode(graphdef: nnx.GraphDef, params: Tree, batch_stats: Tree, features: tuple[jax.Array, ...],
           out_hw: tuple[int, int], *, train: bool) -> tuple[jax.Array, Tree]:
    """(logits_bhwc at `out_hw`, new batch_stats): the half of `apply_model` after feature perturbation."""
    model = merge_model(graphdef, params, batch_stats)
    logits_bhwc = model.decode(features, out_hw, train)
    return _f32(logits_bhwc), _batch_stats_of(model)


def apply_with_embedding(graphdef: nnx.GraphDef, params: Tree, batch_stats: Tree, images_bhwc: jax.Array, *,
                         train: bool) -> tuple[jax.Array, jax.Array, Tree]:
    """(logits_bhwc at input resolution, decoder embedding [B,h,w,D] before the classifier, new batch_stats)."""
    model = merge_model(graphdef, params, batch_stats)
    logits_bhwc, embedding = model.decode_with_embedding(model.encode(images_bhwc, train), images_bhwc.shape[1:3], train)
    return _f32(logits_bhwc), _f32(embedding), _batch_stats_of(model)


def is_head_path(path: tuple[str, ...]) -> bool:
    """True for a leaf outside the encoder (decoder / classifier: gets the head LR multiplier)."""
    return not path or path[0] != ENCODER_KEY


def _key_name(entry: Any) -> str:
    return str(getattr(entry, "key", getattr(entry, "name", getattr(entry, "idx", entry))))


def tree_paths(tree: Tree) -> dict[tuple[str, ...], Any]:
    """{(key, ..., leaf_name): leaf} for a nested dict pytree."""
    return {tuple(_key_name(e) for e in path): leaf
            for path, leaf in jax.tree_util.tree_leaves_with_path(tree)}


def head_mask(params: Tree) -> Tree:
    """Same structure as `params`, True where the leaf belongs to the decoder/head (optax.masked-ready)."""
    return jax.tree_util.tree_map_with_path(
        lambda path, _: is_head_path(tuple(_key_name(e) for e in path)), params)


def encoder_subtree(tree: Tree) -> Tree:
    """The encoder's part of a params or batch_stats tree."""
    return tree[ENCODER_KEY]


def transplant(target: Tree, source: Tree, *, include_head: bool = True) -> tuple[Tree, dict[str, list[str]]]:
    """Copy leaves of `source` into `target` where the path exists and the shape matches.

    For `init_from`: the encoder transfers between checkpoints of the same
    backbone, the decoder too unless its classifier's class count differs.
    Returns (new target, {"loaded", "shape_mismatch", "missing", "unused"}: dotted paths).
    """
    source_leaves = tree_paths(source)
    report: dict[str, list[str]] = {"loaded": [], "shape_mismatch": [], "missing": [], "unused": []}
    used = set()

    def pick(path_entries, leaf):
        path = tuple(_key_name(e) for e in path_entries)
        name = ".".join(path)
        if not include_head and is_head_path(path):
            return leaf
        if path not in source_leaves:
            report["missing"].append(name)
            return leaf
        used.add(path)
        new = source_leaves[path]
        if np.shape(new) != np.shape(leaf):
            report["shape_mismatch"].append(f"{name}: {np.shape(new)} vs {np.shape(leaf)}")
            return leaf
        report["loaded"].append(name)
        return jax.numpy.asarray(new, dtype=jax.numpy.asarray(leaf).dtype)

    merged = jax.tree_util.tree_map_with_path(pick, target)
    report["unused"] = sorted(".".join(p) for p in source_leaves
                              if p not in used and (include_head or not is_head_path(p)))
    return merged, report
