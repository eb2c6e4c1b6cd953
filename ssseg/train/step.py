"""The one pure train step shared by every method.

`train_step(state, batch, rng) -> (state, metrics)`: the method supplies the
loss over `(params, state, batch, rng)`; the step takes gradients, applies the
optimizer, and lets the method update what it keeps beside the student (e.g.
an EMA teacher). Randomness: the run key is folded with the step, so step N
is the same whether or not the run was resumed.
"""

from __future__ import annotations

import functools

import jax
import optax

from ssseg.train import sharding
from ssseg.train.context import StepContext
from ssseg.train.state import TrainState


def train_step(state: TrainState, batch: dict, rng: jax.Array, *, ctx: StepContext):
    step_rng = jax.random.fold_in(rng, state.step)

    def loss_fn(params):
        return ctx.method.loss(ctx, params, state, batch, step_rng)

    (loss, aux), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params)
    updates, opt_state = ctx.tx.update(grads, state.opt_state, state.params)
    params = optax.apply_updates(state.params, updates)
    new_state = state.replace(
        step=state.step + 1,
        params=params,
        batch_stats=aux["batch_stats"],
        opt_state=opt_state,
        extra=aux.get("extra", state.extra),
    )
    new_state = ctx.method.after_update(ctx, new_state)
    metrics = {"loss": loss, "lr": ctx.schedule(state.step), "grad_norm": optax.global_norm(grads)}
    metrics.update(aux.get("metrics", {}))
    return new_state, metrics


def compile_train_step(ctx: StepContext, mesh):
    """jit over the ("data",) mesh: batch split along its first axis, state
    replicated, state buffers donated. Same code on 1 CPU or many GPUs."""
    replicated = sharding.replicated(mesh)
    return jax.jit(
        functools.partial(train_step, ctx=ctx),
        in_shardings=(replicated, sharding.batch_sharding(mesh), replicated),
        out_shardings=(replicated, replicated),
        donate_argnums=0,
    )
