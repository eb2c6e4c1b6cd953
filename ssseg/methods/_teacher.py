"""Where pseudo-labels come from: the student itself or an EMA teacher — one switch, `teacher`.

Every pseudo-labelling method (fixmatch, unimatch, cps, mean_teacher) uses
these hooks rather than its own copy:

- `teacher="self"`: the student's own weak-view prediction, stop-gradient
  (UniMatch V1, FixMatch as in UniMatch's fixmatch.py: train-mode forward).
- `teacher="ema"`: an exponential moving average of the student's params
  and batch statistics, run in eval mode on the weak view. Momentum
  min(1 − 1/t, ema_momentum) after the t-th update, i.e. UniMatch V2's
  min(1 − 1/(iters + 1), 0.996) with iters counted from 0: the teacher is the
  true average of the first updates, then an EMA (Tarvainen & Valpola 2017).
  Buffers (BN statistics) are averaged too, as in UniMatch V2.

Evaluation (`eval_models`): with a teacher, both are evaluated; the teacher
is reported first (result.json's headline) because it is the model that
makes the pseudo-labels and the temporal ensemble of the student — the
Mean Teacher convention; the student is logged beside it for comparison.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from ssseg.errors import ConfigError

TEACHERS = ("self", "ema")
EMA_MOMENTUM = 0.996  # UniMatch V2 (TPAMI 2025)


def add_defaults(cfg, *, teacher: str = "self", ema_momentum: float = EMA_MOMENTUM) -> None:
    cfg.teacher = teacher
    cfg.ema_momentum = ema_momentum


def check(cfg) -> None:
    if cfg.teacher not in TEACHERS:
        raise ConfigError(f"config.method.teacher={cfg.teacher!r}: expected one of {', '.join(TEACHERS)}")
    if not 0.0 <= cfg.ema_momentum < 1.0:
        raise ConfigError(f"config.method.ema_momentum={cfg.ema_momentum!r}: expected a value in [0, 1)")


def _copy(tree):
    # A real copy: the state is donated to the step, and one buffer must not appear twice in it.
    return jax.tree.map(lambda x: jnp.array(x, copy=True), tree)


def init_teacher(cfg, params, batch_stats) -> dict:
    """{"teacher": {"params", "batch_stats"}} for teacher=ema, else {} (entries of state.extra)."""
    check(cfg)
    if cfg.teacher != "ema":
        return {}
    return {"teacher": {"params": _copy(params), "batch_stats": _copy(batch_stats)}}


def ema_momentum_at(updates_done, cap):
    """min(1 − 1/t, cap) after t updates (t ≥ 1): 0 at t=1, so the teacher starts as the student."""
    t = jnp.maximum(jnp.asarray(updates_done, jnp.float32), 1.0)
    return jnp.minimum(1.0 - 1.0 / t, cap)


def ema_update(teacher_tree, student_tree, momentum):
    return jax.tree.map(lambda t, s: momentum * t + (1.0 - momentum) * s, teacher_tree, student_tree)


def after_update(ctx, state):
    """The EMA teacher step, after the optimizer update (state.step already counts it)."""
    if "teacher" not in state.extra:
        return state
    momentum = ema_momentum_at(state.step, ctx.method_cfg.ema_momentum)
    teacher = state.extra["teacher"]
    new_teacher = {
        "params": ema_update(teacher["params"], state.params, momentum),
        "batch_stats": ema_update(teacher["batch_stats"], state.batch_stats, momentum),
    }
    return state.replace(extra={**state.extra, "teacher": new_teacher})


def eval_models(state) -> dict:
    """Teacher first when there is one (see the module docstring), then the student."""
    models = {}
    if "teacher" in state.extra:
        models["teacher"] = (state.extra["teacher"]["params"], state.extra["teacher"]["batch_stats"])
    models["student"] = (state.params, state.batch_stats)
    return models


def weak_logits(ctx, state, images_std, student_weak_logits=None, *, part=None):
    """Stop-gradient logits on the weak view that the pseudo-labels come from.

    teacher=self: the student's own (train-mode) weak-view logits, which the
    caller computed anyway; teacher=ema: the teacher in eval mode. `part`
    selects one network of a multi-network state (CPS: "a" or "b").
    """
    if ctx.method_cfg.teacher == "ema":
        teacher = state.extra["teacher"]
        params, batch_stats = teacher["params"], teacher["batch_stats"]
        if part is not None:
            params, batch_stats = params[part], batch_stats[part]
        logits, _ = ctx.apply(params, batch_stats, images_std, train=False)
    else:
        if student_weak_logits is None:
            raise ValueError("teacher='self' needs the student's weak-view logits")
        logits = student_weak_logits
    return jax.lax.stop_gradient(logits)
