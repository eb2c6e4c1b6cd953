"""XLA's memory analysis of the compiled train step with and without bf16 and remat (compile only).

    XLA_FLAGS=--xla_force_host_platform_device_count=1 python benchmarks/memory.py \\
        --config experiments/cityscapes.py --methods supervised,unimatch \\
        --config.data.crop_size=513 --json runs/memory.json

For each method and each (train.compute_dtype, model.remat) pair, the step is
built as the trainer builds it (build_run, compile_train_step on the one-axis
mesh), lowered on abstract inputs (no batch is allocated, nothing runs) and
compiled; the table lists the bytes XLA assigns per device to the step's
arguments (state + batch), outputs and temporaries (activations kept for the
backward pass, workspace), and, from tracing alone, the bytes of the residuals
the loss keeps for its backward pass (activations and the parameters the
backward reads: what remat and bf16 act on, before a backend schedules them). Writes a Markdown table and, with --json, the figures.
"""

from __future__ import annotations

import argparse
import json
import time

import jax

from ssseg.benchmark.step import random_batch
from ssseg.config.loader import load_config
from ssseg.train import sharding
from ssseg.train.setup import build_run
from ssseg.train.step import compile_train_step

VARIANTS = (("float32", False), ("float32", True), ("bfloat16", False), ("bfloat16", True))
GIB = 1024 ** 3


def analyse(cfg, compile_step: bool, compiler_options: dict | None = None) -> dict:
    run = build_run(cfg)
    mesh = sharding.make_mesh()
    host_batch = random_batch(cfg, run.spec, run.ctx.method)
    abstract = lambda tree, where: jax.tree.map(  # noqa: E731
        lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=where), tree)
    state = abstract(run.state, sharding.replicated(mesh))
    batch = abstract(host_batch, sharding.batch_sharding(mesh))
    figures = {"residual": residual_bytes(run.ctx, state, batch)}
    if compile_step:
        start = time.perf_counter()
        compiled = compile_train_step(run.ctx, mesh).lower(state, batch, jax.random.key(0)).compile(compiler_options)
        memory = compiled.memory_analysis()
        figures.update({name: int(getattr(memory, f"{name}_size_in_bytes"))
                        for name in ("argument", "output", "temp", "alias")})
        figures["compile_s"] = round(time.perf_counter() - start, 1)
    return figures


def residual_bytes(ctx, state, batch) -> int:
    """Bytes the loss's backward pass reads (the residuals jax.vjp keeps: activations, and the
    parameters the backward needs): what remat and bf16 act on, before a backend schedules them.
    Traced on abstract values only."""
    def backward(params, state, batch):
        return jax.vjp(lambda p: ctx.method.loss(ctx, p, state, batch, jax.random.key(0))[0], params)[1]

    residuals = jax.eval_shape(backward, state.params, state, batch)
    return sum(x.size * x.dtype.itemsize for x in jax.tree.leaves(residuals))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config", required=True)
    parser.add_argument("--methods", default="supervised", help="comma-separated methods (method= of the config)")
    parser.add_argument("--json", default="")
    parser.add_argument("--compile", default="all", choices=("all", "first", "none"),
                        help="compile every variant for XLA's figures, only the first (float32, no remat), or "
                             "none (residuals only: tracing, no compilation)")
    parser.add_argument("--llvm-o0", action="store_true",
                        help="compile with xla_backend_optimization_level=0: XLA's HLO passes and buffer "
                             "assignment (what the figures come from) run as usual, LLVM does not optimise")
    args, extra = parser.parse_known_args(argv)
    rows = []
    for method in args.methods.split(","):
        for i, (dtype, remat) in enumerate(VARIANTS):
            overrides = [*extra, f"--config.train.compute_dtype={dtype}", f"--config.model.remat={remat}"]
            path, _, arg = args.config.partition(":")
            cfg = load_config(f"{path}:{arg + ',' if arg else ''}method={method}", overrides)
            row = {"method": method, "compute_dtype": dtype, "remat": remat, "backbone": cfg.model.backbone,
                   "crop": int(cfg.data.crop_size), "batch": int(cfg.data.batch_size),
                   "unlabeled_batch": int(cfg.data.unlabeled_batch_size) if method != "supervised" else 0,
                   **analyse(cfg, args.compile == "all" or (args.compile == "first" and i == 0),
                             {"xla_backend_optimization_level": 0} if args.llvm_o0 else None)}
            rows.append(row)
            print(json.dumps(row), flush=True)
    print(f"\ndevices: {jax.device_count()} x {jax.devices()[0].platform}, jax {jax.__version__}\n")
    print("| method | batch | compute dtype | remat | residuals GiB | arguments GiB | outputs GiB | temporaries GiB | compile s |")
    print("|---|---|---|---|---|---|---|---|---|")

    def gib(row, key):
        return f"{row[key] / GIB:.2f}" if key in row else "–"

    for r in rows:
        batch = f"{r['batch']}+{r['unlabeled_batch']}" if r["unlabeled_batch"] else str(r["batch"])
        print(f"| {r['method']} | {batch} | {r['compute_dtype']} | {'yes' if r['remat'] else 'no'} | {gib(r, 'residual')} "
              f"| {gib(r, 'argument')} | {gib(r, 'output')} | {gib(r, 'temp')} | {r.get('compile_s', '–')} |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
