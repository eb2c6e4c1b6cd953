"""The profile's op classes: conv directions and dilations read from compiled HLO, trace sums exact."""

import gzip
import json

import jax
import jax.numpy as jnp
from jax import lax

from ssseg.benchmark import profile


def _loss(x, w_dilated, w_plain):
    y = lax.conv_general_dilated(x, w_dilated, (1, 1), ((6, 6), (6, 6)), rhs_dilation=(6, 6),
                                 dimension_numbers=("NHWC", "HWIO", "NHWC"))
    y = lax.conv_general_dilated(jax.nn.relu(y), w_plain, (1, 1), ((1, 1), (1, 1)),
                                 dimension_numbers=("NHWC", "HWIO", "NHWC"))
    y = lax.reduce_window(y, -jnp.inf, lax.max, (1, 3, 3, 1), (1, 2, 2, 1), ((0, 0), (1, 1), (1, 1), (0, 0)))
    return jnp.sum(y ** 2)


def test_compiled_grad_has_each_conv_direction_and_the_pool_backward():
    args = (jnp.ones((2, 9, 9, 4)), jnp.ones((3, 3, 4, 4)), jnp.ones((3, 3, 4, 4)))
    hlo = jax.jit(jax.grad(_loss, argnums=(0, 1, 2))).lower(*args).compile().as_text()
    classes = {profile.classify({**info, "name": name}) for name, info in profile.parse_hlo(hlo).items()
               if info["computation"].startswith("main")}
    assert {"conv forward, ASPP dilation 6", "conv backward-filter, ASPP dilation 6", "conv forward",
            "conv backward-filter", "max pool forward"} <= classes
    assert "max pool backward" in classes
    assert {"conv backward-input", "conv backward-input, ASPP dilation 6"} & classes  # XLA may fold one away


def test_thunk_times_sum_hlo_op_events_only(tmp_path):
    events = [{"ph": "X", "name": "a", "dur": 5.0, "args": {"hlo_op": "conv.1"}},
              {"ph": "X", "name": "a", "dur": 7.5, "args": {"hlo_op": "conv.1"}},
              {"ph": "X", "name": "end: conv.1", "dur": 0.25, "args": {}},
              {"ph": "X", "name": "b", "dur": 2.0, "args": {"hlo_op": "fusion"}},
              {"ph": "M", "name": "thread_name", "args": {"name": "x"}}]
    path = tmp_path / "t.trace.json.gz"
    with gzip.open(path, "wt") as f:
        json.dump({"traceEvents": events}, f)
    assert profile.thunk_times_us(str(path)) == {"conv.1": 12.5, "fusion": 2.0}
    hlo = ("ENTRY %main (p: f32[2]) -> f32[2] {\n"
           "  %p = f32[2]{0} parameter(0)\n"
           "  ROOT %fusion = f32[2]{0} fusion(%p), kind=kLoop, calls=%c\n}\n")
    assert profile.op_class_times(hlo, {"fusion": 4000.0, "gone": 1000.0}, steps=2) == {
        "other": 2.0, "other (not in HLO)": 0.5}


def _compiled_hlo(fn, *args) -> str:
    # The persistent cache keys on HLO without its metadata: an executable cached by older code (before a
    # named scope changed) would bring back old op names. A compile option of no effect gives a fresh key.
    return jax.jit(fn).lower(*args).compile({"xla_cpu_enable_fast_min_max": False}).as_text()


def test_model_matmul_forms_have_their_own_classes():
    from ssseg.models.layers import conv2d_im2col, conv2d_nhwc

    def loss(x, w1, w3):
        return jnp.sum(conv2d_im2col(conv2d_nhwc(x, w1), w3, 1, 1) ** 2)

    args = (jnp.ones((1, 5, 5, 3)), jnp.ones((1, 1, 3, 4)), jnp.ones((3, 3, 4, 2)))
    hlo = _compiled_hlo(jax.grad(loss, argnums=(0, 1, 2)), *args)
    classes = {profile.classify({**info, "name": name}) for name, info in profile.parse_hlo(hlo).items()
               if info["computation"].startswith("main")}
    assert {"conv 1×1 as matmul (fwd + both grads)", profile.IM2COL} <= classes

    def im2col_only(x, w3):
        return jnp.sum(conv2d_im2col(x, w3, 1, 1) ** 2)

    hlo = _compiled_hlo(jax.grad(im2col_only, argnums=(0, 1)), jnp.ones((1, 5, 5, 4)), args[2])
    infos = [{**info, "name": name} for name, info in profile.parse_hlo(hlo).items()
             if info["computation"].startswith("main")]
    dots = [info for info in infos if "dot" in {info["opcode"]} | info["fused"]]
    assert len(dots) >= 3 and {profile.classify(info) for info in dots} == {profile.IM2COL}  # fwd and both grads


def test_winograd_conv_is_its_own_class():
    from ssseg.models.winograd import conv2d_winograd

    hlo = _compiled_hlo(jax.grad(lambda x, w: jnp.sum(conv2d_winograd(x, w) ** 2), argnums=(0, 1)),
                        jnp.ones((1, 6, 5, 4)), jnp.ones((3, 3, 4, 2)))
    infos = [{**info, "name": name} for name, info in profile.parse_hlo(hlo).items()
             if info["computation"].startswith("main")]
    dots = [info for info in infos if "dot" in {info["opcode"]} | info["fused"]]
    assert len(dots) >= 3 and {profile.classify(info) for info in dots} == {profile.WINOGRAD}  # fwd and both grads


def test_fused_batch_norm_is_batch_norm_forward_and_backward():
    from flax import nnx

    from ssseg.models.layers import batch_norm

    bn = batch_norm(4, rngs=nnx.Rngs(0))
    graphdef, params, stats = nnx.split(bn, nnx.Param, nnx.BatchStat)

    def loss(params, x, residual):
        return jnp.sum(nnx.merge(graphdef, params, stats, copy=True)(x, False, residual=residual, relu=True) ** 2)

    x = jnp.arange(2 * 3 * 3 * 4, dtype=jnp.float32).reshape(2, 3, 3, 4)
    hlo = _compiled_hlo(jax.grad(loss, argnums=(0, 1, 2)), params, x, jnp.ones_like(x))
    infos = [{**info, "name": name} for name, info in profile.parse_hlo(hlo).items()
             if info["computation"].startswith("main") and info["opcode"] not in {"parameter", "constant", "tuple"}]
    work = [info for info in infos if {info["opcode"]} | info["fused"] & {"reduce", "multiply", "subtract"}]
    assert work and {profile.classify(info) for info in work} == {"batch norm"}
