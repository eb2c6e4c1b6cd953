"""magnetic_tile study `semi_lr`: the `semi` grid with the encoder at 1e-3 and the decoder at 4e-3.

One change in every regime, supervised included, against `semi`'s 4e-3 everywhere;
README.md beside this file holds the question, the commands and the tables.

    ssseg sweep experiments/studies/semi_lr/sweep.py:semi_lr --root runs/mt_semi_lr
"""

from pathlib import Path

from ssseg.config.loader import import_experiment
from ssseg.sweeps.grid import SweepError

SEMI = import_experiment(str(Path(__file__).resolve().parents[1] / "semi" / "sweep.py"))
get_config = SEMI.get_config

# AdamW at 1e-3 for the encoder, 4 x 1e-3 for the decoder (optim.head_lr_mult).
LOWER_ENCODER_LR = {"optim.lr": 1e-3, "optim.head_lr_mult": 4.0}

SWEEPS = ("semi_lr",)


def get_sweep(name):
    if name != "semi_lr":
        raise SweepError(f"sweep {name!r} not in experiments/studies/semi_lr/sweep.py: expected semi_lr")
    return SEMI.semi_grid(LOWER_ENCODER_LR)
