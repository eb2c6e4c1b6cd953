"""Optimizers and learning-rate schedules from `config.optim` (optax).

The peers' recipe: SGD momentum 0.9, weight decay 1e-4, poly decay (power 0.9)
per iteration, head learning rate = base × `head_lr_mult`. AdamW and cosine
with linear warm-up are the alternatives.
"""

from __future__ import annotations

import jax
import optax

from ssseg.errors import ConfigError


def make_schedule(optim_cfg, total_steps: int, base_lr: float) -> optax.Schedule:
    warmup = int(optim_cfg.warmup_steps)
    decay_steps = max(total_steps - warmup, 1)
    if optim_cfg.schedule == "poly":
        main = optax.polynomial_schedule(base_lr, 0.0, optim_cfg.power, decay_steps)
    elif optim_cfg.schedule == "cosine":
        main = optax.cosine_decay_schedule(base_lr, decay_steps)
    elif optim_cfg.schedule == "constant":
        main = optax.constant_schedule(base_lr)
    else:
        raise ConfigError(f"config.optim.schedule={optim_cfg.schedule!r}: expected poly, cosine or constant")
    if warmup <= 0:
        return main
    ramp = optax.linear_schedule(0.0, base_lr, warmup)
    return optax.join_schedules([ramp, main], [warmup])


def _base_tx(optim_cfg, schedule) -> optax.GradientTransformation:
    if optim_cfg.name == "sgd":
        # Coupled L2 weight decay as in torch.optim.SGD, which the peers use.
        return optax.chain(
            optax.add_decayed_weights(optim_cfg.weight_decay),
            optax.sgd(schedule, momentum=optim_cfg.momentum),
        )
    if optim_cfg.name == "adamw":
        return optax.adamw(schedule, weight_decay=optim_cfg.weight_decay)
    raise ConfigError(f"config.optim.name={optim_cfg.name!r}: expected sgd or adamw")


def make_optimizer(optim_cfg, total_steps: int, head_mask=None) -> tuple[optax.GradientTransformation, optax.Schedule]:
    """Returns (tx, base schedule). `head_mask` (pytree of bools like params) marks
    the decoder/head parameters that get `head_lr_mult` × the base learning rate."""
    schedule = make_schedule(optim_cfg, total_steps, optim_cfg.lr)
    mult = float(optim_cfg.head_lr_mult)
    if head_mask is None or mult == 1.0:
        return _base_tx(optim_cfg, schedule), schedule
    head_schedule = make_schedule(optim_cfg, total_steps, optim_cfg.lr * mult)
    labels = jax.tree.map(lambda is_head: "head" if is_head else "encoder", head_mask)
    tx = optax.multi_transform(
        {"encoder": _base_tx(optim_cfg, schedule), "head": _base_tx(optim_cfg, head_schedule)}, labels
    )
    return tx, schedule
