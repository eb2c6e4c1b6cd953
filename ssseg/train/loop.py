"""The trainer: one loop for every method, read top to bottom.

    config -> data sources + label budget -> model/optimizer/method state
    -> resume from the workdir's latest checkpoint -> jitted steps over the
    ("data",) mesh, periodic eval on val and checkpoints -> final eval of the
    last checkpoint on val and test -> result.json

The reported numbers are always from the LAST checkpoint, on the held-out
test split; val is logged for model selection only.

On several processes (train/distributed.py) every process runs this loop on
its rows of each batch; process 0 alone holds the workdir lock and writes
config.json, class counts, metrics.jsonl and result.json; all write checkpoints.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import time

import jax
import jax.numpy as jnp
import numpy as np
from tqdm import tqdm

from ssseg.config.loader import to_plain
from ssseg.config.schema import fill_defaults
from ssseg.data import pipeline
from ssseg.data.registry import get_spec
from ssseg.data.sampling import repeat_factor_ids
from ssseg.data.sources import load_sources
from ssseg.data.ensure_splits import ensure_budget
from ssseg.data.splits import check_disjoint, load_budget
from ssseg.errors import CheckpointError
from ssseg.eval.evaluator import Evaluator
from ssseg.train import checkpoint, class_counts, sharding
from ssseg.train.distributed import is_main_process
from ssseg.train.init_from import apply_init_from
from ssseg.train.metrics_log import MetricsLog, NullLog
from ssseg.train.provenance import git_commit, git_dirty, machine
from ssseg.train.setup import build_run
from ssseg.train.step import compile_train_step


def run_training(cfg, workdir: str, *, show_progress: bool = True) -> dict:
    """Train (or resume) in `workdir`, holding it against a second process for the whole run."""
    workdir = os.path.abspath(workdir)
    os.makedirs(workdir, exist_ok=True)
    main = is_main_process()
    with _exclusive(workdir) if main else contextlib.nullcontext():
        return _train(cfg, workdir, show_progress and main, main)


@contextlib.contextmanager
def _exclusive(workdir: str):
    """An flock on workdir/.train.lock: a second trainer on the same workdir would truncate
    metrics.jsonl and race for checkpoints (seen here), so it is refused instead."""
    path = os.path.join(workdir, ".train.lock")
    with open(path, "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise CheckpointError(f"{workdir} is being trained by another process (it holds {path}); "
                                  "wait for it or use another --workdir") from None
        yield


def _train(cfg, workdir: str, show_progress: bool, main: bool) -> dict:
    t_start = time.time()
    code_version = {"git_commit": git_commit(), "git_dirty": git_dirty()}  # the code that starts training
    if main:
        _claim_workdir(cfg, workdir)
    result_path = os.path.join(workdir, "result.json")

    # Data: the budget's labeled ids, the rest of train as the unlabeled pool.
    spec = get_spec(cfg.data.name, cfg.data.manual_dir or None)
    sources = load_sources(cfg.data)
    generated = ensure_budget(cfg.data.name, cfg.data.budget, cfg.seed, cfg.data.splits_dir, sources)
    if generated:
        print(generated)
    labeled_ids, unlabeled_ids = load_budget(cfg.data.name, cfg.data.budget, cfg.seed, cfg.data.splits_dir)
    check_disjoint(sources, labeled_ids, unlabeled_ids, where=f"{cfg.data.splits_dir} budget {cfg.data.budget} seed {cfg.seed}")
    # Class frequencies of the labeled budget, for the class-weighted losses.
    counts = class_counts.label_pixel_counts(sources, labeled_ids, len(spec.class_names))
    if main:
        class_counts.write(workdir, counts)  # so eval/predict rebuild the run exactly

    # Model, optimizer, method state; then weights from init_from or a checkpoint.
    run = build_run(cfg, spec, counts)
    mesh = sharding.make_mesh()
    sharding.check_batch_size(cfg.data.batch_size, mesh, "config.data.batch_size")
    manager = checkpoint.make_manager(workdir, keep=cfg.train.keep_checkpoints)
    state = run.state
    if manager.latest_step() is not None:
        # Restored straight into the mesh's replicated sharding (any device count; on every process).
        state = checkpoint.restore(manager, jax.device_put(state, sharding.replicated(mesh)), set_aside=main)
        print(f"resumed from {checkpoint.checkpoint_dir(workdir)} at step {int(state.step)}")
    elif cfg.init_from:
        state = apply_init_from(state, cfg.init_from, run)
    state = jax.device_put(state, sharding.replicated(mesh))
    start_step = int(state.step)

    if start_step >= cfg.train.steps and os.path.exists(result_path):
        with open(result_path) as f:
            print(f"{workdir} already finished ({cfg.train.steps} steps); result.json kept")
            return json.load(f)

    # One PRNG key per run; the step folds in its own step number.
    rng = jax.random.key(cfg.seed)
    train_step = compile_train_step(run.ctx, mesh)
    # Streams: labeled budget; unlabeled pool for semi-supervised methods; for
    # self-supervised pretraining (method.pretrain), every train image without labels.
    streams = run.ctx.method.streams
    pretrain, uses_unlabeled = "labeled" not in streams, "unlabeled" in streams
    labeled_stream = repeat_factor_ids(labeled_ids, sources.class_presence, cfg.data.repeat_factor_thresh, cfg.seed)
    shard = (jax.process_index(), jax.process_count())  # each process loads its own rows of every batch
    labeled_iter = None if pretrain else pipeline.labeled_batches(sources, labeled_stream, cfg.data, cfg.seed,
                                                                  start_step, shard)
    unlabeled_iter = None
    if uses_unlabeled:
        sharding.check_batch_size(cfg.data.unlabeled_batch_size, mesh, "config.data.unlabeled_batch_size")
        # At budget `full` there is no unlabeled pool: the labeled images serve as
        # unlabeled ones too (as the peers do), so every regime has a full column.
        pool = sorted(set(labeled_ids) | set(unlabeled_ids)) if pretrain else (unlabeled_ids or labeled_ids)
        unlabeled_iter = pipeline.unlabeled_batches(sources, pool, cfg.data, cfg.seed, start_step, shard)
    evaluator = Evaluator(run, sources, mesh, labeled_ids)
    log = MetricsLog(workdir, resume_step=start_step) if main else NullLog()
    images_per_step = (0 if pretrain else cfg.data.batch_size) + (cfg.data.unlabeled_batch_size if uses_unlabeled else 0)

    bar = tqdm(total=cfg.train.steps, initial=start_step, disable=not show_progress, dynamic_ncols=True)
    window_t, window_steps, data_time, window_sum = time.time(), 0, 0.0, None
    try:
        for step in range(start_step, cfg.train.steps):
            t_data = time.time()
            batch = {} if labeled_iter is None else {"labeled": next(labeled_iter)}
            if unlabeled_iter is not None:
                batch["unlabeled"] = next(unlabeled_iter)
            batch = sharding.shard_batch(batch, mesh)
            data_time += time.time() - t_data
            state, metrics = train_step(state, batch, rng)
            # Logged values are means over the logging window (on device: no sync per step).
            window_sum = metrics if window_sum is None else jax.tree.map(jnp.add, window_sum, metrics)
            window_steps += 1
            done = step + 1
            if done % cfg.train.log_every == 0 or done == cfg.train.steps:
                metrics = jax.tree.map(lambda v: np.asarray(v) / window_steps, jax.device_get(window_sum))
                metrics["lr"] = float(jax.device_get(run.ctx.schedule(step)))
                if not np.isfinite(metrics["loss"]):
                    raise FloatingPointError(f"loss is {metrics['loss']} at step {done}; last checkpoint kept")
                elapsed = time.time() - window_t
                metrics["img_per_s"] = window_steps * images_per_step / max(elapsed, 1e-9)
                metrics["data_frac"] = data_time / max(elapsed, 1e-9)
                log.write(done, "train", metrics)
                bar.set_postfix(loss=f"{float(metrics['loss']):.4f}", img_s=f"{metrics['img_per_s']:.1f}")
                window_t, window_steps, data_time, window_sum = time.time(), 0, 0.0, None
            bar.update(1)
            if done % cfg.train.eval_every == 0 and done < cfg.train.steps:
                for record in evaluator.run(state, "val"):
                    log.write(done, "eval", record)
                window_t = time.time()
            if done % cfg.train.checkpoint_every == 0 or done == cfg.train.steps:
                checkpoint.save(manager, state)
    finally:
        bar.close()

    # Final numbers: the last checkpoint, on val (selection) and test (reporting).
    checkpoint.save(manager, state)
    val = evaluator.run(state, "val")
    # Pascal VOC and Cityscapes keep their test labels private: their val split is the held-out one.
    test_split = "test" if "test" in sources.splits else "val"
    test = val if test_split == "val" else evaluator.run(state, "test")
    for record in val + (test if test is not val else []):
        log.write(cfg.train.steps, "eval", record)
    log.close()
    result = {
        "dataset": cfg.data.name,
        "method": cfg.method.name,
        "regime": ("pretrained+" if cfg.init_from else "") + cfg.method.name,
        "budget": cfg.data.budget,
        "num_labeled": len(labeled_ids),
        "num_unlabeled": len(unlabeled_ids),
        "seed": cfg.seed,
        "steps": cfg.train.steps,
        "checkpoint": "last",
        "test_split": test_split,
        "init_from": cfg.init_from or None,
        "val": _strip(val[0]),
        "test": _strip(test[0]),
        "models": {r["model"]: {"val": _strip(v), "test": _strip(r)} for v, r in zip(val, test)},
        "wall_time_s": round(time.time() - t_start, 1),
        **code_version,
        "machine": machine(),
        "config": to_plain(cfg),
    }
    if main:
        with open(result_path + ".tmp", "w") as f:
            json.dump(result, f, indent=2)
        os.replace(result_path + ".tmp", result_path)
    return result


def _strip(record: dict) -> dict:
    return {k: v for k, v in record.items() if k not in ("split",)}


def _claim_workdir(cfg, workdir: str) -> None:
    """Refuse a workdir that holds a run of a different config: never overwrite. A key the
    stored config predates counts as its default (config.schema.fill_defaults), so such runs resume."""
    path = os.path.join(workdir, "config.json")
    mine = to_plain(cfg)
    if os.path.exists(path):
        with open(path) as f:
            theirs = json.load(f)
        if theirs != mine:
            theirs, mine = fill_defaults(theirs), fill_defaults(mine)
        if theirs != mine:
            key = _first_difference(theirs, mine)
            raise CheckpointError(
                f"{workdir} holds a run of a different config ({key}); use another --workdir or delete it"
            )
        return
    with open(path, "w") as f:
        json.dump(mine, f, indent=2, sort_keys=True)


def _first_difference(a, b, prefix: str = "") -> str:
    for key in sorted(set(a) | set(b)):
        if isinstance(a.get(key), dict) and isinstance(b.get(key), dict):
            found = _first_difference(a[key], b[key], f"{prefix}{key}.")
            if found:
                return found
        elif a.get(key) != b.get(key):
            return f"{prefix}{key}: {a.get(key)!r} there, {b.get(key)!r} now"
    return ""
