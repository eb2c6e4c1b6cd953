"""`ssseg classical --config experiments/x.py --method otsu --workdir DIR`"""

from __future__ import annotations

import json

HELP = ("Zero-label reference: Otsu / adaptive thresholding or k-means / SLIC+k-means clusters, matched to "
        "classes by Hungarian matching on val labels, scored on val and test; writes result.json.")


def add_arguments(parser) -> None:
    parser.add_argument("--config", required=True, help="experiments/<file>.py[:arg] (its data section is used)")
    parser.add_argument("--method", required=True, choices=("otsu", "adaptive", "kmeans", "slic_kmeans"))
    parser.add_argument("--workdir", required=True, help="where result.json goes")
    parser.add_argument("--clusters", type=int, default=0,
                        help="k for kmeans / slic_kmeans (default: the number of classes; a set k is named in the regime, e.g. zero-label:kmeans-k2)")
    parser.set_defaults(accepts_config_overrides=True)


def run(args) -> int:
    from ssseg.baselines.run import run_classical
    from ssseg.config.loader import load_config

    cfg = load_config(args.config, args.extra)
    result = run_classical(cfg, args.method, args.workdir, clusters=args.clusters)
    summary = {k: result["test"].get(k) for k in ("miou", "defect_miou", "pixel_acc", "binary_defect_iou")}
    print(json.dumps({"workdir": args.workdir, "regime": result["regime"], "test": summary}))
    return 0
