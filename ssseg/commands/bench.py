"""`ssseg bench --config experiments/x.py:arg [--model-only] [--random-batch] [--json PATH]`.

Prints a readable table and one JSON line (and writes the JSON to --json):
compile time, median step time after warm-up, images/s, XLA's GFLOP per step
and memory analysis, achieved GFLOP/s against this machine's f32 matmul peak
(measured by the same command), peak host memory, and, fed by the real input
pipeline, the loader's time alone and the input-stall fraction of a step.
Asserts nothing: speed is read from benchmarks, never from timed tests.
"""

from __future__ import annotations

import json

HELP = "Benchmark a config's train step (or --model-only its network): time, GFLOP, memory, input stall."


def add_arguments(parser) -> None:
    parser.add_argument("--config", required=True)
    parser.add_argument("--steps", type=int, default=5, help="timed steps after warm-up (median reported)")
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps after compilation")
    parser.add_argument("--model-only", action="store_true",
                        help="forward+backward of the network on random tensors (no method, no optimizer)")
    parser.add_argument("--random-batch", action="store_true",
                        help="random batches instead of the dataset (no built dataset needed; no input-stall figure)")
    parser.add_argument("--peak-size", type=int, default=2048, help="side of the f32 matmul that measures the peak (0: skip)")
    parser.add_argument("--profile", default="", metavar="DIR",
                        help="also trace the timed steps with jax.profiler into DIR and print time by op class")
    parser.add_argument("--json", default="", help="also write the figures to this file")
    parser.set_defaults(accepts_config_overrides=True)


def run(args) -> int:
    from ssseg.benchmark import measure, step
    from ssseg.benchmark.loader import measure_loader
    from ssseg.config.loader import load_config
    from ssseg.data.registry import get_spec

    cfg = load_config(args.config, args.extra)
    if args.profile:
        import jax

        # A cached executable keeps the HLO metadata of the code that first compiled it: op classes
        # are read from that metadata, so a profile compiles afresh.
        jax.config.update("jax_enable_compilation_cache", False)
    peak = measure.matmul_peak_gflops(args.peak_size) if args.peak_size > 0 else None
    if args.model_only:
        spec = get_spec(cfg.data.name, cfg.data.manual_dir or None)
        figures = step.bench_model_only(cfg, spec, steps=args.steps, warmup=args.warmup, peak_gflops=peak,
                                         profile_dir=args.profile)
    elif args.random_batch:
        figures = step.bench_step(cfg, steps=args.steps, warmup=args.warmup, peak_gflops=peak, profile_dir=args.profile)
    else:
        from ssseg.data.sources import load_sources
        from ssseg.methods.contract import get_method

        sources = load_sources(cfg.data)
        figures = step.bench_step(cfg, steps=args.steps, warmup=args.warmup, sources=sources, peak_gflops=peak)
        method = get_method(cfg.method.name)
        kinds = [k for k, used in zip(("labeled", "unlabeled"), step.uses_streams(method)) if used]
        figures["loader_ms_per_batch"] = sum(
            measure_loader(cfg.data, kind=k, num_batches=args.steps, warmup_batches=1, seed=cfg.seed,
                           sources=sources)["ms_per_batch"] for k in kinds)
    figures["config"] = " ".join([args.config, *args.extra])
    print(step.table(figures))
    if "profile_ms" in figures:
        from ssseg.benchmark.profile import table

        print(table(figures["profile_ms"], figures["step_s"]))
    print(json.dumps(figures))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(figures, f, indent=2)
    return 0
