"""Build a run's model, optimizer, method context and initial state from a config.

Shared by training, `ssseg eval` and `ssseg predict`, so a saved workdir is
always restored into exactly the structure it was trained with.
"""

from __future__ import annotations

import dataclasses
import json
import os

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from ssseg.data.registry import DatasetSpec, get_spec
from ssseg.errors import CheckpointError, ConfigError
from ssseg.methods.contract import get_method
from ssseg.train.losses import class_weights_from_counts, make_pixel_loss
from ssseg.models import functional as model_fns
from ssseg.models.factory import build_model
from ssseg.train import checkpoint, class_counts as counts_file
from ssseg.train.context import StepContext
from ssseg.train.optim import make_optimizer
from ssseg.train.state import TrainState


@dataclasses.dataclass
class Run:
    cfg: ml_collections.ConfigDict
    spec: DatasetSpec
    ctx: StepContext
    state: TrainState


def build_run(cfg, spec: DatasetSpec | None = None, class_counts: np.ndarray | None = None) -> Run:
    """Model, optimizer and method state at step 0 (weights from `config.seed`).

    `class_counts`: pixels per class over the labeled budget, from which the
    class-weighted losses take their weights (labeled and, where asked, unlabeled).
    """
    spec = spec or get_spec(cfg.data.name, cfg.data.manual_dir or None)
    num_classes = len(spec.class_names)
    model = build_model(cfg.model, num_classes, spec.channels, seed=cfg.seed,
                        compute_dtype=cfg.train.get("compute_dtype", "float32"))
    graphdef, params, batch_stats = model_fns.split_model(model)
    method = get_method(cfg.method.name)
    # e.g. CPS: two differently initialised networks; pretraining: its heads
    params, batch_stats = method.init_params(cfg, spec, params, batch_stats)
    tx, schedule = make_optimizer(cfg.optim, cfg.train.steps, method.head_mask(params))
    ctx = StepContext(
        graphdef=graphdef,
        tx=tx,
        schedule=schedule,
        method=method,
        method_cfg=cfg.method,
        labeled_loss=make_pixel_loss(cfg.loss, _labeled_class_weights(cfg, class_counts)),
        num_classes=num_classes,
        mean=tuple(spec.mean),
        std=tuple(spec.std),
        class_counts=None if class_counts is None else tuple(int(c) for c in class_counts),
    )
    extra = method.init_extra(ctx, params, batch_stats, init_key(cfg.seed))
    state = TrainState(
        step=jnp.zeros((), jnp.int32),
        params=params,
        batch_stats=batch_stats,
        opt_state=tx.init(params),
        extra=extra,
    )
    return Run(cfg=cfg, spec=spec, ctx=ctx, state=state)


def _labeled_class_weights(cfg, class_counts):
    if class_counts is None or cfg.loss.name not in ("wce", "ce_dice") or cfg.loss.class_weight_power <= 0:
        return None
    return class_weights_from_counts(class_counts, cfg.loss.class_weight_power)


def init_key(seed: int) -> jax.Array:
    """The key of a run's method state at step 0 (and after init_from): apart from the step keys."""
    return jax.random.fold_in(jax.random.key(seed), 0x5EED)


def load_config_json(workdir: str) -> ml_collections.ConfigDict:
    path = os.path.join(workdir, "config.json")
    if not os.path.isfile(path):
        raise CheckpointError(f"{path} not found: {workdir!r} is not an ssseg run directory")
    with open(path) as f:
        return ml_collections.ConfigDict(json.load(f))


def restore_run(workdir: str, step: int | None = None) -> Run:
    """A finished or interrupted run's config and latest (or given) checkpoint."""
    cfg = load_config_json(workdir)
    spec = get_spec(cfg.data.name, cfg.data.manual_dir or None)
    try:
        counts, missing = counts_file.read(workdir, cfg, len(spec.class_names)), None
    except CheckpointError as e:  # an older run whose data is not here: fine unless its method needs them
        counts, missing = None, e
    try:
        run = build_run(cfg, spec, counts)
    except ConfigError:
        if missing is None:
            raise
        raise missing from None
    manager = checkpoint.make_manager(workdir, read_only=True)
    run.state = checkpoint.restore(manager, run.state, step)
    return run
