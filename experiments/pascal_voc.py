"""Pascal VOC 2012 (augmented, 10,582 train images; val is the held-out split), UniMatch protocol.

    ssseg train --config experiments/pascal_voc.py:method=unimatch,budget=92,seed=0 \
        --workdir runs/voc_um_92 --config.data.manual_dir=/data/VOCdevkit/VOC2012
    ssseg sweep experiments/pascal_voc.py:main --root runs/voc_main

`manual_dir` holds `JPEGImages/` and `SegmentationClassAug/` (+ the ImageSets
lists). Paper scale, for GPUs: DeepLabV3+ ResNet-101 with deep stem, output
stride 16, crop 321, SGD lr 1e-3 at 8 labeled + 8 unlabeled images per step
(UniMatch: 2 + 2 per GPU on 4 GPUs), head lr ×10, poly 0.9, weight decay 1e-4,
80 epochs over the unlabeled set (~105k steps at batch 8). Other batch sizes:
lr scales linearly with the labeled batch (the author's rule), e.g.
`--config.data.batch_size=16 --config.data.unlabeled_batch_size=16 --config.optim.lr=2e-3`.
Published numbers are best-on-val; ssseg reports the last checkpoint.
Departures: no ImageNet weights are downloaded — pass a torchvision-layout
safetensors file with `--config.model.pretrained=resnet101.safetensors`.
"""

from ssseg.config.schema import base_config, parse_arg, set_budget_and_method, shrink_for_smoke

REFERENCE_BATCH, REFERENCE_LR = 8, 1e-3


def get_config(arg=None):
    args = parse_arg(arg, method="unimatch", budget="92", seed=0, batch=8, smoke=False)
    c = base_config()
    set_budget_and_method(c, args)
    c.data.name = "pascal_voc"
    c.data.base_size = 500  # VOC images are at most 500 px: evaluate whole images at native scale
    c.data.crop_size = 321
    c.data.scale_range = (0.5, 2.0)
    c.data.batch_size = args.batch
    c.data.unlabeled_batch_size = args.batch
    c.data.eval_batch_size = 8
    c.model.backbone = "resnet101"
    c.model.deep_stem = True
    c.model.output_stride = 16
    c.optim.name = "sgd"
    c.optim.lr = REFERENCE_LR * args.batch / REFERENCE_BATCH
    c.optim.head_lr_mult = 10.0
    c.optim.weight_decay = 1e-4
    c.optim.schedule = "poly"
    c.loss.name = "ce"
    c.train.steps = 105_000 * REFERENCE_BATCH // args.batch
    c.train.eval_every = 5000
    c.train.checkpoint_every = 1000
    if args.smoke:
        shrink_for_smoke(c)
        c.model.backbone = "small"
    return c


BUDGETS = ("92", "183", "366", "732", "1464")
REGIMES = ("supervised", "mean_teacher", "cps", "fixmatch", "unimatch")


def get_sweep(name):
    """`main`: UniMatch's VOC table (5 regimes x 92..1464 labels x 3 seeds)."""
    from ssseg.sweeps.grid import SweepError, grid

    if name == "main":
        return grid(REGIMES, BUDGETS, (0, 1, 2))
    raise SweepError(f"sweep {name!r} not in experiments/pascal_voc.py: expected main")
