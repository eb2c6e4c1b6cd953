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
MAIN_REGIMES = ("supervised", "pretrained+supervised", "fixmatch", "unimatch", "pretrained+unimatch",
                "mean_teacher", "cps")
MAIN_BUDGETS = ("1/16", "1/8", "1/4", "full")
SEEDS = (0, 1, 2)
# Self-supervised pretraining on every train image (no labels); its probe is fitted
# on the smallest budget. "pretrained+X" cells start from it (init_from). Masked image
# modelling, because on these tiles it is the pretraining that helps fine-tuning, and
# PixPro and PixContrast did not (experiments/studies/pretrain_lr, experiments/studies/pretrain).
PRETRAIN_METHOD = "pretrain_mim"
# UniMatch components at 1/8, switched one at a time off the reference (UniMatch V1 defaults).
ABLATION_SWITCHES = {
    "single_strong": ({"method.dual_strong": True}, {"method.dual_strong": False}),
    "no_feature_perturb": ({"method.feature_perturb": True}, {"method.feature_perturb": False}),
    "no_cutmix": ({"method.cutmix_prob": 0.5}, {"method.cutmix_prob": 0.0}),
    "class_adaptive": ({"method.class_adaptive": False}, {"method.class_adaptive": True}),
    "ema_teacher": ({"method.teacher": "self"}, {"method.teacher": "ema"}),
}


def get_sweep(name):
    """`main`: regimes x budgets x seeds (report rows = regime); `ablation`:
    UniMatch components at 1/8 x seeds (report rows = variant). The studies that
    led to this recipe keep their own sweeps in experiments/studies/<study>/sweep.py."""
    from ssseg.sweeps.grid import SweepError, ablation_grid, grid, pretrain_cells, switch_variants

    if name == "main":
        pretrain = pretrain_cells(SEEDS, method=PRETRAIN_METHOD, extra_arg=f"budget={MAIN_BUDGETS[0]}")
        return pretrain + grid(MAIN_REGIMES, MAIN_BUDGETS, SEEDS)
    if name == "ablation":
        variants = switch_variants(ABLATION_SWITCHES, reference="unimatch")
        return ablation_grid("method=unimatch", variants, SEEDS, budget="1/8")
    raise SweepError(f"sweep {name!r} not in experiments/magnetic_tile.py: expected main or ablation "
                     f"(the studies' sweeps are in experiments/studies/<study>/sweep.py)")
