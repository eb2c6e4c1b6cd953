"""How a pretraining method lays out the train state, and its EMA target.

    params = {"encoder": ..., "decoder": ..., "ssl_heads": {...}}
    extra  = {"target": {"encoder": ..., "projector": ...}}   # EMA of the online copies

The decoder stays in `params` so the model can be called as built, but no
loss reaches it (its gradient is zero; weight decay moves it by < 0.1% over a
CPU-scale run) and `init_from` never loads it: the method's
`pretrained_parts=PRETRAINED_PARTS` ("encoder",) in each METHOD says so. `eval_models` drops the heads and
returns the segmentation-shaped tree that `init_from` and the probe read.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx

from ssseg.models import functional as model_fns
from ssseg.models.factory import build_model

HEADS_KEY = "ssl_heads"
PRETRAINED_PARTS = (model_fns.ENCODER_KEY,)


def feature_shapes(cfg, spec, params, batch_stats) -> tuple[tuple[int, int, int], ...]:
    """(height, width, channels) of each encoder output on a crop_size input, from shapes alone."""
    model_cfg = {k: cfg.model[k] for k in cfg.model.keys()}
    model_cfg["pretrained"] = ""  # shapes only: never read weight files here
    abstract = nnx.eval_shape(lambda: build_model(model_cfg, spec.num_classes, spec.channels, seed=0))
    graphdef = nnx.split(abstract, nnx.Param, nnx.BatchStat)[0]
    size = int(cfg.data.crop_size)
    dummy = jax.ShapeDtypeStruct((2, size, size, spec.channels), jnp.float32)
    features, _ = jax.eval_shape(
        lambda p, s, x: model_fns.encode(graphdef, p, s, x, train=False), params, batch_stats, dummy)
    return tuple(tuple(int(d) for d in f.shape[1:]) for f in features)


def model_params(params: dict) -> dict:
    """The segmentation model's part of `params` (everything but the heads)."""
    return {k: v for k, v in params.items() if k != HEADS_KEY}


def target_copy(params: dict) -> dict:
    """What the EMA target tracks: the encoder and the projector (never the predictor / PPM)."""
    return {"encoder": params[model_fns.ENCODER_KEY], "projector": params[HEADS_KEY]["projector"]}


def target_model_params(params: dict, extra: dict) -> dict:
    """The model with the target's encoder (the decoder is never run by pretraining losses)."""
    return {**model_params(params), model_fns.ENCODER_KEY: extra["target"]["encoder"]}


def init_extra(ctx, params, batch_stats, rng) -> dict:
    del ctx, batch_stats, rng
    return {"target": jax.tree.map(jnp.array, target_copy(params))}


def ema(target, online, momentum: float):
    """target ← m·target + (1 − m)·online, leaf by leaf (BYOL eq. 1)."""
    return jax.tree.map(lambda t, o: momentum * t + (1.0 - momentum) * o, target, online)


def after_update(ctx, state):
    target = ema(state.extra["target"], target_copy(state.params), float(ctx.method_cfg.ema_momentum))
    return state.replace(extra={**state.extra, "target": target})


def eval_models(state) -> dict:
    """{"pretrained": (segmentation-shaped params, batch_stats)} for init_from and the probe."""
    return {"pretrained": (model_params(state.params), state.batch_stats)}


def encode_views(ctx, model_params_, batch_stats, views01_2bhwc, *, train: bool = True):
    """Both views through the encoder as one batch: (features per level [2, B, h, w, C], batch_stats)."""
    two, b = views01_2bhwc.shape[:2]
    x = ctx.standardize(views01_2bhwc.reshape(two * b, *views01_2bhwc.shape[2:]))
    features, new_stats = ctx.encode(model_params_, batch_stats, x, train=train)
    return tuple(f.reshape(two, b, *f.shape[1:]) for f in features), new_stats
