"""CamVid (SegNet version): 11 classes + void, 480×360 RGB, its own val/test.

    ssseg train --config experiments/camvid.py:method=supervised,budget=1/8,seed=0 \
        --workdir runs/camvid_sup --config.data.manual_dir=/path/to/CamVid

`manual_dir` holds train/, trainannot/, val/, valannot/, test/, testannot/.
Args: method, budget, seed, preset (`cpu` or `paper`: DeepLabV3+ ResNet-50,
crop 321, SGD), smoke.
"""

from ssseg.config.schema import base_config, parse_arg, set_budget_and_method, shrink_for_smoke


def get_config(arg=None):
    args = parse_arg(arg, method="supervised", budget="1/8", seed=0, preset="cpu", smoke=False)
    c = base_config()
    set_budget_and_method(c, args)
    c.data.name = "camvid"
    c.data.manual_dir = ""
    c.loss.name = "ce"
    if args.preset == "cpu":
        c.data.base_size = 240
        c.data.crop_size = 160
        c.data.scale_range = (0.75, 1.5)
        c.model.backbone = "small"
        c.model.width = 24
        c.optim.name = "adamw"
        c.optim.lr = 2e-3
        c.optim.warmup_steps = 50
        c.train.steps = 2000
        c.train.eval_every = 500
    else:
        c.data.base_size = 480
        c.data.crop_size = 321
        c.model.backbone = "resnet50"
        c.model.deep_stem = True
        c.optim.name = "sgd"
        c.optim.lr = 5e-3
        c.optim.head_lr_mult = 10.0
        c.train.steps = 20000
        c.train.eval_every = 2000
    if args.smoke:
        shrink_for_smoke(c)
    return c


# --- sweeps: `ssseg sweep experiments/camvid.py:main --root runs/camvid_main` ---
MAIN_REGIMES = ("supervised", "pretrained+supervised", "fixmatch", "unimatch", "pretrained+unimatch",
                "mean_teacher", "cps")
MAIN_BUDGETS = ("1/16", "1/8", "1/4", "1/2", "full")
SEEDS = (0, 1, 2)
PRETRAIN_METHOD = "pretrain_pixpro"  # dense self-supervised pretraining on every train image


def get_sweep(name):
    """`main`: regimes x budgets x seeds, "pretrained+X" starting from a PixPro cell per seed."""
    from ssseg.sweeps.grid import SweepError, grid, pretrain_cells

    if name == "main":
        pretrain = pretrain_cells(SEEDS, method=PRETRAIN_METHOD, extra_arg=f"budget={MAIN_BUDGETS[0]}")
        return pretrain + grid(MAIN_REGIMES, MAIN_BUDGETS, SEEDS)
    raise SweepError(f"sweep {name!r} not in experiments/camvid.py: expected main")
