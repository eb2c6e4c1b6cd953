"""`ssseg eval --workdir DIR --split test`: re-evaluate a saved run."""

from __future__ import annotations

import json
import os

from ssseg.measure import cli as measure_cli
from ssseg.review.options import add_eval_arguments

HELP = ("Re-evaluate a saved run's last (or given) checkpoint on a split; writes eval_<split>.json with the "
        "review AUC of the uncertainty score and the calibration (ECE, reliability_<split>.png); optionally "
        "post-processing, instance-level scores and corruptions.")


def add_arguments(parser) -> None:
    parser.add_argument("--workdir", required=True)
    parser.add_argument("--split", default="test", choices=("train", "val", "test"))
    parser.add_argument("--step", type=int, default=None, help="checkpoint step (default: latest)")
    measure_cli.add_eval_arguments(parser)
    add_eval_arguments(parser)


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
    review_lines = []
    if not args.no_review and run_.ctx.method.evaluate is None:  # a segmentation head to review
        from ssseg.review.eval_report import review_and_calibration

        review, review_lines = review_and_calibration(run_, args.workdir, args.split, args)
        out.update(review)
    for name, r in out["models"].items():
        per_class = ", ".join(f"{k} {v:.3f}" if v is not None else f"{k} –" for k, v in r["per_class_iou"].items())
        defect = f" defect_miou {r['defect_miou']:.4f}" if r.get("defect_miou") is not None else ""
        print(f"[{name}] step {out['step']} {args.split}: miou {r['miou']:.4f}{defect} pixel_acc {r['pixel_acc']:.4f}")
        print(f"  per-class IoU: {per_class}")
    for line in review_lines:
        print(line)
    out.update(extras.run(run_, evaluator, state, records))
    with open(os.path.join(args.workdir, f"eval_{args.split}.json"), "w") as f:
        json.dump(out, f, indent=2)
    return 0
