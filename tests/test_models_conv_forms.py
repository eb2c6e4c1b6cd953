"""The fast conv forms (ssseg.models.layers.conv2d_nhwc) compute the plain lax convolution.

Inputs, kernels and cotangents are small integers, so every float32 sum is exact whatever its
order: forward and both gradients must be *equal* to `lax.conv_general_dilated` with PyTorch's
padding, not merely close. Cases: 1×1 as a matmul (stride 1 and 2, odd sizes), dilated kernels
whose off-centre taps read only padding (dropped on both axes, on one axis), and a dilation where
every tap is partly valid (the plain path).
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx
from jax import lax

from ssseg.models.layers import Conv2d, _valid_taps, conv2d, conv2d_nhwc


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
