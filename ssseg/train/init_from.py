"""`config.init_from`: start fine-tuning from another run's weights.

`init_from` is a run directory (its latest checkpoint) or a checkpoint folder
`<workdir>/checkpoints/<step>` (that step). The weights read are the source
method's first eval model (`eval_models`): the student of a supervised or
semi-supervised run, the segmentation-shaped network of a `pretrain_*` run.

- The encoder must match exactly: a name or shape mismatch is an error naming
  the first differing array, never a silent partial load.
- Other top-level parts (decoder) are loaded array by array where name and
  shape match; arrays that differ (e.g. a classifier for another number of
  classes) stay freshly initialised and are listed.
- Parts the source method did not train (its `pretrained_parts`, e.g. only
  the encoder for self-supervised pretraining) are not loaded at all.
- Methods that keep several networks side by side (CPS: {"a": net, "b":
  net}) get the source's weights in each of them.
- Optimizer state and step start fresh; a method's `init_extra` (e.g. an EMA
  teacher) is rebuilt from the loaded weights.

What was loaded and what was initialised fresh is printed.
"""

from __future__ import annotations

import os

import jax
import numpy as np

from ssseg.errors import CheckpointError
from ssseg.models.functional import ENCODER_KEY
from ssseg.train import checkpoint
from ssseg.train.setup import build_run, init_key, load_config_json


def resolve_source(path: str) -> tuple[str, int | None]:
    """(run directory, checkpoint step or None for the latest) from a workdir or checkpoint path."""
    path = os.path.abspath(os.path.expanduser(path))
    if not os.path.exists(path):
        raise CheckpointError(f"init_from={path!r} does not exist (expected a run directory or its checkpoints/<step>)")
    step = None
    if os.path.basename(path).isdigit() and os.path.basename(os.path.dirname(path)) == "checkpoints":
        step = int(os.path.basename(path))
    for candidate in (path, os.path.dirname(path), os.path.dirname(os.path.dirname(path))):
        if os.path.isfile(os.path.join(candidate, "config.json")):
            return candidate, step
    raise CheckpointError(f"init_from={path!r}: no ssseg run found (expected a workdir with config.json and checkpoints/)")


def _leaves(tree) -> dict:
    return {jax.tree_util.keystr(p): x for p, x in jax.tree_util.tree_leaves_with_path(tree)}


def _cast(source_leaf, target_leaf):
    return np.asarray(source_leaf, dtype=np.asarray(target_leaf).dtype)


def _load_encoder(target, source, what: str):
    want, have = _leaves(target), _leaves(source)
    want_shapes = {k: np.shape(v) for k, v in want.items()}
    have_shapes = {k: np.shape(v) for k, v in have.items()}
    if want_shapes != have_shapes:
        missing = sorted(set(want_shapes) - set(have_shapes))
        unexpected = sorted(set(have_shapes) - set(want_shapes))
        shaped = sorted(k for k in set(want_shapes) & set(have_shapes) if want_shapes[k] != have_shapes[k])
        if shaped:
            first = f"{ENCODER_KEY}{shaped[0]} is {have_shapes[shaped[0]]} there, {want_shapes[shaped[0]]} here"
        elif missing:
            first = f"{ENCODER_KEY}{missing[0]} is missing there"
        else:
            first = f"{ENCODER_KEY}{unexpected[0]} is not in this model"
        raise CheckpointError(
            f"init_from: {what} encoder does not match ({len(want)} arrays here, {len(have)} there, "
            f"{len(shaped)} of another shape; {first}): check model.arch/backbone/width/deep_stem and the image channels"
        )
    return jax.tree.map(_cast, source, target)


def _load_matching(target, source):
    """Arrays of `target` replaced by same-named, same-shaped arrays of `source`; (tree, loaded, fresh lines)."""
    have = _leaves(source)
    loaded, fresh = 0, []

    def pick(path, leaf):
        nonlocal loaded
        name = jax.tree_util.keystr(path)
        if name not in have:
            fresh.append(f"{name} (not in source)")
            return leaf
        if np.shape(have[name]) != np.shape(leaf):
            fresh.append(f"{name} (shape {np.shape(have[name])} there, {np.shape(leaf)} here)")
            return leaf
        loaded += 1
        return _cast(have[name], leaf)

    return jax.tree_util.tree_map_with_path(pick, target), loaded, fresh


def transfer(target: dict, source: dict, what: str, parts: tuple[str, ...] | None = None) -> tuple[dict, list[str]]:
    """Copy `source` weights into `target` (both {part: subtree}); returns (new tree, report lines).

    `parts`: the top-level parts the source trained (None: all of them)."""
    out, report = dict(target), []
    if ENCODER_KEY in target:
        if ENCODER_KEY not in source:
            raise CheckpointError(f"init_from: the source has no {what} {ENCODER_KEY!r} to load")
        out[ENCODER_KEY] = _load_encoder(target[ENCODER_KEY], source[ENCODER_KEY], what)
        report.append(f"loaded {what} {ENCODER_KEY} ({len(_leaves(target[ENCODER_KEY]))} arrays)")
    for key in sorted(k for k in target if k != ENCODER_KEY):
        count = len(_leaves(target[key]))
        if parts is not None and key not in parts:
            report.append(f"fresh  {what} {key} ({count} arrays; not trained by the source)")
            continue
        if key not in source:
            report.append(f"fresh  {what} {key} ({count} arrays; not in source)")
            continue
        out[key], loaded, fresh = _load_matching(target[key], source[key])
        if not fresh:
            report.append(f"loaded {what} {key} ({loaded} arrays)")
        else:
            report.append(f"loaded {what} {key} ({loaded} of {count} arrays); fresh: " + ", ".join(key + f for f in fresh))
    return out, report


def load_source(init_from: str):
    """(params, batch_stats, trained parts or None, source run) of the run `init_from` points at."""

    workdir, step = resolve_source(init_from)
    source_run = build_run(load_config_json(workdir))
    manager = checkpoint.make_manager(workdir, read_only=True)
    if step is not None and step not in manager.all_steps():
        raise CheckpointError(f"init_from={init_from!r}: no checkpoint at step {step} (have {sorted(manager.all_steps())})")
    source_run.state = checkpoint.restore(manager, source_run.state, step)
    params, batch_stats = next(iter(source_run.ctx.method.eval_models(source_run.state).values()))
    parts = source_run.ctx.method.pretrained_parts
    return jax.device_get(params), jax.device_get(batch_stats), parts, source_run


def networks(tree: dict) -> list[str] | None:
    """Names of the segmentation networks a method keeps side by side ({"a": net, "b": net} for CPS),
    or None when `tree` is one network ({"encoder": ..., ...})."""
    if ENCODER_KEY in tree:
        return None
    names = [k for k, v in tree.items() if isinstance(v, dict) and ENCODER_KEY in v]
    if not names:
        raise CheckpointError(f"init_from: this run's parameters have no {ENCODER_KEY!r} to load into "
                              f"(top-level keys {sorted(tree)})")
    return sorted(names)


def _transfer_all(target: dict, source: dict, what: str, parts) -> tuple[dict, list[str]]:
    """`transfer` into one network, or into each of several (every one starts from the source)."""
    names = networks(target)
    if names is None:
        return transfer(target, source, what, parts)
    out, report = dict(target), []
    for name in names:
        out[name], lines = transfer(target[name], source, f"{what}[{name}]", parts)
        report += lines
    return out, report


def initial_weights(params, batch_stats, init_from: str) -> tuple[dict, dict, list[str]]:
    """(params, batch_stats, report lines) with the source's weights where they belong."""
    src_params, src_stats, parts, source_run = load_source(init_from)
    params, report = _transfer_all(params, src_params, "params", parts)
    batch_stats, report_bs = _transfer_all(batch_stats, src_stats, "batch_stats", parts)
    header = f"init_from {init_from} (method {source_run.cfg.method.name}, step {int(source_run.state.step)}):"
    return params, batch_stats, [header] + report + report_bs


def apply_init_from(state, init_from: str, run):
    """The state with weights from `init_from`; optimizer state and step stay fresh."""
    params, batch_stats, report = initial_weights(state.params, state.batch_stats, init_from)
    print("\n  ".join(report), flush=True)
    new_state = state.replace(params=params, batch_stats=batch_stats)
    # e.g. an EMA teacher starts as a copy of the loaded student
    return new_state.replace(extra=run.ctx.method.init_extra(run.ctx, params, batch_stats, init_key(run.cfg.seed)))
