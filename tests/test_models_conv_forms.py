"""The fast conv and pool forms in ssseg.models.layers compute what the plain lax ops compute.

Inputs, kernels and cotangents are small integers, so every float32 sum is exact whatever its
order: forward and both gradients must be *equal* to `lax.conv_general_dilated` with PyTorch's
padding, not merely close. Cases: 1×1 as a matmul (stride 1 and 2, odd sizes), dilated kernels
whose off-centre taps read only padding (dropped on both axes, on one axis), a dilation where
every tap is partly valid, narrow 3×3 convs (the plain path), wide ones (im2col matmuls) and
3×3 convs on large maps (Winograd F(2×2, 3×3): its transforms multiply by halves and ±1, so on
small integers they are exact too). The stem max pool: forward equal to nnx.max_pool, and
its gradient sent to the first maximum of each window (row-major), as PyTorch's CPU kernel does.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx
from jax import lax

from ssseg.models.layers import (IM2COL_MIN_CHANNELS, WINOGRAD_MIN_SIZE, Conv2d, _valid_taps, conv2d, conv2d_im2col,
                                 conv2d_nhwc, max_pool_3x3_s2)
from ssseg.models.winograd import conv2d_winograd


def plain_conv(x, kernel, stride, dilation):
    pad_h, pad_w = dilation * (kernel.shape[0] - 1) // 2, dilation * (kernel.shape[1] - 1) // 2
    return lax.conv_general_dilated(x, kernel, (stride, stride), ((pad_h, pad_h), (pad_w, pad_w)),
                                    rhs_dilation=(dilation, dilation), dimension_numbers=("NHWC", "HWIO", "NHWC"))


def integers(seed, shape):
    return jnp.asarray(np.random.default_rng(seed).integers(-3, 4, shape), jnp.float32)


CASES = [  # (input [b, h, w, c], kernel size, out channels, stride, dilation)
    ((2, 5, 7, 3), 1, 4, 1, 1),
    ((2, 5, 7, 3), 1, 4, 2, 1),
    ((1, 5, 5, 3), 3, 2, 1, 12),   # every off-centre tap reads padding: a 1×1 matmul
    ((1, 3, 9, 2), 3, 2, 1, 4),    # rows: centre only; columns: all three taps
    ((2, 5, 6, 2), 3, 3, 1, 2),    # every tap partly valid: the plain conv
    ((2, 7, 7, 2), 3, 3, 2, 1),
    ((1, 5, 6, IM2COL_MIN_CHANNELS), 3, 3, 1, 1),   # wide enough for im2col
    ((1, 7, 6, IM2COL_MIN_CHANNELS), 3, 2, 2, 1),
    ((1, 6, 5, IM2COL_MIN_CHANNELS), 3, 2, 1, 2),
    ((1, WINOGRAD_MIN_SIZE + 1, WINOGRAD_MIN_SIZE, 2), 3, 3, 1, 1),   # large enough for Winograd, odd height
    ((1, WINOGRAD_MIN_SIZE + 1, WINOGRAD_MIN_SIZE, 2), 3, 3, 2, 1),   # stride 2: not Winograd
]

IM2COL_CASES = [  # conv2d_im2col called directly, any width: odd sizes, strides, dilations, a 5×5 kernel
    ((2, 5, 7, 3), 3, 4, 1, 1),
    ((2, 7, 6, 2), 3, 3, 2, 1),
    ((1, 6, 7, 2), 3, 2, 1, 3),
    ((1, 8, 9, 2), 3, 2, 2, 2),
    ((1, 6, 6, 2), 5, 2, 1, 1),
]


@pytest.mark.parametrize("shape,k,out,stride,dilation", CASES)
def test_forward_and_gradients_equal_the_plain_conv(shape, k, out, stride, dilation):
    x, kernel = integers(0, shape), integers(1, (k, k, shape[-1], out))
    expected = plain_conv(x, kernel, stride, dilation)
    got = conv2d_nhwc(x, kernel, stride=stride, dilation=dilation)
    np.testing.assert_array_equal(np.asarray(got), np.asarray(expected))
    cotangent = integers(2, expected.shape)

    def grads(conv):
        return jax.grad(lambda x, w: jnp.sum(conv(x, w) * cotangent), argnums=(0, 1))(x, kernel)

    for mine, theirs in zip(grads(lambda x, w: conv2d_nhwc(x, w, stride=stride, dilation=dilation)),
                            grads(lambda x, w: plain_conv(x, w, stride, dilation))):
        np.testing.assert_array_equal(np.asarray(mine), np.asarray(theirs))


@pytest.mark.parametrize("shape,k,out,stride,dilation", IM2COL_CASES)
def test_im2col_forward_and_gradients_equal_the_plain_conv(shape, k, out, stride, dilation):
    x, kernel = integers(3, shape), integers(4, (k, k, shape[-1], out))
    expected = plain_conv(x, kernel, stride, dilation)
    np.testing.assert_array_equal(np.asarray(conv2d_im2col(x, kernel, stride, dilation)), np.asarray(expected))
    cotangent = integers(5, expected.shape)
    _, mine = jax.vjp(lambda x, w: conv2d_im2col(x, w, stride, dilation), x, kernel)
    _, theirs = jax.vjp(lambda x, w: plain_conv(x, w, stride, dilation), x, kernel)
    for got, want in zip(mine(cotangent), theirs(cotangent)):
        np.testing.assert_array_equal(np.asarray(got), np.asarray(want))


WINOGRAD_CASES = [(2, 5, 7, 3, 4), (1, 6, 6, 2, 2), (1, 1, 2, 3, 1), (1, 4, 3, 1, 5)]   # [b, h, w, c_in], c_out


@pytest.mark.parametrize("b,h,w,c_in,c_out", WINOGRAD_CASES)
def test_winograd_forward_and_gradients_equal_the_plain_conv(b, h, w, c_in, c_out):
    x, kernel = integers(6, (b, h, w, c_in)), integers(7, (3, 3, c_in, c_out))
    expected = plain_conv(x, kernel, 1, 1)
    np.testing.assert_array_equal(np.asarray(conv2d_winograd(x, kernel)), np.asarray(expected))
    cotangent = integers(8, expected.shape)
    _, mine = jax.vjp(conv2d_winograd, x, kernel)
    _, theirs = jax.vjp(lambda x, w: plain_conv(x, w, 1, 1), x, kernel)
    for got, want in zip(mine(cotangent), theirs(cotangent)):
        np.testing.assert_array_equal(np.asarray(got), np.asarray(want))


def test_winograd_is_close_on_real_valued_inputs():
    """Unlike the integer cases its float rounding differs from the lax conv's: ~1e-6 relative in float32."""
    rng = np.random.default_rng(0)
    x = jnp.asarray(rng.standard_normal((2, 9, 8, 16)), jnp.float32)
    kernel = jnp.asarray(rng.standard_normal((3, 3, 16, 8)) / 12, jnp.float32)
    expected = np.asarray(plain_conv(x, kernel, 1, 1))
    got = np.asarray(conv2d_winograd(x, kernel))
    assert np.abs(got - expected).max() <= 1e-5 * np.abs(expected).max()


def test_valid_taps_keep_what_reads_a_pixel():
    assert _valid_taps(3, 12, 9) == (1, 2)   # offset 12 > 8: centre only
    assert _valid_taps(3, 8, 9) == (0, 3)    # offset 8 reaches the last pixel
    assert _valid_taps(3, 9, 9) == (1, 2)
    assert _valid_taps(3, 1, 1) == (1, 2)


def test_conv_module_keeps_nnx_conv_parameters():
    conv = conv2d(3, 4, 3, dilation=6, rngs=nnx.Rngs(0))
    assert isinstance(conv, nnx.Conv) and isinstance(conv, Conv2d)
    assert set(nnx.state(conv, nnx.Param).keys()) == {"kernel"}
    x = integers(3, (1, 4, 4, 3))
    np.testing.assert_allclose(np.asarray(conv(x)), np.asarray(plain_conv(x, conv.kernel[...], 1, 6)),
                               rtol=1e-6, atol=1e-5)


def _torch_style_pool_grad(x, grad_out):
    """Reference: each output's gradient to the first maximum of its window in row-major order."""
    b, h, w, c = x.shape
    padded = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)), constant_values=-np.inf)
    grad = np.zeros_like(padded)
    for n, oh, ow, ch in np.ndindex(*grad_out.shape):
        window = padded[n, 2 * oh:2 * oh + 3, 2 * ow:2 * ow + 3, ch]
        i, j = divmod(int(np.argmax(window)), 3)   # np.argmax: first maximum
        grad[n, 2 * oh + i, 2 * ow + j, ch] += grad_out[n, oh, ow, ch]
    return grad[:, 1:-1, 1:-1]


@pytest.mark.parametrize("shape", [(2, 7, 6, 3), (1, 4, 5, 2)])
def test_max_pool_matches_nnx_and_routes_ties_to_the_first_maximum(shape):
    rng = np.random.default_rng(0)
    x = rng.normal(size=shape).astype(np.float32)
    ties = rng.integers(0, 2, shape).astype(np.float32)          # many equal maxima per window
    expected = nnx.max_pool(jnp.asarray(x), (3, 3), strides=(2, 2), padding=((1, 1), (1, 1)))
    np.testing.assert_array_equal(np.asarray(max_pool_3x3_s2(jnp.asarray(x))), np.asarray(expected))
    grad_out = rng.integers(1, 5, expected.shape).astype(np.float32)
    for inputs in (x, ties):
        _, vjp = jax.vjp(max_pool_3x3_s2, jnp.asarray(inputs))
        np.testing.assert_array_equal(np.asarray(vjp(jnp.asarray(grad_out))[0]),
                                      _torch_style_pool_grad(inputs, grad_out))
