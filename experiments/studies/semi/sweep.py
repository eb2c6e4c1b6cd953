"""magnetic_tile study `semi`: do FixMatch and UniMatch beat supervised at 1/16 and 1/8?

The CPU preset of experiments/magnetic_tile.py at 1500 steps (half the preset) for
every cell, so the methods are compared at the same cost in steps; README.md beside
this file holds the question, the commands and the tables.

    ssseg sweep experiments/studies/semi/sweep.py:semi --root runs/mt_semi
    ssseg sweep experiments/studies/semi/sweep.py:semi_ca --root runs/mt_semi_ca --only 'fixmatch__b1_8__s*'

Sweeps: `semi` (supervised vs fixmatch and unimatch with an EMA teacher, 1/16 and
1/8 x seeds 0-4); `semi_long` (`semi` at the preset's 3000 steps, seeds 0-2);
`semi_self`, `semi_bg`, `semi_dice` (the pseudo-labellers with teacher=self, alone /
with background_thresh=0.99 / with a Dice unlabeled loss); `semi_ca`, `semi_cw`,
`semi_da`, `semi_ebg` (`semi`'s pseudo-labellers with one option switched on);
`semi_cp` (`semi` with labeled copy-paste in every regime, supervised included).
`semi_grid` is also what the later studies (semi_lr, semi_lr_m99, pretrain_lr) build on.
"""

from pathlib import Path

from ssseg.config.loader import import_experiment
from ssseg.sweeps.grid import SweepError, grid

DATASET = import_experiment(str(Path(__file__).resolve().parents[2] / "magnetic_tile.py"))
get_config = DATASET.get_config

METHODS = ("supervised", "fixmatch", "unimatch")
BUDGETS = ("1/16", "1/8")
STEPS = 1500  # half the preset: a FixMatch cell is ~25 minutes of one core
# Five seeds: fray's IoU swings between checkpoints of one run (README.md), so three
# seeds leave the comparison to chance.
SEEDS = (0, 1, 2, 3, 4)
# Pseudo-labels from an EMA teacher (UniMatch V2's default), also ~25% cheaper on
# CPU than teacher=self (no backward through the weak view). Both teacher and
# student are evaluated (`ssseg report --model student`).
LABELLER_OVERRIDES = {"method.teacher": "ema"}
# The pseudo-labellers with the student as its own labeller (teacher=self, UniMatch
# V1's default): alone; with a stricter bar (0.99) for background pseudo-labels only;
# with Dice as the unlabeled loss (UniMatch's medical-image code).
SELF_VARIANTS = {
    "semi_self": {},
    "semi_bg": {"method.background_thresh": 0.99},
    "semi_dice": {"method.unlabeled_loss": "dice"},
}
# `semi`'s pseudo-labellers (EMA teacher) with one option on: class-adaptive
# thresholds; the unlabeled CE class-weighted like the labeled loss (power 0.25);
# distribution alignment; background_thresh=0.99 on the eval-mode EMA teacher.
EMA_VARIANTS = {
    "semi_ca": {"method.class_adaptive": True},
    "semi_cw": {"method.class_weight_power": 0.25},
    "semi_da": {"method.distribution_alignment": True},
    "semi_ebg": {"method.background_thresh": 0.99},
}
# One change in every regime, supervised included (its control: the augmentation
# without the unlabeled data): labeled copy-paste (AEL), p=0.5.
GRID_VARIANTS = {"semi_cp": {"method.copy_paste_prob": 0.5}}


def semi_overrides(every=None, labellers=None):
    """(every regime's, the pseudo-labellers') overrides of a `semi`-grid variant."""
    every = {"train.steps": STEPS, **(every or {})}
    return every, {**every, **LABELLER_OVERRIDES, **(labellers or {})}


def semi_grid(every=None, labellers=None, *, seeds=SEEDS):
    """supervised, then fixmatch and unimatch, at 1/16 and 1/8: `semi` plus the given overrides."""
    every, labellers = semi_overrides(every, labellers)
    return (grid(METHODS[:1], BUDGETS, seeds, overrides=every)
            + grid(METHODS[1:], BUDGETS, seeds, overrides=labellers))


SWEEPS = ("semi", "semi_long", *SELF_VARIANTS, *EMA_VARIANTS, *GRID_VARIANTS)


def get_sweep(name):
    if name == "semi" or name in GRID_VARIANTS:
        return semi_grid(GRID_VARIANTS.get(name))
    if name == "semi_long":
        return (grid(METHODS[:1], BUDGETS, DATASET.SEEDS)
                + grid(METHODS[1:], BUDGETS, DATASET.SEEDS, overrides=LABELLER_OVERRIDES))
    if name in EMA_VARIANTS:
        return grid(METHODS[1:], BUDGETS, DATASET.SEEDS,
                    overrides={"train.steps": STEPS, **LABELLER_OVERRIDES, **EMA_VARIANTS[name]})
    if name in SELF_VARIANTS:
        return grid(METHODS[1:], BUDGETS, DATASET.SEEDS,
                    overrides={"train.steps": STEPS, "method.teacher": "self", **SELF_VARIANTS[name]})
    raise SweepError(f"sweep {name!r} not in experiments/studies/semi/sweep.py: expected semi, semi_long, "
                     f"{', '.join([*SELF_VARIANTS, *EMA_VARIANTS, *GRID_VARIANTS])}")
