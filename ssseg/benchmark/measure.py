"""Measurements shared by the benchmarks: XLA's own accounting of a compiled function,
this machine's matmul peak, median wall time after warm-up, and peak host memory.

FLOPs come from XLA's cost analysis of the optimized HLO (what the compiled
step really does, rematerialisation and fusion included), not from a formula.
"""

from __future__ import annotations

import resource
import statistics
import time
from typing import Any, Callable

import jax
import jax.numpy as jnp


def compile_with_stats(jitted, *args) -> tuple[Any, dict]:
    """(compiled, {"compile_s", "gflop", "argument_bytes", "output_bytes", "temp_bytes", ...})."""
    start = time.perf_counter()
    compiled = jitted.lower(*args).compile()
    stats: dict = {"compile_s": time.perf_counter() - start}
    cost = compiled.cost_analysis()
    if isinstance(cost, (list, tuple)):  # older jax: one dict per computation
        cost = cost[0] if cost else {}
    stats["gflop"] = float((cost or {}).get("flops", float("nan"))) / 1e9
    stats["bytes_accessed"] = float((cost or {}).get("bytes accessed", float("nan")))
    memory = compiled.memory_analysis()
    for name in ("argument", "output", "temp", "alias", "generated_code"):
        stats[f"{name}_bytes"] = int(getattr(memory, f"{name}_size_in_bytes", -1)) if memory is not None else -1
    return compiled, stats


def median_seconds(call: Callable[[], Any], *, steps: int, warmup: int) -> tuple[float, list[float]]:
    """Median wall seconds of `call()` (blocking on its result) over `steps` runs after `warmup` runs."""
    for _ in range(warmup):
        jax.block_until_ready(call())
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        jax.block_until_ready(call())
        times.append(time.perf_counter() - start)
    return statistics.median(times), times


def matmul_peak_gflops(size: int = 2048, reps: int = 5) -> float:
    """Best GFLOP/s of one f32 [size,size]@[size,size] on device 0: the machine's practical peak."""
    key_a, key_b = jax.random.split(jax.random.key(0))
    a = jax.random.normal(key_a, (size, size), jnp.float32)
    b = jax.random.normal(key_b, (size, size), jnp.float32)
    matmul = jax.jit(jnp.matmul)
    jax.block_until_ready(matmul(a, b))
    best = float("inf")
    for _ in range(reps):
        start = time.perf_counter()
        jax.block_until_ready(matmul(a, b))
        best = min(best, time.perf_counter() - start)
    return 2.0 * size**3 / best / 1e9


def peak_host_bytes() -> int:
    """This process's peak resident memory so far (Linux reports ru_maxrss in KiB)."""
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024
