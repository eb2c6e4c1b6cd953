"""Embedded default: procedurally generated defect images (no download).

    ssseg train --config experiments/synthetic_defects.py:method=supervised,budget=1/8,seed=0 --workdir runs/syn

Args: method, budget (1/16, 1/8, 1/4, 1/2, a count, or full), seed, smoke
(a few steps on tiny crops, for tests), pretrain (for pretrain_* methods).
"""

from ssseg.config.schema import base_config, parse_arg, set_budget_and_method, shrink_for_smoke


def get_config(arg=None):
    args = parse_arg(arg, method="supervised", budget="1/8", seed=0, smoke=False)
    c = base_config()
    set_budget_and_method(c, args)
    c.data.name = "synthetic_defects"
    c.data.base_size = 96
    c.data.crop_size = 96
    c.data.scale_range = (0.75, 1.5)
    c.data.vflip = True  # surfaces have no up/down
    c.data.batch_size = 8
    c.data.unlabeled_batch_size = 8
    c.model.backbone = "small"
    c.model.width = 16
    c.optim.name = "adamw"
    c.optim.lr = 2e-3
    c.optim.weight_decay = 1e-4
    c.optim.warmup_steps = 20
    c.loss.name = "ce_dice"
    c.train.steps = 600
    c.train.eval_every = 200
    c.train.checkpoint_every = 200
    if args.smoke:
        shrink_for_smoke(c, base_size=32, crop_size=32)
    return c


def get_sweep(name):
    """`demo`: what `make demo` runs — the supervised baseline at two label
    budgets (1/8 and full), one seed, on the embedded data, in a few minutes.
    `semi`: supervised vs UniMatch at 1/8, one seed."""
    from ssseg.sweeps.grid import grid

    if name == "demo":
        return grid(["supervised"], ["1/8", "full"], [0])
    if name == "semi":
        # The semi-supervised comparison: UniMatch vs the supervised baseline at the same
        # budget and steps (UniMatch sees 3-4x the images per step, so it takes longer).
        return grid(["supervised", "unimatch"], ["1/8"], [0])
    from ssseg.sweeps.grid import SweepError

    raise SweepError(f"sweep {name!r} not in experiments/synthetic_defects.py: expected demo or semi")
