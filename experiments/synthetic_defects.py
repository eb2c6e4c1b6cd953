"""Embedded default: procedurally generated defect images (no download).

    ssseg train --config experiments/synthetic_defects.py:method=supervised,budget=1/8,seed=0 --workdir runs/syn

Args: method, budget (1/16, 1/8, 1/4, 1/2, a count, or full), seed, smoke
(a few steps on tiny crops, for tests), demo (64-pixel crops and 500 steps
instead of 96 and 600: what `make demo` runs, so its five cells fit in about
five minutes on two cores), pretrain (for pretrain_* methods).
"""

from ssseg.config.schema import base_config, parse_arg, set_budget_and_method, shrink_for_smoke


def get_config(arg=None):
    args = parse_arg(arg, method="supervised", budget="1/8", seed=0, smoke=False, demo=False)
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
    if args.demo:
        c.data.crop_size = 64
        c.train.steps = 500
        c.train.eval_every = 250
        c.train.checkpoint_every = 250
    if args.smoke:
        shrink_for_smoke(c, base_size=32, crop_size=32)
    return c


def get_sweep(name):
    """`demo`: what `make demo` runs — the three regimes at one label budget (1/8,
    seed 0) on the embedded data: supervised, masked-image-modelling pretraining
    on the unlabeled pool + supervised fine-tuning, UniMatch; and the full-label
    supervised reference. Every cell uses the `demo` preset (smaller crops, fewer
    steps than the dataset's default), one seed: a tour of the regimes, not a result.
    `semi`: supervised vs UniMatch at 1/8, one seed."""
    from ssseg.sweeps.grid import SweepError, grid, pretrain_cells

    if name == "demo":
        return (pretrain_cells([0], method="pretrain_mim", name="pretrain_mim", extra_arg="budget=1/8,demo")
                + grid(["supervised", "pretrained+supervised", "unimatch"], ["1/8"], [0],
                       extra_arg="demo", pretrain_name="pretrain_mim")
                + grid(["supervised"], ["full"], [0], extra_arg="demo"))
    if name == "semi":
        # The semi-supervised comparison: UniMatch vs the supervised baseline at the same
        # budget and steps (UniMatch sees 3-4x the images per step, so it takes longer).
        return grid(["supervised", "unimatch"], ["1/8"], [0])
    raise SweepError(f"sweep {name!r} not in experiments/synthetic_defects.py: expected demo or semi")
