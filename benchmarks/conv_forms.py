"""Each 3×3 conv of a DeepLabV3+ step (R50 or the CPU preset's small backbone): lax, im2col, Winograd.

    python benchmarks/conv_forms.py [--shapes r50|cpu] [--batch 4] [--rounds 6]

`r50`: DeepLabV3+ R50, deep stem, crop 129, output stride 16 (the side-by-side step); `cpu`: the CPU
preset (small backbone, width 32, crop 128, output stride 16; batch 4 is one of its two devices' halves).

For every 3×3 conv shape of the step (deep stem, ResNet stages, layer4's dilation 2, ASPP's rate 6,
the decoder), times forward + both gradients of `lax.conv_general_dilated` with PyTorch's padding,
`conv2d_im2col` and (stride 1, no dilation) `conv2d_winograd`, called alternately in one process so
that a shared CPU's load hits all alike. Prints each median, the count of such convs in one step, the
form the model runs (`layers.conv_form`) and the ms per step that form saves against the lax conv.
Checks that the forms agree.
"""

from __future__ import annotations

import argparse
import statistics
import time

import jax
import jax.numpy as jnp
import numpy as np
from ab_step import _plain_conv   # the lax conv with PyTorch's padding (benchmarks/ab_step.py)

from ssseg.models.layers import conv2d_im2col, conv_form
from ssseg.models.winograd import conv2d_winograd

# name, input spatial size, c_in, c_out, stride, dilation, convs of this shape in one step; magnetic_tile's
# images are grayscale (1 channel); layer4's first block keeps dilation 1 (torchvision's and UniMatch's ResNet),
# so the CPU preset's one-block layer4 is not dilated (tests/test_benchmark_conv_forms.py checks these tables)
SHAPES = {"r50": [
    ("stem conv1", 129, 1, 64, 2, 1, 1), ("stem conv2", 65, 64, 64, 1, 1, 1), ("stem conv3", 65, 64, 128, 1, 1, 1),
    ("layer1", 33, 64, 64, 1, 1, 3), ("layer2 first", 33, 128, 128, 2, 1, 1), ("layer2", 17, 128, 128, 1, 1, 3),
    ("layer3 first", 17, 256, 256, 2, 1, 1), ("layer3", 9, 256, 256, 1, 1, 5),
    ("layer4 first", 9, 512, 512, 1, 1, 1), ("layer4 (dilation 2)", 9, 512, 512, 1, 2, 2),
    ("ASPP rate 6", 9, 2048, 256, 1, 6, 1), ("decoder 1", 33, 304, 256, 1, 1, 1), ("decoder 2", 33, 256, 256, 1, 1, 1),
], "cpu": [
    ("stem", 128, 1, 32, 2, 1, 1), ("layer1", 32, 32, 32, 1, 1, 2), ("layer2 first", 32, 32, 64, 2, 1, 1),
    ("layer2", 16, 64, 64, 1, 1, 1), ("layer3 first", 16, 64, 128, 2, 1, 1), ("layer3", 8, 128, 128, 1, 1, 1),
    ("layer4 first", 8, 128, 256, 1, 1, 1), ("layer4", 8, 256, 256, 1, 1, 1),
    ("ASPP rate 6", 8, 256, 64, 1, 6, 1), ("decoder 1", 32, 96, 64, 1, 1, 1), ("decoder 2", 32, 64, 64, 1, 1, 1),
]}


def _fwd_bwd(conv):
    return jax.jit(jax.grad(lambda x, k: 0.5 * jnp.sum(conv(x, k) ** 2), argnums=(0, 1)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shapes", choices=sorted(SHAPES), default="r50")
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=6)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    print("fwd + both grads, median ms")
    print(f"{'conv':22s} {'n':>2s} {'lax':>8s} {'im2col':>8s} {'winograd':>8s}  model runs  saves ms/step")
    saved_total = 0.0
    for name, size, c_in, c_out, stride, dilation, count in SHAPES[args.shapes]:
        x = jnp.asarray(rng.standard_normal((args.batch, size, size, c_in)), jnp.float32)
        kernel = jnp.asarray(rng.standard_normal((3, 3, c_in, c_out)) * 0.05, jnp.float32)
        forms = {"lax": _fwd_bwd(lambda x, k, s=stride, d=dilation: _plain_conv(x, k, stride=s, dilation=d)),
                 "im2col": _fwd_bwd(lambda x, k, s=stride, d=dilation: conv2d_im2col(x, k, s, d))}
        if (stride, dilation) == (1, 1):
            forms["winograd"] = _fwd_bwd(conv2d_winograd)
        want = forms["lax"](x, kernel)
        for form in list(forms)[1:]:
            for w, got in zip(want, forms[form](x, kernel)):
                np.testing.assert_allclose(np.asarray(got), np.asarray(w), rtol=2e-3, atol=2e-3 * float(jnp.abs(w).max()))
        times = {form: [] for form in forms}
        for _ in range(args.rounds):
            for form, fn in forms.items():
                start = time.perf_counter()
                jax.block_until_ready(fn(x, kernel))
                times[form].append(1e3 * (time.perf_counter() - start))
        ms = {form: statistics.median(t) for form, t in times.items()}
        model = conv_form(x.shape, (3, 3), stride, dilation, x.dtype)
        saved = count * (ms["lax"] - ms[model])
        saved_total += saved
        cells = " ".join(f"{ms[f]:8.1f}" if f in ms else f"{'-':>8s}" for f in ("lax", "im2col", "winograd"))
        print(f"{name:22s} {count:2d} {cells}  {model:10s}  {saved:8.1f}", flush=True)
    print(f"saved per step by the model's choices against the lax conv (sum of count × difference): {saved_total:.0f} ms")


if __name__ == "__main__":
    main()
