"""Cityscapes (2,975 train / 500 val, 19 classes), UniMatch protocol; val is the held-out split.

    ssseg train --config experiments/cityscapes.py:method=unimatch,budget=1/16,seed=0 \
        --workdir runs/cs_um_1_16 --config.data.manual_dir=/data/cityscapes
    ssseg sweep experiments/cityscapes.py:main --root runs/cs_main

`manual_dir` holds `leftImg8bit/` and `gtFine/` with `*_labelTrainIds.png`.
Paper scale, for GPUs: DeepLabV3+ ResNet-101 deep stem, OS 16, crop 801, SGD
lr 5e-3 at 8 + 8 images per step (×1 head), poly 0.9, 240 epochs over the
unlabeled set (~84k steps at batch 8), sliding-window evaluation (crop, stride
2/3) at full resolution. conf_thresh 0 on Cityscapes (UniMatch). lr scales
linearly with the batch (`batch=` arg). Departure: UniMatch uses OHEM for the
labeled loss here; ssseg uses CE (set `--config.loss.name=focal` for a
hard-pixel emphasis).
"""

from ssseg.config.schema import base_config, parse_arg, set_budget_and_method, shrink_for_smoke

REFERENCE_BATCH, REFERENCE_LR = 8, 5e-3


def get_config(arg=None):
    args = parse_arg(arg, method="unimatch", budget="1/16", seed=0, batch=8, smoke=False)
    c = base_config()
    set_budget_and_method(c, args)
    c.data.name = "cityscapes"
    c.data.base_size = 2048
    c.data.crop_size = 801
    c.data.scale_range = (0.5, 2.0)
    c.data.batch_size = args.batch
    c.data.unlabeled_batch_size = args.batch
    c.data.eval_mode = "sliding"
    c.data.eval_batch_size = 1
    c.model.backbone = "resnet101"
    c.model.deep_stem = True
    c.optim.name = "sgd"
    c.optim.lr = REFERENCE_LR * args.batch / REFERENCE_BATCH
    c.optim.head_lr_mult = 1.0
    c.loss.name = "ce"
    if "conf_thresh" in c.method:
        c.method.conf_thresh = 0.0
    c.train.steps = 84_000 * REFERENCE_BATCH // args.batch
    c.train.eval_every = 5000
    c.train.checkpoint_every = 1000
    if args.smoke:
        shrink_for_smoke(c)
        c.data.eval_mode = "whole"
        c.model.backbone = "small"
    return c


BUDGETS = ("1/16", "1/8", "1/4", "1/2")
REGIMES = ("supervised", "mean_teacher", "cps", "fixmatch", "unimatch")


def get_sweep(name):
    """`main`: UniMatch's Cityscapes table (5 regimes x 1/16..1/2 x 3 seeds)."""
    from ssseg.sweeps.grid import SweepError, grid

    if name == "main":
        return grid(REGIMES, BUDGETS, (0, 1, 2))
    raise SweepError(f"sweep {name!r} not in experiments/cityscapes.py: expected main")
