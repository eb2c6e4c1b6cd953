"""`ssseg train --config experiments/x.py:arg --workdir DIR [--config.a.b=v ...]`"""

from __future__ import annotations

import json

HELP = "Train (or resume) a run, evaluate its last checkpoint on val and test, write result.json."


def add_arguments(parser) -> None:
    parser.add_argument("--config", required=True, help="experiments/<file>.py[:arg], e.g. experiments/magnetic_tile.py:method=supervised,budget=1/8,seed=0")
    parser.add_argument("--workdir", required=True, help="run directory: checkpoints, metrics.jsonl, result.json")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar (logs still written)")
    parser.set_defaults(accepts_config_overrides=True)


def run(args) -> int:
    from ssseg.config.loader import load_config
    from ssseg.train.distributed import initialize_from_env, is_main_process
    from ssseg.train.loop import run_training

    initialize_from_env()  # several processes (hosts, GPUs) where the environment names a cluster
    cfg = load_config(args.config, args.extra)
    result = run_training(cfg, args.workdir, show_progress=not args.no_progress)
    if is_main_process():
        summary = {k: result["test"].get(k) for k in ("miou", "defect_miou", "pixel_acc")}
        print(json.dumps({"workdir": args.workdir, "checkpoint": "last", "test": summary}))
    return 0
