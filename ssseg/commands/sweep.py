"""`ssseg sweep experiments/x.py:<sweep> --root DIR`: run a grid of training runs."""

from __future__ import annotations

import argparse
import shlex
import sys

HELP = ("Run every cell of a sweep (get_sweep(name) in an experiment file) as its own "
        "training process; finished cells are skipped, failed ones recorded.")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("sweep", help="experiment file and sweep name, e.g. experiments/magnetic_tile.py:main "
                             "or experiments/studies/semi_lr_m99/sweep.py:semi_lr_m99")
    parser.add_argument("--root", required=True, help="directory holding one workdir per cell")
    parser.add_argument("--only", default=None,
                        help="run only cells whose name matches this glob (a bare word matches as a substring); "
                             "a chosen cell whose dependency is unfinished is reported as blocked")
    parser.add_argument("--dry-run", action="store_true", help="list cells, their state and commands; run nothing")
    parser.add_argument("--print-commands", action="store_true",
                        help="print one shell command per cell, in dependency order (for job arrays)")
    parser.add_argument("--python", default=sys.executable, help="interpreter that runs `-m ssseg train`")
    parser.add_argument("--quiet", action="store_true", help="write training output only to the cell logs")


def run(args: argparse.Namespace, train_argv=None) -> int:
    """Entry point; ``train_argv`` replaces ``python -m ssseg train`` (tests pass a fake trainer)."""
    from ssseg.sweeps.grid import SweepError, load_sweep
    from ssseg.sweeps.runner import cell_command, describe, run_sweep, select

    config_file, cells = load_sweep(args.sweep)
    chosen = select(cells, args.only)
    if not chosen:
        raise SweepError(f"--only {args.only!r} matches none of the {len(cells)} cells of {args.sweep}")
    train_argv = list(train_argv or (args.python, "-m", "ssseg", "train"))
    if args.print_commands:
        for cell in chosen:
            print(shlex.join(cell_command(cell, config_file, args.root, train_argv)))
        return 0
    if args.dry_run:
        print(f"{args.sweep}: {len(chosen)} of {len(cells)} cells under {args.root}")
        for line in describe(config_file, chosen, args.root, train_argv):
            print(line)
        return 0
    summary = run_sweep(config_file, chosen, args.root, spec=args.sweep, train_argv=train_argv,
                        echo=None if args.quiet else sys.stdout)
    return 0 if summary.ok else 1
