"""Your own data: `manual_dir` with images/, masks/ (same stems), classes.txt.

Images without a mask file are unlabeled-only (they join the unlabeled pool).

    ssseg splits generate --dataset folder --manual-dir /path/to/mydata
    ssseg train --config experiments/folder.py:method=supervised,budget=full,seed=0 \
        --workdir runs/mine --config.data.manual_dir=/path/to/mydata
"""

from ssseg.config.schema import base_config, parse_arg, set_budget_and_method, shrink_for_smoke


def get_config(arg=None):
    args = parse_arg(arg, method="supervised", budget="full", seed=0, smoke=False)
    c = base_config()
    set_budget_and_method(c, args)
    c.data.name = "folder"
    c.data.base_size = 256
    c.data.crop_size = 192
    c.data.scale_range = (0.75, 1.5)
    c.loss.name = "ce_dice"
    c.model.backbone = "small"
    c.model.width = 24
    c.train.steps = 2000
    if args.smoke:
        shrink_for_smoke(c)
    return c
