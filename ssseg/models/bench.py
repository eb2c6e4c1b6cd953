"""Forward+backward training throughput (img/s) of a model config on this machine."""

from __future__ import annotations

import argparse
import time
from typing import Any

import jax
import jax.numpy as jnp
import optax

from ssseg.models import functional
from ssseg.models.factory import build_model


def train_throughput(model_cfg: Any, *, image_size: int = 96, batch_size: int = 8, num_classes: int = 6,
                     in_channels: int = 3, steps: int = 10, warmup: int = 2, seed: int = 0,
                     verbose: bool = True) -> dict[str, float]:
    """Time jitted SGD steps (forward, cross-entropy backward, update) on random inputs.

    Returns {"img_per_s", "step_ms", "compile_s", "params"}; prints one line when verbose.
    """
    model = build_model(model_cfg, num_classes, in_channels, seed)
    graphdef, params, batch_stats = functional.split_model(model)
    optimizer = optax.sgd(0.01, momentum=0.9)
    opt_state = optimizer.init(params)
    key_images, key_labels = jax.random.split(jax.random.key(seed))
    images = jax.random.normal(key_images, (batch_size, image_size, image_size, in_channels))
    labels = jax.random.randint(key_labels, (batch_size, image_size, image_size), 0, num_classes)

    def loss_fn(params, batch_stats, images, labels):
        logits, new_stats = functional.apply_model(graphdef, params, batch_stats, images, train=True)
        return optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean(), new_stats

    # images/labels are arguments, not closure constants: XLA would otherwise constant-fold the loss.
    @jax.jit
    def step(params, batch_stats, opt_state, images, labels):
        (loss, batch_stats), grads = jax.value_and_grad(loss_fn, has_aux=True)(params, batch_stats, images, labels)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), batch_stats, opt_state, loss

    start = time.perf_counter()
    state = step(params, batch_stats, opt_state, images, labels)
    jax.block_until_ready(state)
    compile_s = time.perf_counter() - start
    for _ in range(max(0, warmup - 1)):
        state = step(*state[:3], images, labels)
    jax.block_until_ready(state)
    start, cpu_start = time.perf_counter(), time.process_time()
    for _ in range(steps):
        state = step(*state[:3], images, labels)
    jax.block_until_ready(state)
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    result = {"img_per_s": steps * batch_size / elapsed, "step_ms": 1000 * elapsed / steps,
              # CPU seconds this process used per step: a contention-free view when cores are shared
              "cpu_s_per_step": cpu / steps,
              "compile_s": compile_s, "params": float(sum(p.size for p in jax.tree.leaves(params)))}
    if verbose:
        print(f"{dict(model_cfg)} {image_size}x{image_size} batch {batch_size} on {jax.devices()[0].platform}: "
              f"{result['img_per_s']:.1f} img/s train ({result['step_ms']:.1f} ms/step wall, "
              f"{1000 * result['cpu_s_per_step']:.1f} ms/step CPU, compile {compile_s:.1f} s, "
              f"{result['params'] / 1e6:.2f} M params)", flush=True)
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--arch", default="deeplabv3plus")
    parser.add_argument("--backbone", default="small")
    parser.add_argument("--width", type=int, default=16)
    parser.add_argument("--output-stride", type=int, default=16)
    parser.add_argument("--head-channels", type=int, default=None)
    parser.add_argument("--size", type=int, default=96)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--channels", type=int, default=3)
    parser.add_argument("--steps", type=int, default=10)
    args = parser.parse_args(argv)
    cfg = {"arch": args.arch, "backbone": args.backbone, "width": args.width,
           "output_stride": args.output_stride}
    if args.head_channels:
        cfg["head_channels"] = args.head_channels
    train_throughput(cfg, image_size=args.size, batch_size=args.batch, in_channels=args.channels,
                     steps=args.steps)


if __name__ == "__main__":
    main()
