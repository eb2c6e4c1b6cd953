"""Magnetic-tile surface defects (Huang et al. 2020): 6 classes, tiny rare defects.

    ssseg train --config experiments/magnetic_tile.py:method=supervised,budget=1/8,seed=0 \
        --workdir runs/mt_sup_1_8 --config.data.manual_dir=../shared/data/magnetic_tile

Args: method, budget (1/16, 1/8, 1/4, 1/2, full), seed, preset (`cpu`: the
small DeepLabV3+ at 128² crops, 3000 steps, ~15 minutes of an idle 2-core
CPU for the supervised regime; `paper`:
DeepLabV3+ ResNet-101, deep stem, OS 16, UniMatch's SGD recipe), smoke.
Departures from UniMatch for this data, and why: CE + Dice with class weights
from the labeled budget (background is ~98% of pixels; plain CE learns
background only), repeat-factor sampling of defect images and foreground
crops for the labeled stream (a 1/8 budget holds 34 defect images among 117),
vertical flips (tiles have no up/down).
"""

from ssseg.config.schema import base_config, parse_arg, set_budget_and_method, shrink_for_smoke


def get_config(arg=None):
    args = parse_arg(arg, method="supervised", budget="1/8", seed=0, preset="cpu", smoke=False)
    c = base_config()
    set_budget_and_method(c, args)
    c.data.name = "magnetic_tile"
    c.data.manual_dir = "../shared/data/magnetic_tile"
    c.data.vflip = True
    c.loss.name = "ce_dice"
    c.loss.class_weight_power = 0.5
    if args.preset == "cpu":
        # Tuned on this data (runs of 1500 steps learned no defect class at 1/8):
        # defect images repeated (LVIS repeat factor 0.3), half the labeled crops
        # moved onto a defect pixel (nnU-Net), milder class weights (power 0.25),
        # 256-px long side so blowholes and cracks survive the resize.
        c.data.base_size = 256
        c.data.crop_size = 128
        c.data.scale_range = (0.75, 1.25)
        c.data.repeat_factor_thresh = 0.3
        c.data.foreground_crop_prob = 0.5
        c.data.batch_size = 8
        c.data.unlabeled_batch_size = 8
        c.loss.class_weight_power = 0.25
        c.model.backbone = "small"
        c.model.width = 32
        c.optim.name = "adamw"
        c.optim.lr = 4e-3
        c.optim.warmup_steps = 50
        c.train.steps = 3000
        c.train.eval_every = 500
        c.train.checkpoint_every = 250
    elif args.preset == "paper":
        c.data.base_size = 512
        c.data.crop_size = 321
        c.data.scale_range = (0.5, 2.0)
        c.data.batch_size = 8
        c.data.unlabeled_batch_size = 8
        c.model.backbone = "resnet101"
        c.model.deep_stem = True
        c.model.width = 64
        c.optim.name = "sgd"
        c.optim.lr = 1e-3 * 16 / 16  # UniMatch VOC: 1e-3 at 16 images/step; scale linearly with batch
        c.optim.head_lr_mult = 10.0
        c.train.steps = 20000
        c.train.eval_every = 2000
        c.train.checkpoint_every = 1000
    else:
        from ssseg.errors import ConfigError

        raise ConfigError(f"preset={args.preset!r}: expected cpu or paper")
    if args.smoke:
        shrink_for_smoke(c)
    return c


# --- sweeps: `ssseg sweep experiments/magnetic_tile.py:<name> --root runs/mt_<name>` ---
# Each cell that finishes is recorded in get_ledger(name) (committed; a recorded cell
# with the same config is not run again), and the tables come from the ledger:
#   ssseg report experiments/studies/magnetic_tile_main/ledger --out experiments/studies/magnetic_tile_main
MAIN_REGIMES = ("supervised", "pretrained+supervised", "fixmatch", "unimatch", "pretrained+unimatch",
                "mean_teacher", "cps")
MAIN_BUDGETS = ("1/16", "1/8", "1/4")
FULL_REGIMES = ("supervised", "pretrained+supervised")  # the full-label reference row
SEEDS = (0, 1, 2)
# The best recipe found so far: experiments/studies/semi_lr_m99 (AdamW, encoder 1e-3,
# decoder 4e-3, 1500 steps; the pseudo-labellers' teacher an EMA at momentum 0.99).
RECIPE_STEPS = 1500
RECIPE_EVERY = {"optim.lr": 1e-3, "optim.head_lr_mult": 4.0}
RECIPE_LABELLERS = {"method.teacher": "ema", "method.ema_momentum": 0.99}
LABELLERS = ("fixmatch", "unimatch", "mean_teacher", "cps")
# Equal epochs: every budget sees its labeled set as often as 1/8 does in RECIPE_STEPS
# (~100 epochs of 117 tiles at batch 8), never fewer than RECIPE_STEPS steps.
EPOCHS_OF = "1/8"
TRAIN_POOL = 941  # labeled train tiles: experiments/splits/magnetic_tile/full/seed<k>/labeled.txt
STEPS_ROUND = 500  # the preset's eval interval
# Self-supervised pretraining on every train image (no labels; its probe fitted on the
# smallest budget), 3000 steps as in experiments/studies/pretrain_lr. "pretrained+X" cells
# start from it (init_from). Masked image modelling, because on these tiles it is the
# pretraining that helps fine-tuning, and PixPro and PixContrast did not
# (experiments/studies/pretrain_lr, experiments/studies/pretrain).
PRETRAIN_METHOD = "pretrain_mim"
PRETRAIN_OVERRIDES = {"train.steps": 3000, "train.eval_every": 1000}
# UniMatch components at 1/8, switched one at a time off the main grid's UniMatch cell.
ABLATION_SWITCHES = {
    "single_strong": ({"method.dual_strong": True}, {"method.dual_strong": False}),
    "no_feature_perturb": ({"method.feature_perturb": True}, {"method.feature_perturb": False}),
    "no_cutmix": ({"method.cutmix_prob": 0.5}, {"method.cutmix_prob": 0.0}),
    "class_adaptive": ({"method.class_adaptive": False}, {"method.class_adaptive": True}),
    "no_ema_teacher": ({"method.teacher": "ema"}, {"method.teacher": "self"}),
}
# Labeled losses at 1/8 for the tiny classes (blowhole, crack), off the main grid's supervised
# cell (class-weighted CE + Dice, the preset's loss). OHEM keeps >= 20000 of a batch's 8x128^2
# pixels (~15 %, as UniMatch's Cityscapes 200000 of 2x801^2 keeps ~16 %).
LOSS_VARIANTS = {
    "ce_dice": {},
    "ohem": {"loss.name": "ohem", "loss.ohem_min_kept": 20000},
    "focal": {"loss.name": "focal"},
    "dice": {"loss.name": "dice"},
    "wce": {"loss.name": "wce"},
    "ce": {"loss.name": "ce"},
}


def budget_steps(budget):
    """Training steps at ``budget``: max(RECIPE_STEPS, RECIPE_STEPS x labeled(budget) /
    labeled(1/8)), rounded to STEPS_ROUND: 1/16 and 1/8 1500, 1/4 3000, full 12000."""
    from ssseg.data.splits import budget_size

    scaled = RECIPE_STEPS * budget_size(budget, TRAIN_POOL) / budget_size(EPOCHS_OF, TRAIN_POOL)
    return max(RECIPE_STEPS, STEPS_ROUND * round(scaled / STEPS_ROUND))


def recipe_overrides(regime, budget):
    """The recipe's overrides of one main-grid cell: rates, steps, and the teacher of a pseudo-labeller."""
    method = regime.split("+")[-1]
    return {"train.steps": budget_steps(budget), **RECIPE_EVERY,
            **(RECIPE_LABELLERS if method in LABELLERS else {})}


def get_sweep(name):
    """`main`: every regime at 1/16, 1/8, 1/4 and supervised (from random init and from
    pretraining) at full, x seeds 0-2, with semi_lr_m99's recipe; report rows = regime.
    Schedule rule: equal epochs over the labeled set, as many as 1/8's 1500 steps give,
    never fewer than 1500 steps (budget_steps: 1/16 and 1/8 1500, 1/4 3000, full 12000;
    every regime of a budget trains as long). `ablation`: the main grid's UniMatch at 1/8
    with one component switched at a time, seeds 0-2; report rows = variant. `losses`: the
    main grid's supervised cell at 1/8 with each labeled loss, seeds 0-2; rows = variant. The studies
    that led to this recipe keep their own sweeps in experiments/studies/<study>/sweep.py."""
    from ssseg.sweeps.grid import SweepError, ablation_grid, grid, pretrain_cells, switch_variants

    if name == "main":
        cells = pretrain_cells(SEEDS, method=PRETRAIN_METHOD, name=PRETRAIN_METHOD,
                               extra_arg=f"budget={MAIN_BUDGETS[0]}", overrides=PRETRAIN_OVERRIDES)
        for regime in MAIN_REGIMES:
            for budget in MAIN_BUDGETS + (("full",) if regime in FULL_REGIMES else ()):
                cells += grid((regime,), (budget,), SEEDS, overrides=recipe_overrides(regime, budget),
                              pretrain_name=PRETRAIN_METHOD)
        return cells
    if name == "ablation":
        reference = recipe_overrides("unimatch", "1/8")
        variants = switch_variants(ABLATION_SWITCHES, reference="unimatch")
        return ablation_grid("method=unimatch", {v: {**reference, **o} for v, o in variants.items()},
                             SEEDS, budget="1/8")
    if name == "losses":
        reference = recipe_overrides("supervised", "1/8")
        return ablation_grid("method=supervised", {v: {**reference, **o} for v, o in LOSS_VARIANTS.items()},
                             SEEDS, budget="1/8", prefix="loss")
    raise SweepError(f"sweep {name!r} not in experiments/magnetic_tile.py: expected main, ablation or losses "
                     f"(the studies' sweeps are in experiments/studies/<study>/sweep.py)")


def get_ledger(name):
    """Where sweep ``name``'s cell records are committed."""
    return f"experiments/studies/magnetic_tile_{name}/ledger"
