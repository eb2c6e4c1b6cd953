"""A/B of one config's train step: the model's fast conv and pool forms against the plain lax ones.

    python benchmarks/ab_step.py --config experiments/magnetic_tile.py:method=supervised,preset=paper \
        --config.model.backbone=resnet50 --config.data.crop_size=129 --config.data.batch_size=4 --rounds 6

"plain" traces the model with `conv2d_nhwc` replaced by `lax.conv_general_dilated` with PyTorch's padding,
the stem pool by `nnx.max_pool` and the batch norm by nnx.BatchNorm + add + ReLU: what nnx computed
before commit 2c89523.
`--against no-im2col` instead keeps every fast form but the im2col 3×3 convs (commit fc44518's model);
`--against no-fused-bn` every fast form but the fused batch norm + residual + ReLU (commit b83b9d0's model);
`--against no-winograd` every fast form but Winograd F(2×2, 3×3) for the 3×3 convs on large maps.
Both steps are compiled in one process from the same state and batch, then called alternately
(A, B, A, B, ...): on a CPU shared with other jobs the load moves between separate runs by 2x, so
only interleaved calls give a ratio worth reading. Prints each form's median and the ratio.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import time

import jax
import numpy as np
from flax import nnx
from jax import lax

from ssseg.benchmark.step import random_batch
from ssseg.config.loader import load_config
from ssseg.models import layers, resnet
from ssseg.models.batch_norm import BatchNorm
from ssseg.train import sharding
from ssseg.train.setup import build_run
from ssseg.train.step import compile_train_step


def _plain_conv(x, kernel, *, stride=1, dilation=1):
    ph, pw = dilation * (kernel.shape[0] - 1) // 2, dilation * (kernel.shape[1] - 1) // 2
    return lax.conv_general_dilated(x, kernel, (stride, stride), ((ph, ph), (pw, pw)), rhs_dilation=(dilation, dilation),
                                    dimension_numbers=("NHWC", "HWIO", "NHWC"))


def _plain_pool(x):
    return nnx.max_pool(x, (3, 3), strides=(2, 2), padding=((1, 1), (1, 1)))


@contextlib.contextmanager
def _patched(owner, name, value):
    """While tracing: `owner.name` set to `value`."""
    saved = getattr(owner, name)
    setattr(owner, name, value)
    try:
        yield
    finally:
        setattr(owner, name, saved)


def without_im2col():
    """Every 3×3 conv that is not Winograd as the lax conv (no input is wide enough for im2col)."""
    return _patched(layers, "IM2COL_MIN_CHANNELS", 1 << 30)


def without_winograd():
    """The 3×3 convs on large maps as im2col (wide) or lax (narrow) convs, as before Winograd."""
    return _patched(layers, "WINOGRAD_MIN_SIZE", 1 << 30)


def _unfused_batch_norm(self, x, use_running_average=None, *, residual=None, relu=False):
    y = nnx.BatchNorm.__call__(self, x, use_running_average)
    y = y + residual if residual is not None else y
    return jax.nn.relu(y) if relu else y


def without_fused_batch_norm():
    """Batch norm as nnx.BatchNorm, then the add and the ReLU, differentiated by autodiff."""
    return _patched(BatchNorm, "__call__", _unfused_batch_norm)


@contextlib.contextmanager
def plain_forms():
    """While tracing: the model's conv, stem pool and batch norm as the plain lax/nnx ops."""
    with _patched(layers, "conv2d_nhwc", _plain_conv), _patched(resnet, "max_pool_3x3_s2", _plain_pool), \
            without_fused_batch_norm():
        yield


BASELINES = {"plain": plain_forms, "no-im2col": without_im2col, "no-winograd": without_winograd,
             "no-fused-bn": without_fused_batch_norm}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", required=True)
    parser.add_argument("--rounds", type=int, default=6, help="timed (plain, fast) pairs after one warm-up pair")
    parser.add_argument("--against", choices=tuple(BASELINES), default="plain",
                        help="the baseline form: all plain lax ops, or today's forms without im2col or "
                             "without the fused batch norm")
    args, extra = parser.parse_known_args()
    cfg = load_config(args.config, extra)
    run = build_run(cfg)
    mesh = sharding.make_mesh()
    batch = sharding.shard_batch(random_batch(cfg, run.spec, run.ctx.method, cfg.seed), mesh)
    rng = jax.random.key(cfg.seed)
    steps, states = {}, {}
    baseline = BASELINES[args.against]
    for name in ("plain", "fast"):
        # Each step donates its state: give each its own buffers.
        state = jax.device_put(jax.tree.map(np.array, jax.device_get(run.state)), sharding.replicated(mesh))
        with baseline() if name == "plain" else contextlib.nullcontext():
            steps[name] = compile_train_step(run.ctx, mesh).lower(state, batch, rng).compile()
        states[name] = state
    times = {name: [] for name in steps}
    for round_index in range(args.rounds + 1):
        for name, step in steps.items():
            start = time.perf_counter()
            states[name], metrics = step(states[name], batch, rng)
            jax.block_until_ready(metrics)
            if round_index:
                times[name].append(time.perf_counter() - start)
    medians = {name: statistics.median(values) for name, values in times.items()}
    for name, values in times.items():
        print(f"{name:>5}: median {medians[name]:.3f} s  all {[round(v, 3) for v in values]}")
    print(f"fast / plain = {medians['fast'] / medians['plain']:.3f}  "
          f"(per-round ratios {[round(f / p, 3) for p, f in zip(times['plain'], times['fast'])]})")


if __name__ == "__main__":
    main()
