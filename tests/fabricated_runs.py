"""Fabricated result.json files for report tests (known values, no training)."""

import copy
import json

CONFIG = {"seed": 0, "init_from": "",
          "data": {"name": "magnetic_tile", "budget": "1/8", "manual_dir": "/data/a", "scale_range": [0.5, 2.0]},
          "method": {"name": "supervised"},
          "optim": {"lr": 0.01},
          "train": {"steps": 100, "log_every": 10}}

# (regime, budget, seed, test miou, test defect miou)
RUNS = [
    ("supervised", "1/8", 0, 0.50, 0.30), ("supervised", "1/8", 1, 0.52, 0.33),
    ("supervised", "1/8", 2, 0.54, 0.36),
    ("supervised", "full", 0, 0.70, 0.60), ("supervised", "full", 1, 0.72, None),
    ("unimatch", "1/8", 0, 0.60, 0.40), ("unimatch", "1/8", 1, 0.61, 0.41), ("unimatch", "1/8", 2, 0.65, 0.42),
    ("unimatch", "1/16", 0, 0.40, 0.20),
]


def write_run(root, regime, budget, seed, miou, defect, config_patch=None, **extra):
    name = f"{regime}__b{budget.replace('/', '_')}__s{seed}"
    config = copy.deepcopy(CONFIG)
    config["seed"], config["data"]["budget"] = seed, budget
    config["method"] = {"name": regime.split("+")[-1]}
    if regime == "unimatch":
        config["method"]["conf_thresh"] = 0.95
    for key, value in (config_patch or {}).items():
        node = config
        *parents, last = key.split(".")
        for p in parents:
            node = node[p]
        node[last] = value
    scores = {"miou": miou, "pixel_acc": 0.9, "defect_miou": defect,
              "per_class_iou": {"background": 0.99, "crack": miou}}
    result = {"dataset": "magnetic_tile", "method": config["method"]["name"], "regime": regime,
              "budget": budget, "seed": seed, "checkpoint": "last", "init_from": None,
              "val": scores, "test": scores, "config": config, **extra}
    workdir = root / name
    workdir.mkdir(parents=True)
    (workdir / "result.json").write_text(json.dumps(result))
    return workdir
