"""`config.init_from`: start fine-tuning from another run's weights.

The encoder must match exactly (a name or shape mismatch is an error, never a
silent partial load); the other top-level parts (decoder, classifier) are
copied where every array matches in name and shape, and initialised fresh
otherwise — e.g. a classifier for a different number of classes. What was
loaded and what was not is printed.
"""

from __future__ import annotations

import os

import jax
import numpy as np

from ssseg.errors import CheckpointError
from ssseg.models.functional import ENCODER_KEY


def _source_workdir(path: str) -> str:
    """Accept a run directory or its checkpoints/ (or checkpoints/<step>) folder."""
    path = os.path.abspath(path)
    for candidate in (path, os.path.dirname(path), os.path.dirname(os.path.dirname(path))):
        if os.path.isfile(os.path.join(candidate, "config.json")):
            return candidate
    raise CheckpointError(f"init_from={path!r}: no ssseg run found (expected a workdir with config.json and checkpoints/)")


def _shapes(tree) -> dict:
    return {jax.tree_util.keystr(p): np.shape(x) for p, x in jax.tree_util.tree_leaves_with_path(tree)}


def transfer(target: dict, source: dict, what: str) -> tuple[dict, list[str]]:
    """Copy source subtrees into target; returns (new tree, report lines)."""
    out, report = dict(target), []
    if ENCODER_KEY in target:
        if ENCODER_KEY not in source:
            raise CheckpointError(f"init_from: the source has no {what} {ENCODER_KEY!r} to load")
        want, have = _shapes(target[ENCODER_KEY]), _shapes(source[ENCODER_KEY])
        if want != have:
            diff = sorted(set(want.items()) ^ set(have.items()))[:1]
            raise CheckpointError(
                f"init_from: {what} encoder does not match ({len(want)} arrays wanted, {len(have)} found; "
                f"first difference {diff[0][0] if diff else '?'}): check model.backbone/width/deep_stem"
            )
        out[ENCODER_KEY] = jax.tree.map(lambda s, t: np.asarray(s, dtype=np.asarray(t).dtype), source[ENCODER_KEY], target[ENCODER_KEY])
        report.append(f"loaded {what} {ENCODER_KEY} ({len(want)} arrays)")
    for key in sorted(k for k in target if k != ENCODER_KEY):
        if key in source and _shapes(source[key]) == _shapes(target[key]):
            out[key] = jax.tree.map(lambda s: np.asarray(s), source[key])
            report.append(f"loaded {what} {key}")
        else:
            report.append(f"fresh  {what} {key} (" + ("shapes differ" if key in source else "not in source") + ")")
    return out, report


def apply_init_from(state, init_from: str, run):
    """The state with weights from `init_from`; optimizer state and step stay fresh."""
    from ssseg.train.setup import eval_models, restore_run

    source_run = restore_run(_source_workdir(init_from))
    src_params, src_stats = next(iter(eval_models(source_run, source_run.state).values()))
    params, report = transfer(state.params, jax.device_get(src_params), "params")
    batch_stats, report_bs = transfer(state.batch_stats, jax.device_get(src_stats), "batch_stats")
    print(f"init_from {init_from}:\n  " + "\n  ".join(report + report_bs))
    new_state = state.replace(params=params, batch_stats=batch_stats)
    reinit = getattr(run.ctx.method, "init_extra", None)
    if reinit is not None:  # e.g. an EMA teacher starts as a copy of the loaded student
        rng = jax.random.fold_in(jax.random.key(run.cfg.seed), 0x5EED)
        new_state = new_state.replace(extra=reinit(run.ctx, params, batch_stats, rng))
    return new_state
