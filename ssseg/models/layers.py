"""Building blocks shared by the segmentation models: PyTorch-compatible conv/BN, pooling, align-corners resize."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx
from jax import lax

from ssseg.models.batch_norm import BatchNorm
from ssseg.models.winograd import conv2d_winograd

# PyTorch's BatchNorm momentum 0.1 weights the *new* batch; flax's momentum weights the running average.
BN_MOMENTUM = 0.9
BN_EPS = 1e-5

# 3×3 convs over this many input channels or more run as im2col matmuls (the deep stem (3→64→64→128 at
# 65×65) and layer1 (64→64) run as fast or faster as XLA convs).
IM2COL_MIN_CHANNELS = 128

# Stride-1 3×3 float32 convs on maps at least this large run as Winograd F(2×2, 3×3) (the deep stem at
# 65×65, layer1 and the decoder at 33×33 at crop 129); on smaller maps the tile padding and the transforms
# cost more than the saved products (layer3 at 9×9: 2× slower, benchmarks/conv_forms.py).
WINOGRAD_MIN_SIZE = 32

# torchvision initialises ResNet convs with kaiming_normal(fan_out, relu).
conv_kernel_init = nnx.initializers.variance_scaling(2.0, "fan_out", "normal")


def _valid_taps(kernel: int, dilation: int, size: int) -> tuple[int, int]:
    """(first, last+1) of the centred kernel taps that read at least one real pixel of a `size`-long axis.

    With PyTorch's padding `dilation*(k-1)//2`, tap i reads offset (i - k//2)*dilation from each output
    pixel; if |offset| >= size, every output reads zero padding there and the tap contributes exactly 0.
    """
    centre = kernel // 2
    reach = min(centre, (size - 1) // dilation) if dilation > 0 else centre
    return centre - reach, centre + reach + 1


def conv2d_nhwc(x: jax.Array, kernel: jax.Array, *, stride: int = 1, dilation: int = 1) -> jax.Array:
    """PyTorch's Conv2d(padding=dilation*(k-1)//2) on NHWC, in the form XLA:CPU runs fastest.

    Same sum as `lax.conv_general_dilated` (up to float summation order), chosen statically by shape:
    taps that read only padding are dropped (ASPP's rates 12 and 18 on a 9×9 map leave the centre tap);
    a 1×1 kernel is a matmul over channels (after a strided slice), whose gradients are matmuls too
    (XLA:CPU's conv weight gradient is several times slower); a stride-1 3×3 float32 conv on a map of
    at least `WINOGRAD_MIN_SIZE` is Winograd F(2×2, 3×3) (`conv2d_winograd`; bfloat16 keeps the
    exact-product forms, as its transform additions would round); another kernel over at least
    `IM2COL_MIN_CHANNELS` input channels is one matmul over its stacked taps (`conv2d_im2col`).
    The rest (the deep stem's stride-2 conv, narrow convs on small maps) is the plain lax convolution.
    """
    kh, kw = kernel.shape[:2]
    if stride == 1 and dilation > 1:
        (top, bottom), (left, right) = _valid_taps(kh, dilation, x.shape[1]), _valid_taps(kw, dilation, x.shape[2])
        kernel = kernel[top:bottom, left:right]
        kh, kw = kernel.shape[:2]
    form = conv_form(x.shape, (kh, kw), stride, dilation, x.dtype)
    if form == "matmul":
        return jnp.einsum("bhwc,co->bhwo", x[:, ::stride, ::stride], kernel[0, 0])
    if form == "winograd":
        return conv2d_winograd(x, kernel)
    if form == "im2col":
        return conv2d_im2col(x, kernel, stride, dilation)
    ph, pw = dilation * (kh - 1) // 2, dilation * (kw - 1) // 2
    return lax.conv_general_dilated(x, kernel, (stride, stride), ((ph, ph), (pw, pw)),
                                    rhs_dilation=(dilation, dilation), dimension_numbers=("NHWC", "HWIO", "NHWC"))


def conv_form(in_shape: tuple[int, ...], kernel_hw: tuple[int, int], stride: int, dilation: int, dtype) -> str:
    """Which form `conv2d_nhwc` runs for an NHWC input shape and a kernel (after dropping padding-only taps)."""
    if tuple(kernel_hw) == (1, 1):
        return "matmul"
    if (*kernel_hw, stride, dilation) == (3, 3, 1, 1) and min(in_shape[1:3]) >= WINOGRAD_MIN_SIZE \
            and jnp.dtype(dtype) == jnp.float32:
        return "winograd"
    return "im2col" if in_shape[-1] >= IM2COL_MIN_CHANNELS else "lax"


def _stacked_taps(x: jax.Array, kernel_hw: tuple[int, int], stride: int, dilation: int) -> jax.Array:
    """im2col: the kh·kw shifted, strided views of `x` (PyTorch's zero padding), stacked on channels, tap-major."""
    (kh, kw), (height, width) = kernel_hw, x.shape[1:3]
    ph, pw = dilation * (kh - 1) // 2, dilation * (kw - 1) // 2
    out_h = (height + 2 * ph - dilation * (kh - 1) - 1) // stride + 1
    out_w = (width + 2 * pw - dilation * (kw - 1) - 1) // stride + 1
    padded = jnp.pad(x, ((0, 0), (ph, ph), (pw, pw), (0, 0)))
    views = [padded[:, i * dilation:i * dilation + stride * (out_h - 1) + 1:stride,
                    j * dilation:j * dilation + stride * (out_w - 1) + 1:stride] for i in range(kh) for j in range(kw)]
    return jnp.concatenate(views, axis=-1)


@functools.partial(jax.custom_vjp, nondiff_argnums=(2, 3))
def conv2d_im2col(x: jax.Array, kernel: jax.Array, stride: int, dilation: int) -> jax.Array:
    """A k×k conv as one matmul of the stacked taps [b, h, w, k·k·c_in] with the kernel [k·k·c_in, c_out].

    XLA:CPU's conv kernels lose to its matmul on ResNet's 3×3 convs with ≥ 128 channels: fwd + both
    gradients of layer4's dilated 3×3 (4×9×9, 512→512) 62 → 32 ms, the decoder's 304→256 on 4×33×33
    232 → 169 ms (benchmarks/conv_forms.py). The gradient is written out so that only `x` is kept for
    the backward pass (the taps, k·k times its size, are rebuilt there): memory stays the lax conv's.
    """
    with jax.named_scope("conv2d_im2col"):   # names its ops for `ssseg bench --profile`
        return jnp.einsum("bhwk,ko->bhwo", _stacked_taps(x, kernel.shape[:2], stride, dilation),
                          kernel.reshape(-1, kernel.shape[-1]))


def _im2col_fwd(x, kernel, stride, dilation):
    return conv2d_im2col(x, kernel, stride, dilation), (x, kernel)


def _im2col_bwd(stride, dilation, residual, grad_out):
    x, kernel = residual
    with jax.named_scope("conv2d_im2col_bwd"):
        taps, taps_vjp = jax.vjp(lambda v: _stacked_taps(v, kernel.shape[:2], stride, dilation), x)
        flat_kernel = kernel.reshape(-1, kernel.shape[-1])
        grad_kernel = jnp.einsum("bhwk,bhwo->ko", taps, grad_out).reshape(kernel.shape)
        (grad_x,) = taps_vjp(jnp.einsum("bhwo,ko->bhwk", grad_out, flat_kernel))
    return grad_x, grad_kernel


conv2d_im2col.defvjp(_im2col_fwd, _im2col_bwd)


class Conv2d(nnx.Conv):
    """nnx.Conv (same parameters, same tree) computed by `conv2d_nhwc`: square kernel, PyTorch padding."""

    def __call__(self, x: jax.Array) -> jax.Array:
        stride, dilation = _square(self.strides, "strides"), _square(self.kernel_dilation, "kernel_dilation")
        bias = self.bias[...] if self.bias is not None else None
        # As nnx.Conv: input, kernel and bias in `self.dtype` (train.compute_dtype), else promoted.
        x, kernel, bias = self.promote_dtype((x, self.kernel[...], bias), dtype=self.dtype)
        y = conv2d_nhwc(x, kernel, stride=stride, dilation=dilation)
        return y + bias if bias is not None else y


def _square(value, name: str) -> int:
    values = {int(v) for v in value} if isinstance(value, (tuple, list)) else {int(value or 1)}
    if len(values) != 1:
        raise ValueError(f"Conv2d.{name}={value!r}: expected the same value on both axes")
    return values.pop()


def conv2d(in_channels: int, out_channels: int, kernel: int, *, rngs: nnx.Rngs, stride: int = 1,
           dilation: int = 1, use_bias: bool = False) -> Conv2d:
    """A k×k conv with PyTorch's symmetric padding `dilation*(k-1)//2`.

    Explicit symmetric padding (not 'SAME') keeps stride-2 outputs aligned with
    PyTorch, so imported torchvision weights see the same pixels.
    """
    pad = dilation * (kernel - 1) // 2
    return Conv2d(in_channels, out_channels, (kernel, kernel), strides=stride,
                  padding=((pad, pad), (pad, pad)), kernel_dilation=dilation,
                  use_bias=use_bias, kernel_init=conv_kernel_init, rngs=rngs)


def batch_norm(channels: int, *, rngs: nnx.Rngs) -> BatchNorm:
    """PyTorch's BatchNorm2d defaults; `bn(x, train_flag, residual=r, relu=True)` fuses the add and ReLU after it."""
    return BatchNorm(channels, momentum=BN_MOMENTUM, epsilon=BN_EPS, rngs=rngs)


class ConvBNReLU(nnx.Module):
    """conv (no bias) → BatchNorm → ReLU; BN uses batch statistics iff `train`."""

    def __init__(self, in_channels: int, out_channels: int, kernel: int, *, rngs: nnx.Rngs,
                 stride: int = 1, dilation: int = 1):
        self.conv = conv2d(in_channels, out_channels, kernel, stride=stride, dilation=dilation, rngs=rngs)
        self.bn = batch_norm(out_channels, rngs=rngs)

    def __call__(self, x: jax.Array, train: bool) -> jax.Array:
        return self.bn(self.conv(x), use_running_average=not train, relu=True)


def _pool_windows(x: jax.Array) -> tuple[list[jax.Array], tuple[int, int]]:
    """The 9 strided views of a 3×3/2 pool with padding 1 (-inf), row-major window order, and the output size."""
    out_h, out_w = (x.shape[1] - 1) // 2 + 1, (x.shape[2] - 1) // 2 + 1
    padded = jnp.pad(x, ((0, 0), (1, 2), (1, 2), (0, 0)), constant_values=-jnp.inf)
    views = [padded[:, i:i + 2 * out_h:2, j:j + 2 * out_w:2] for i in range(3) for j in range(3)]
    return views, (out_h, out_w)


@jax.custom_vjp
def max_pool_3x3_s2(x: jax.Array) -> jax.Array:
    """torchvision's stem MaxPool2d(3, stride=2, padding=1) (pads with -inf).

    A max over 9 strided slices, with a gradient written as 9 masked strided pads: XLA:CPU's own
    max-pool gradient (argmax reduce-window + scatter) cost several times PyTorch's. The gradient
    goes to the first maximum in row-major window order, as PyTorch's CPU kernel sends it.
    """
    views, _ = _pool_windows(x)
    return functools.reduce(jnp.maximum, views)


def _max_pool_fwd(x):
    out = max_pool_3x3_s2(x)
    return out, (x, out)


def _max_pool_bwd(residual, grad_out):
    x, out = residual
    views, (out_h, out_w) = _pool_windows(x)
    height, width = x.shape[1], x.shape[2]
    taken = jnp.zeros(out.shape, bool)
    grad_padded = jnp.zeros((x.shape[0], height + 3, width + 3, x.shape[3]), grad_out.dtype)
    zero = jnp.zeros((), grad_out.dtype)
    for k, view in enumerate(views):
        i, j = divmod(k, 3)
        hit = (view == out) & ~taken
        taken = taken | hit
        routed = jnp.where(hit, grad_out, zero)
        # Interior padding puts routed[q] at padded row i + 2q: the scatter of a strided slice.
        grad_padded = grad_padded + lax.pad(routed, zero, (
            (0, 0, 0), (i, height + 3 - i - (2 * out_h - 1), 1), (j, width + 3 - j - (2 * out_w - 1), 1), (0, 0, 0)))
    return (grad_padded[:, 1:1 + height, 1:1 + width],)


max_pool_3x3_s2.defvjp(_max_pool_fwd, _max_pool_bwd)


def max_pool_2x2_ceil(x: jax.Array) -> jax.Array:
    """2×2/2 max pool that keeps odd sizes (ceil mode), so any input size survives a U-Net."""
    pad_h, pad_w = x.shape[1] % 2, x.shape[2] % 2
    return nnx.max_pool(x, (2, 2), strides=(2, 2), padding=((0, pad_h), (0, pad_w)))


def _align_corners_matrix(in_size: int, out_size: int) -> np.ndarray:
    """[out_size, in_size] linear-interpolation weights with align_corners=True sampling."""
    if out_size == 1 or in_size == 1:
        src = np.zeros(out_size)
    else:
        src = np.arange(out_size) * (in_size - 1) / (out_size - 1)
    lo = np.clip(np.floor(src).astype(np.int64), 0, in_size - 1)
    hi = np.minimum(lo + 1, in_size - 1)
    frac = src - lo
    weights = np.zeros((out_size, in_size), np.float64)
    np.add.at(weights, (np.arange(out_size), lo), 1.0 - frac)
    np.add.at(weights, (np.arange(out_size), hi), frac)
    return weights.astype(np.float32)


def resize_bilinear_align_corners(x_bhwc: jax.Array, out_hw: tuple[int, int]) -> jax.Array:
    """Bilinear resize with PyTorch's align_corners=True semantics.

    jax.image.resize samples at half-pixel centres; UniMatch upsamples with
    align_corners=True (corner pixels map onto corner pixels), so this uses two
    small constant interpolation matrices instead (separable, differentiable,
    and a matmul on any backend).
    """
    out_h, out_w = int(out_hw[0]), int(out_hw[1])
    in_h, in_w = x_bhwc.shape[1], x_bhwc.shape[2]
    if (in_h, in_w) == (out_h, out_w):
        return x_bhwc
    rows = jnp.asarray(_align_corners_matrix(in_h, out_h), x_bhwc.dtype)
    cols = jnp.asarray(_align_corners_matrix(in_w, out_w), x_bhwc.dtype)
    x_bhwc = jnp.einsum("oh,bhwc->bowc", rows, x_bhwc)
    return jnp.einsum("pw,bowc->bopc", cols, x_bhwc)
