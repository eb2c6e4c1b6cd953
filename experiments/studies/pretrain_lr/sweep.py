"""magnetic_tile study `pretrain_lr`: supervised and UniMatch from masked-image-modelling pretraining vs random init.

One `pretrain_mim` run per seed on every train image (no labels; 3000 steps of 8
tiles, ~25 epochs of the pool, its probe fitted on the 1/16 budget), then
`semi_lr_m99`'s cells from random init and from that seed's pretraining: supervised
at 1/16 and 1/8, UniMatch at 1/16, seeds 0-2. README.md beside this file holds the
question, the commands and the tables.

    ssseg sweep experiments/studies/pretrain_lr/sweep.py:pretrain_lr --root runs/mt_pretrain_lr
"""

from pathlib import Path

from ssseg.config.loader import import_experiment
from ssseg.sweeps.grid import SweepError, grid, pretrain_cells

M99 = import_experiment(str(Path(__file__).resolve().parents[1] / "semi_lr_m99" / "sweep.py"))
get_config = M99.get_config
SEMI, DATASET = M99.SEMI_LR.SEMI, M99.SEMI_LR.SEMI.DATASET

# The pretraining this study measured (pinned: `main`'s PRETRAIN_METHOD may move on).
PRETRAIN_METHOD = "pretrain_mim"
PRETRAIN_OVERRIDES = {"train.steps": 3000, "train.eval_every": 1000}

SWEEPS = ("pretrain_lr",)


def get_sweep(name):
    if name != "pretrain_lr":
        raise SweepError(f"sweep {name!r} not in experiments/studies/pretrain_lr/sweep.py: expected pretrain_lr")
    method, seeds, budgets = PRETRAIN_METHOD, DATASET.SEEDS, SEMI.BUDGETS
    every, labellers = SEMI.semi_overrides(M99.EVERY, M99.LABELLERS)
    return (pretrain_cells(seeds, method=method, name=method, extra_arg=f"budget={budgets[0]}",
                           overrides=PRETRAIN_OVERRIDES)
            + grid(("supervised", "pretrained+supervised"), budgets, seeds, overrides=every,
                   pretrain_name=method)
            + grid(("unimatch", "pretrained+unimatch"), budgets[:1], seeds, overrides=labellers,
                   pretrain_name=method))
