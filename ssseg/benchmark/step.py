"""Benchmark of one config's train step (or of its network alone) on this machine.

`bench_step`: the method's whole jitted step over the ("data",) mesh, compiled
once (compile time, XLA's GFLOP and memory analysis), timed on one fixed batch
(median after warm-up), then fed by the real input pipeline to measure how much
of a step the host spends waiting for data. `bench_model_only`: forward +
backward of the network on random tensors, no method, no optimizer, to
separate the network's cost from the method's. Both return a flat dict of
figures (JSON-ready) that `table` prints.
"""

from __future__ import annotations

import json
import os
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax

from ssseg.benchmark import measure, profile
from ssseg.data import pipeline
from ssseg.data.splits import load_budget
from ssseg.models import functional
from ssseg.models.factory import build_model
from ssseg.train import sharding
from ssseg.train.setup import build_run
from ssseg.train.step import compile_train_step


def uses_streams(method) -> tuple[bool, bool]:
    """(labeled stream, unlabeled stream) of a method, as the trainer decides them."""
    return "labeled" in method.streams, "unlabeled" in method.streams


def random_batch(cfg, spec, method, seed: int = 0) -> dict:
    """A host batch in the pipeline's format (uint8 images, int32 labels, bool valid), random content."""
    rng = np.random.default_rng(seed)
    s, c, k = int(cfg.data.crop_size), spec.channels, len(spec.class_names)
    use_labeled, use_unlabeled = uses_streams(method)
    batch = {}
    if use_labeled:
        b = int(cfg.data.batch_size)
        batch["labeled"] = {"image": rng.integers(0, 256, (b, s, s, c), dtype=np.uint8),
                            "label": rng.integers(0, k, (b, s, s), dtype=np.int32)}
    if use_unlabeled:
        b = int(cfg.data.unlabeled_batch_size)
        batch["unlabeled"] = {"image": rng.integers(0, 256, (b, s, s, c), dtype=np.uint8),
                              "valid": np.ones((b, s, s), bool),
                              "label": rng.integers(0, k, (b, s, s), dtype=np.int32)}
    return batch


def pipeline_batches(cfg, method, sources):
    """Endless train batches from the real input pipeline, as the trainer builds them."""
    labeled_ids, unlabeled_ids = load_budget(cfg.data.name, cfg.data.budget, cfg.seed, cfg.data.splits_dir)
    use_labeled, use_unlabeled = uses_streams(method)
    lab = pipeline.labeled_batches(sources, labeled_ids, cfg.data, cfg.seed) if use_labeled else None
    pool = unlabeled_ids or labeled_ids
    unl = pipeline.unlabeled_batches(sources, pool, cfg.data, cfg.seed) if use_unlabeled else None
    while True:
        batch = {}
        if lab is not None:
            batch["labeled"] = next(lab)
        if unl is not None:
            batch["unlabeled"] = next(unl)
        yield batch


def _images(batch) -> int:
    return sum(int(part["image"].shape[0]) for part in batch.values())


def _rates(figures: dict, peak_gflops: float | None) -> dict:
    # XLA analyses the per-device program of an SPMD step: the step's work is that times the devices.
    figures["gflop_per_device"] = figures["gflop"]
    figures["gflop"] = figures["gflop"] * jax.device_count()
    step_s = figures["step_s"]
    figures["images_per_s"] = figures["images_per_step"] / step_s
    figures["achieved_gflops"] = figures["gflop"] / step_s
    if peak_gflops:
        figures["matmul_peak_gflops"] = peak_gflops
        figures["fraction_of_peak"] = figures["achieved_gflops"] / peak_gflops
    figures["peak_host_bytes"] = measure.peak_host_bytes()
    return figures


def _header(cfg, mode: str) -> dict:
    return {"mode": mode, "method": cfg.method.name, "arch": cfg.model.arch, "backbone": cfg.model.backbone,
            "output_stride": int(cfg.model.output_stride), "crop": int(cfg.data.crop_size),
            "devices": f"{jax.device_count()} x {jax.devices()[0].platform}", "jax": jax.__version__}


def bench_step(cfg, *, steps: int = 5, warmup: int = 2, sources=None, pipeline_steps: int | None = None,
               peak_gflops: float | None = None, profile_dir: str = "") -> dict:
    """Figures of the config's train step. `sources` (DataSources) given: the timed batch is the
    pipeline's first, and the step is then fed by the pipeline for `pipeline_steps` steps
    (default `steps`) to measure the input stall; otherwise a random batch, no stall figure.
    `profile_dir`: also trace `steps` steps there and add the time by op class ("profile_ms")."""
    run = build_run(cfg)
    mesh = sharding.make_mesh()
    method = run.ctx.method
    feed = pipeline_batches(cfg, method, sources) if sources is not None else None
    host_batch = next(feed) if feed is not None else random_batch(cfg, run.spec, method, cfg.seed)
    state = jax.device_put(run.state, sharding.replicated(mesh))
    rng = jax.random.key(cfg.seed)
    compiled, figures = measure.compile_with_stats(compile_train_step(run.ctx, mesh), state,
                                                   sharding.shard_batch(host_batch, mesh), rng)
    figures = {**_header(cfg, "train_step"), "batches": "pipeline" if feed else "random",
               "images_per_step": _images(host_batch), **figures}
    device_batch = sharding.shard_batch(host_batch, mesh)
    holder = [state]

    def one_step():
        holder[0], metrics = compiled(holder[0], device_batch, rng)
        return metrics

    figures["step_s"], times = measure.median_seconds(one_step, steps=steps, warmup=warmup)
    figures["step_s_all"] = times
    if profile_dir:
        figures["profile_ms"] = _profile(compiled, one_step, steps, profile_dir)
    if feed is not None:
        n = pipeline_steps or steps
        start, metrics = time.perf_counter(), None
        for _ in range(n):  # as the trainer does: no block per step, so loading may overlap compute
            holder[0], metrics = compiled(holder[0], sharding.shard_batch(next(feed), mesh), rng)
        jax.block_until_ready(metrics)
        figures["fed_step_s"] = (time.perf_counter() - start) / n
        figures["input_stall_fraction"] = max(0.0, 1.0 - figures["step_s"] / figures["fed_step_s"])
    return _rates(figures, peak_gflops)


def _profile(compiled, call, steps: int, profile_dir: str) -> dict:
    """Time by op class over `steps` traced calls; the trace, the HLO and the per-instruction rows stay in the dir."""
    trace = profile.profile_calls(call, steps=steps, trace_dir=profile_dir)
    hlo_text = compiled.as_text()
    rows = profile.instruction_times(hlo_text, profile.thunk_times_us(trace), steps)
    with open(os.path.join(profile_dir, "step.hlo.txt"), "w") as f:
        f.write(hlo_text)
    with open(os.path.join(profile_dir, "instructions.json"), "w") as f:
        json.dump(rows, f, indent=1)
    return profile.op_class_times(hlo_text, profile.thunk_times_us(trace), steps)


def bench_model_only(cfg, spec, *, batch_size: int | None = None, steps: int = 5, warmup: int = 2,
                     peak_gflops: float | None = None, profile_dir: str = "") -> dict:
    """Forward + backward (train-mode batch norm, cross-entropy) of the network on random tensors."""
    num_classes, channels = len(spec.class_names), spec.channels
    graphdef, params, batch_stats = functional.split_model(build_model(cfg.model, num_classes, channels, cfg.seed))
    b, s = int(batch_size or cfg.data.batch_size), int(cfg.data.crop_size)
    mesh = sharding.make_mesh()
    key_x, key_y = jax.random.split(jax.random.key(cfg.seed))
    images = jax.device_put(jax.random.normal(key_x, (b, s, s, channels)), sharding.batch_sharding(mesh))
    labels = jax.device_put(jax.random.randint(key_y, (b, s, s), 0, num_classes), sharding.batch_sharding(mesh))
    params, batch_stats = jax.device_put((params, batch_stats), sharding.replicated(mesh))

    def loss_fn(params, batch_stats, images, labels):
        logits, new_stats = functional.apply_model(graphdef, params, batch_stats, images, train=True)
        return optax.softmax_cross_entropy_with_integer_labels(logits.astype(jnp.float32), labels).mean(), new_stats

    # Inputs are arguments, not closure constants (XLA would fold them).
    grad_fn = jax.jit(jax.value_and_grad(loss_fn, has_aux=True))
    compiled, figures = measure.compile_with_stats(grad_fn, params, batch_stats, images, labels)
    figures = {**_header(cfg, "model_only"), "batches": "random", "images_per_step": b, **figures,
               "params": int(sum(p.size for p in jax.tree.leaves(params)))}
    def call():
        return compiled(params, batch_stats, images, labels)

    figures["step_s"], figures["step_s_all"] = measure.median_seconds(call, steps=steps, warmup=warmup)
    if profile_dir:
        figures["profile_ms"] = _profile(compiled, call, steps, profile_dir)
    return _rates(figures, peak_gflops)


_ROWS = (  # (key, label, format)
    ("mode", "mode", "{}"), ("method", "method", "{}"), ("backbone", "backbone", "{}"),
    ("crop", "crop", "{}"), ("devices", "devices", "{}"), ("batches", "batches", "{}"),
    ("images_per_step", "images / step", "{}"), ("compile_s", "compile", "{:.1f} s"),
    ("step_s", "step (median)", "{:.3f} s"), ("images_per_s", "images / s", "{:.2f}"),
    ("gflop", "GFLOP / step (XLA)", "{:.4g}"), ("achieved_gflops", "achieved", "{:.1f} GFLOP/s"),
    ("matmul_peak_gflops", "f32 matmul peak", "{:.1f} GFLOP/s"), ("fraction_of_peak", "fraction of peak", "{:.1%}"),
    ("argument_bytes", "XLA arguments / device", "{:,} B"), ("output_bytes", "XLA outputs / device", "{:,} B"),
    ("temp_bytes", "XLA temporaries / device", "{:,} B"), ("peak_host_bytes", "peak host memory", "{:,} B"),
    ("loader_ms_per_batch", "loader alone", "{:.1f} ms / step"), ("fed_step_s", "step fed by pipeline", "{:.3f} s"),
    ("input_stall_fraction", "input stall", "{:.1%}"),
)


def table(figures: dict) -> str:
    """The figures as an aligned two-column table (keys absent from `figures` are skipped)."""
    rows = [(label, fmt.format(figures[key])) for key, label, fmt in _ROWS if key in figures]
    width = max(len(label) for label, _ in rows)
    return "\n".join(f"{label:<{width}}  {value}" for label, value in rows)
