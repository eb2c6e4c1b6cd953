"""`ssseg report ROOT [ROOT ...]`: tables and figures from the finished runs under sweep roots and ledgers."""

from __future__ import annotations

import argparse

HELP = ("Aggregate result.json files under a sweep root into Markdown/LaTeX/CSV tables "
        "(mean ± sample std over seeds) and PNG figures.")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from ssseg.report.load import MODEL_CHOICES

    parser.add_argument("root", nargs="+",
                        help="sweep root holding one workdir per run, or a ledger of cell records "
                             "(experiments/studies/<study>/ledger); several are read together")
    parser.add_argument("--out", default=None, help="output folder (default: the first ROOT/report)")
    parser.add_argument("--metric", choices=("miou", "defect_miou"), default=None,
                        help="table only this metric (default: mIoU, and defect mIoU where defined)")
    parser.add_argument("--split", choices=("test", "val"), default="test")
    parser.add_argument("--model", choices=MODEL_CHOICES, default="reported",
                        help="network to score: result.json's headline (the EMA teacher where a run has "
                             "one; default), every run's student, or per run the one with the higher "
                             "val mIoU (val_best)")
    parser.add_argument("--rows", default="auto",
                        help="grid key for table rows (default: 'variant' for ablations, else 'regime')")


def run(args: argparse.Namespace) -> int:
    from ssseg.report import write_report

    written = write_report(args.root, args.out, metrics=[args.metric] if args.metric else None,
                           split=args.split, row_key=args.rows, model=args.model)
    for path in written:
        if path.suffix == ".md" and path.name != "report.md":
            print(path.read_text())
    print("wrote " + ", ".join(str(p) for p in written))
    return 0
