"""`ssseg eval --workdir DIR --split test`: re-evaluate a saved run."""

from __future__ import annotations

import json
import os

from ssseg.measure import cli as measure_cli

HELP = "Re-evaluate a saved run's last (or given) checkpoint on a split; writes eval_<split>.json."


def add_arguments(parser) -> None:
    parser.add_argument("--workdir", required=True)
    parser.add_argument("--split", default="test", choices=("train", "val", "test"))
    parser.add_argument("--step", type=int, default=None, help="checkpoint step (default: latest)")
    measure_cli.add_eval_arguments(parser)


def run(args) -> int:
    from ssseg.data.sources import load_sources
    from ssseg.train import sharding
    from ssseg.train.loop import Evaluator
    from ssseg.train.setup import restore_run

    import jax

    run_ = restore_run(args.workdir, args.step)
    extras = measure_cli.EvalExtras(args, run_.spec)
    mesh = sharding.make_mesh()
    state = jax.device_put(run_.state, sharding.replicated(mesh))
    evaluator = Evaluator(run_, load_sources(run_.cfg.data), mesh)
    records = evaluator.run(state, args.split)
    models = {r["model"]: {k: v for k, v in r.items() if k != "model"} for r in records}
    out = {"step": int(run_.state.step), "split": args.split, "models": models}
    for name, r in out["models"].items():
        per_class = ", ".join(f"{k} {v:.3f}" if v is not None else f"{k} –" for k, v in r["per_class_iou"].items())
        defect = f" defect_miou {r['defect_miou']:.4f}" if r.get("defect_miou") is not None else ""
        print(f"[{name}] step {out['step']} {args.split}: miou {r['miou']:.4f}{defect} pixel_acc {r['pixel_acc']:.4f}")
        print(f"  per-class IoU: {per_class}")
    out.update(extras.run(run_, evaluator, state, records))
    with open(os.path.join(args.workdir, f"eval_{args.split}.json"), "w") as f:
        json.dump(out, f, indent=2)
    return 0
