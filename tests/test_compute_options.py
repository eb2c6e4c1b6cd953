"""Mixed precision (train.compute_dtype) and rematerialisation (model.remat) of the train step.

bfloat16: the step computes in bf16 but keeps float32 parameters, optimizer
state, batch-norm statistics and loss, and its loss stays within 1 % of the float32
step's on the golden case. remat: recomputing the ResNet stages in the backward
pass gives the same gradients and batch statistics as keeping their activations.
"""

import golden_steps as g
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ssseg.errors import ConfigError
from ssseg.models import functional as model_fns
from ssseg.models.factory import build_model


def _dtypes(tree) -> set:
    return {str(x.dtype) for x in jax.tree.leaves(tree)}


@pytest.fixture(scope="module")
def golden():
    return g.load()


@pytest.mark.parametrize("name", ["supervised", pytest.param("unimatch", marks=pytest.mark.slow)])
def test_bf16_step_keeps_f32_state_and_is_close_to_f32(golden, name):
    prepared = g.prepare(name, "--config.train.compute_dtype=bfloat16")
    got = g.summarise(prepared)
    for step in (1, 2):
        want_loss = golden[name][f"step_{step}"]["metrics"]["loss"]
        bf16_loss = got[f"step_{step}"]["metrics"]["loss"]
        # bf16 has an 8-bit mantissa (relative step 2^-8 ≈ 0.4 %); measured here: the loss moves
        # by 0.005 % / 0.02 % (supervised, steps 1/2) and 0.13 % / 0.21 % (UniMatch).
        assert bf16_loss == pytest.approx(want_loss, rel=0.01), (step, bf16_loss, want_loss)
        assert bf16_loss != want_loss  # the bf16 path really computes in bf16
    state = prepared.run.state
    assert _dtypes(state.params) == _dtypes(state.batch_stats) == {"float32"}
    assert _dtypes(state.opt_state) <= {"float32", "int32"}
    # The compiled step's outputs: the whole new state (and the metrics) in float32.
    out_state, metrics = prepared.step.out_info
    assert _dtypes((out_state.params, out_state.batch_stats, out_state.extra)) <= {"float32", "uint32", "key<fry>"}
    assert _dtypes(metrics) == {"float32"}


def _tiny(remat: bool, compute_dtype: str = "float32"):
    cfg = {"arch": "deeplabv3plus", "backbone": "small", "width": 4, "remat": remat}
    return model_fns.split_model(build_model(cfg, 3, 1, seed=0, compute_dtype=compute_dtype))


def _grads(graphdef, params, batch_stats, images):
    def loss(p):
        logits, stats = model_fns.apply_model(graphdef, p, batch_stats, images, train=True)
        return jnp.sum(jnp.sin(logits)), (logits, stats)  # a loss whose gradient varies per pixel

    step = jax.jit(jax.grad(loss, has_aux=True)).lower(params).compile(g.COMPILER_OPTIONS)  # O0: compile is the cost
    return step(params)


def test_remat_gives_the_same_gradients_and_batch_stats():
    images = jax.random.normal(jax.random.key(1), (2, 16, 16, 1))
    graphdef, params, batch_stats = _tiny(remat=False)
    remat_graphdef, remat_params, _ = _tiny(remat=True)
    assert remat_graphdef != graphdef
    (grads, (logits, stats)) = _grads(graphdef, params, batch_stats, images)
    (remat_grads, (remat_logits, remat_stats)) = _grads(remat_graphdef, remat_params, batch_stats, images)
    np.testing.assert_array_equal(logits, remat_logits)  # the forward pass is the same computation
    for a, b in zip(jax.tree.leaves((grads, stats)), jax.tree.leaves((remat_grads, remat_stats))):
        # float32 sums over a few thousand pixels, reassociated where the backward pass fuses otherwise
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_remat_shows_in_the_jaxpr():
    images = jnp.zeros((2, 32, 32, 1))
    graphdef, params, batch_stats = _tiny(remat=True)
    jaxpr = str(jax.make_jaxpr(lambda p: model_fns.apply_model(graphdef, p, batch_stats, images, train=True))(params))
    assert jaxpr.count("checkpoint[") + jaxpr.count("remat") >= 4  # one per ResNet stage


def test_bf16_model_computes_in_bf16_and_returns_f32():
    images = jax.ShapeDtypeStruct((2, 32, 32, 1), jnp.float32)
    graphdef, params, batch_stats = _tiny(remat=False, compute_dtype="bfloat16")
    assert _dtypes(params) == {"float32"}

    def forward(p, x):
        return model_fns.apply_model(graphdef, p, batch_stats, x, train=True)

    jaxpr = str(jax.make_jaxpr(forward)(params, images))
    convs = [line.split("=")[0] for line in jaxpr.splitlines() if "conv_general_dilated[" in line]
    assert len(convs) >= 10 and all(":bf16[" in out for out in convs), convs  # every conv's output
    matmuls = [line.split("=")[0] for line in jaxpr.splitlines() if "dot_general[" in line]
    assert len(matmuls) >= 5 and all(":bf16[" in out for out in matmuls), matmuls  # 1x1 convs run as matmuls
    logits, stats = jax.eval_shape(forward, params, images)
    assert logits.dtype == jnp.float32 and _dtypes(stats) == {"float32"}


def test_bad_options_name_the_key():
    with pytest.raises(ConfigError, match="train.compute_dtype='float16'"):
        _tiny(remat=False, compute_dtype="float16")
    with pytest.raises(ConfigError, match="model.remat=True"):
        build_model({"arch": "unet", "width": 4, "remat": True}, 3, 1, seed=0)
