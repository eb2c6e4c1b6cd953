"""magnetic_tile study `pretrain`: which self-supervised pretraining helps fine-tuning at 1/16?

Single-seed diagnostics (1/16 split, seed 0 unless named): PixPro at its deepest level
and at (stride 4, deepest), with and without photometric views; PixPro's contrastive
baseline PixContrast; masked image modelling (`pretrain_mim`); a 1-step pretraining
whose probe is the random encoder's; each useful pretraining fine-tuned with
`semi_lr`'s rates (supervised, 1500 steps, encoder 1e-3, decoder 4e-3) against the
same cell from random init. README.md beside this file holds the tables.

    ssseg sweep experiments/studies/pretrain/sweep.py:pretrain --root runs/mt_pretrain
"""

from pathlib import Path

from ssseg.config.loader import import_experiment
from ssseg.sweeps.grid import Cell, SweepError

SEMI_LR = import_experiment(str(Path(__file__).resolve().parents[1] / "semi_lr" / "sweep.py"))
get_config = SEMI_LR.get_config

BUDGET = "1/16"
LEVELS = {"method.feature_levels": (0, -1)}  # stride 4 and the deepest level
GEOMETRIC_VIEWS = {"method.p_jitter": 0.0, "method.p_grayscale": 0.0, "method.blur_prob": 0.0}
# Pretraining cells: name -> (method, overrides); all on the 1/16 seed-0 budget (its probe).
PRETRAININGS = {
    "random_probe": ("pretrain_pixpro", {"train.steps": 1}),
    "pixpro_deep": ("pretrain_pixpro", {"train.steps": 1500}),
    "pixpro_l0": ("pretrain_pixpro", {**LEVELS, "train.steps": 1500}),
    "pixpro_geo": ("pretrain_pixpro", {**LEVELS, **GEOMETRIC_VIEWS, "train.steps": 1500}),
    "pixpro_spread": ("pretrain_pixpro", {**LEVELS, "train.steps": 600, "train.eval_every": 300}),
    "pixcontrast": ("pretrain_pixpro", {**LEVELS, "method.dense_loss": "pixcontrast",
                                        "train.steps": 600, "train.eval_every": 300}),
    "mim": ("pretrain_mim", {"train.steps": 3000, "train.eval_every": 1000}),
}
# Fine-tuning cells: init (a pretraining above, or "random") -> the 1/16 splits it is tuned on.
FINE_TUNINGS = {"random": (0,), "pixpro_l0": (0,), "pixpro_geo": (0,), "mim": (0, 1, 2)}
FINE_TUNE_OVERRIDES = {"train.steps": 1500, **SEMI_LR.LOWER_ENCODER_LR}

SWEEPS = ("pretrain",)


def get_sweep(name):
    if name != "pretrain":
        raise SweepError(f"sweep {name!r} not in experiments/studies/pretrain/sweep.py: expected pretrain")
    cells = [Cell(name=f"{source}__s0", config_arg=f"method={method},budget={BUDGET},seed=0",
                  overrides=dict(overrides), grid={"regime": source, "seed": 0, "pretrain": True})
             for source, (method, overrides) in PRETRAININGS.items()]
    for source, seeds in FINE_TUNINGS.items():
        for seed in seeds:
            overrides, after = dict(FINE_TUNE_OVERRIDES), ()
            if source != "random":
                overrides["init_from"], after = f"{{root}}/{source}__s0", (f"{source}__s0",)
            cells.append(Cell(name=f"{source}+supervised__b1_16__s{seed}",
                              config_arg=f"method=supervised,budget={BUDGET},seed={seed}",
                              overrides=overrides, after=after,
                              grid={"regime": f"{source}+supervised", "budget": BUDGET, "seed": seed}))
    return cells
