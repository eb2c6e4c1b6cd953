"""Winograd F(2×2, 3×3): a stride-1 3×3 conv with 2.25× fewer multiplications (Lavin & Gray, 2016).

Each 2×2 block of outputs is computed from the 4×4 input tile around it as A^T [(G k G^T) ⊙ (B^T d B)] A:
the input and kernel are moved into a 16-point transform domain by additions (the kernel by halves),
where the conv is 16 independent matmuls over channels [tiles, c_in] × [c_in, c_out], then moved back by
additions. Against im2col's one matmul over 9 stacked taps per output pixel that is 16 products per
4 outputs instead of 36. The result is the same sum up to float rounding (on small-integer inputs the
transforms are exact in float32, so tests compare for equality); in float32 on unit-scale data the
relative difference to the lax conv is ~2e-6.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

# F(2×2, 3×3)'s transforms (Lavin & Gray's B^T, G, A^T); every entry of B^T and A^T is 0 or ±1.
INPUT_T = ((1, 0, -1, 0), (0, 1, 1, 0), (0, -1, 1, 0), (0, 1, 0, -1))
KERNEL_T = np.array([[1, 0, 0], [.5, .5, .5], [.5, -.5, .5], [0, 0, 1]], np.float32)
OUTPUT_T = ((1, 1, 1, 0), (0, 1, -1, -1))
OUTPUT_T_TRANSPOSED = tuple(zip(*OUTPUT_T))   # A: 4 rows of 2


def _signed_sum(signs, parts):
    """Σ sign·part over the nonzero ±1 signs: written as adds so that XLA fuses it into one pass."""
    terms = [part if sign == 1 else -part for sign, part in zip(signs, parts) if sign]
    total = terms[0]
    for term in terms[1:]:
        total = total + term
    return total


def _two_sided(rows, matrix, columns):
    """M T M^T for every tile T, as the stacked entries [p·len(M) + q, ...]: rows combined first, then
    the columns (`columns(row)` lists a combined row's entries)."""
    points = []
    for row in (_signed_sum(signs, rows) for signs in matrix):
        cols = columns(row)
        points += [_signed_sum(signs, cols) for signs in matrix]
    return jnp.stack(points)


def _tiles(size: int) -> int:
    return -(-size // 2)


def input_transform(x: jax.Array) -> jax.Array:
    """B^T d B of every 4×4 tile (stride 2, PyTorch's zero padding 1): [b, h, w, c] → [16, b·th·tw, c]."""
    b, h, w, c = x.shape
    th, tw = _tiles(h), _tiles(w)
    padded = jnp.pad(x, ((0, 0), (1, 2 * th + 1 - h), (1, 2 * tw + 1 - w), (0, 0)))
    rows = [padded[:, a:a + 2 * th:2] for a in range(4)]            # row a of every tile: [b, th, w+3, c]
    points = _two_sided(rows, INPUT_T, lambda row: [row[:, :, a:a + 2 * tw:2] for a in range(4)])
    return points.reshape(16, b * th * tw, c)


def kernel_transform(kernel: jax.Array) -> jax.Array:
    """G k G^T: [3, 3, c_in, c_out] → [16, c_in, c_out]."""
    g = jnp.asarray(KERNEL_T, kernel.dtype)
    return jnp.einsum("pi,qj,ijco->pqco", g, g, kernel).reshape(16, *kernel.shape[2:])


def output_transform(products: jax.Array, out_hw: tuple[int, int]) -> jax.Array:
    """A^T M A of every tile, interleaved back into the map and cropped: [16, b·th·tw, o] → [b, h, w, o]."""
    (h, w), o = out_hw, products.shape[-1]
    th, tw = _tiles(h), _tiles(w)
    blocks = _two_sided(list(products.reshape(4, 4, -1, th, tw, o)), OUTPUT_T, list).reshape(2, 2, -1, th, tw, o)
    return blocks.transpose(2, 3, 0, 4, 1, 5).reshape(-1, 2 * th, 2 * tw, o)[:, :h, :w]


def output_transform_transposed(grad_out: jax.Array) -> jax.Array:
    """The adjoint of `output_transform`: A dY A^T per tile, [b, h, w, o] → [16, b·th·tw, o]."""
    b, h, w, o = grad_out.shape
    th, tw = _tiles(h), _tiles(w)
    blocks = jnp.pad(grad_out, ((0, 0), (0, 2 * th - h), (0, 2 * tw - w), (0, 0))).reshape(b, th, 2, tw, 2, o)
    rows = [blocks[:, :, r] for r in range(2)]                       # [b, th, tw, 2, o] each
    points = _two_sided(rows, OUTPUT_T_TRANSPOSED, lambda row: [row[:, :, :, s] for s in range(2)])
    return points.reshape(16, b * th * tw, o)


@jax.custom_vjp
def conv2d_winograd(x: jax.Array, kernel: jax.Array) -> jax.Array:
    """PyTorch's Conv2d(3×3, stride 1, padding 1) on NHWC [b, h, w, c_in] with an HWIO kernel, by F(2×2, 3×3).

    The gradient is written out: the input gradient is the same conv of the output gradient with the
    flipped, transposed kernel; the kernel gradient is 16 matmuls in the transform domain. Only `x` and
    the kernel are kept for the backward pass (its tiles are rebuilt there), as for the lax conv.
    """
    with jax.named_scope("conv2d_winograd"):   # names its ops for `ssseg bench --profile`
        products = jnp.einsum("tmc,tco->tmo", input_transform(x), kernel_transform(kernel))
        return output_transform(products, x.shape[1:3])


def _winograd_fwd(x, kernel):
    return conv2d_winograd(x, kernel), (x, kernel)


def _winograd_bwd(residual, grad_out):
    x, kernel = residual
    grad_x = conv2d_winograd(grad_out, jnp.flip(kernel, (0, 1)).swapaxes(2, 3))
    with jax.named_scope("conv2d_winograd_bwd"):
        grad_points = jnp.einsum("tmc,tmo->tco", input_transform(x), output_transform_transposed(grad_out))
        g = jnp.asarray(KERNEL_T, grad_points.dtype)
        grad_kernel = jnp.einsum("pi,qj,pqco->ijco", g, g, grad_points.reshape(4, 4, *kernel.shape[2:]))
    return grad_x, grad_kernel


conv2d_winograd.defvjp(_winograd_fwd, _winograd_bwd)
