"""magnetic_tile study `semi_lr_m99`: `semi_lr` with the EMA teacher at momentum 0.99.

The pseudo-labellers' teacher averages ~100 steps (0.99) instead of UniMatch V2's
~250 (0.996): V2's schedules are tens of thousands of steps, these 1500. The
supervised cells are `semi_lr`'s, unchanged. README.md beside this file holds the
question, the commands and the tables.

    ssseg sweep experiments/studies/semi_lr_m99/sweep.py:semi_lr_m99 --root runs/mt_semi_lr_m99
"""

from pathlib import Path

from ssseg.config.loader import import_experiment
from ssseg.sweeps.grid import SweepError

SEMI_LR = import_experiment(str(Path(__file__).resolve().parents[1] / "semi_lr" / "sweep.py"))
get_config = SEMI_LR.get_config

EVERY = SEMI_LR.LOWER_ENCODER_LR
LABELLERS = {"method.ema_momentum": 0.99}

SWEEPS = ("semi_lr_m99",)


def get_sweep(name):
    if name != "semi_lr_m99":
        raise SweepError(f"sweep {name!r} not in experiments/studies/semi_lr_m99/sweep.py: expected semi_lr_m99")
    return SEMI_LR.SEMI.semi_grid(EVERY, LABELLERS)
