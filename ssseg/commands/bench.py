"""`ssseg bench --config experiments/x.py:arg`: host loading vs train-step time.

Prints figures, asserts nothing: the target is that loading a batch takes
under 10% of a train step for the CPU-scale configs. Loading is timed on its
own (single process, as in training with worker_count=0); the step is timed
after compilation, blocking on its result.
"""

from __future__ import annotations

import json
import time

HELP = "Benchmark a config: host loading time per batch, train-step time, images/s, loading fraction."


def add_arguments(parser) -> None:
    parser.add_argument("--config", required=True)
    parser.add_argument("--steps", type=int, default=20, help="timed steps after warm-up")
    parser.set_defaults(accepts_config_overrides=True)


def run(args) -> int:
    import jax

    from ssseg.config_loader import load_config
    from ssseg.data import pipeline
    from ssseg.data.sources import load_sources
    from ssseg.data.splits import load_budget
    from ssseg.train import sharding
    from ssseg.train.setup import build_run
    from ssseg.train.step import compile_train_step

    cfg = load_config(args.config, args.extra)
    sources = load_sources(cfg.data)
    labeled_ids, unlabeled_ids = load_budget(cfg.data.name, cfg.data.budget, cfg.seed, cfg.data.splits_dir)
    run_ = build_run(cfg)
    uses_unlabeled = getattr(run_.ctx.method, "USES_UNLABELED", False)
    mesh = sharding.make_mesh()

    def batches(start):
        lab = pipeline.labeled_batches(sources, labeled_ids, cfg.data, cfg.seed, start)
        unl = pipeline.unlabeled_batches(sources, unlabeled_ids or labeled_ids, cfg.data, cfg.seed, start) if uses_unlabeled else None
        while True:
            batch = {"labeled": next(lab)}
            if unl is not None:
                batch["unlabeled"] = next(unl)
            yield batch

    host = batches(0)
    next(host)
    t0 = time.perf_counter()
    host_batches = [next(host) for _ in range(args.steps)]
    load_s = (time.perf_counter() - t0) / args.steps

    step_fn = compile_train_step(run_.ctx, mesh)
    state = jax.device_put(run_.state, sharding.replicated(mesh))
    rng = jax.random.key(cfg.seed)
    t0 = time.perf_counter()
    state, metrics = step_fn(state, sharding.shard_batch(host_batches[0], mesh), rng)
    jax.block_until_ready(metrics)
    compile_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    for batch in host_batches:
        state, metrics = step_fn(state, sharding.shard_batch(batch, mesh), rng)
    jax.block_until_ready(metrics)
    step_s = (time.perf_counter() - t0) / args.steps

    images = cfg.data.batch_size + (cfg.data.unlabeled_batch_size if uses_unlabeled else 0)
    figures = {
        "config": args.config,
        "devices": f"{jax.device_count()} x {jax.devices()[0].platform}",
        "crop": cfg.data.crop_size,
        "images_per_step": images,
        "load_ms_per_batch": round(1000 * load_s, 2),
        "step_ms": round(1000 * step_s, 2),
        "first_step_s (compile)": round(compile_s, 2),
        "train_img_per_s": round(images / step_s, 1),
        "loading_fraction_of_step": round(load_s / step_s, 4),
    }
    print(json.dumps(figures, indent=2))
    return 0
