"""`ssseg sweep experiments/x.py:<sweep> --root DIR`: run a grid of training runs."""

from __future__ import annotations

import argparse
import dataclasses
import shlex
import sys
import tempfile

HELP = ("Run every cell of a sweep (get_sweep(name) in an experiment file) as its own "
        "training process; finished or recorded cells are skipped, failed ones recorded.")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from ssseg.sweeps.launchers import LAUNCHERS

    parser.add_argument("sweep", help="experiment file and sweep name, e.g. experiments/magnetic_tile.py:main "
                             "or experiments/studies/semi_lr_m99/sweep.py:semi_lr_m99")
    parser.add_argument("--root", default=None,
                        help="directory holding one workdir per cell (required, except with --verify: "
                             "then a new temporary folder by default)")
    parser.add_argument("--only", default=None,
                        help="run only cells whose name matches this glob (a bare word matches as a substring); "
                             "a chosen cell whose dependency is unfinished is reported as blocked")
    parser.add_argument("--ledger", default=None,
                        help="folder of committed cell records (default: the sweep file's get_ledger(name); "
                             "none if it has no get_ledger); recorded cells with the same config are skipped")
    parser.add_argument("--no-ledger", action="store_true", help="neither read nor write a ledger")
    parser.add_argument("--launcher", choices=LAUNCHERS, default="local",
                        help="where cells train: here one after another (local), SLURM job arrays "
                             "(submitit) or a Ray cluster (ray)")
    parser.add_argument("--launcher-arg", action="append", default=[], metavar="KEY=VALUE",
                        help="launcher option, repeatable: submitit's executor parameters (timeout_min=120, "
                             "slurm_partition=gpu, gpus_per_node=1, cpus_per_task=8, slurm_array_parallelism=32); "
                             "ray.init's (address=auto) and num_cpus_per_cell / num_gpus_per_cell")
    parser.add_argument("--verify", default=None, metavar="CELL",
                        help="re-run this recorded cell (and the cells it starts from) into --root or a "
                             "temporary folder and diff every number against its ledger record")
    parser.add_argument("--dry-run", action="store_true", help="list cells, their state and commands; run nothing")
    parser.add_argument("--print-commands", action="store_true",
                        help="print one shell command per cell, in dependency order (for job arrays)")
    parser.add_argument("--python", default=sys.executable, help="interpreter that runs `-m ssseg train`")
    parser.add_argument("--quiet", action="store_true", help="write training output only to the cell logs")
    # --config.data.manual_dir=... and the other keys that do not change the numbers: where
    # this machine keeps the data, for every cell (records stay comparable across machines).
    parser.set_defaults(accepts_config_overrides=True)


def machine_overrides(extra) -> dict[str, str]:
    """``--config.KEY=VALUE`` flags of a sweep, allowed only for the ledger's ignored keys."""
    from ssseg.config.loader import parse_overrides
    from ssseg.sweeps.grid import SweepError
    from ssseg.sweeps.ledger import IGNORED_KEYS

    pairs = dict(parse_overrides(list(extra or [])))
    for key in pairs:
        if key not in IGNORED_KEYS:
            raise SweepError(f"--config.{key}: a sweep overrides only keys that do not change the numbers "
                             f"({', '.join(IGNORED_KEYS)}); change the sweep file for anything else")
    return pairs


def run(args: argparse.Namespace, train_argv=None) -> int:
    """Entry point; ``train_argv`` replaces ``python -m ssseg train`` (tests pass a fake trainer)."""
    from ssseg.sweeps.grid import SweepError, default_ledger, load_sweep
    from ssseg.sweeps.launchers import make_launcher, parse_options
    from ssseg.sweeps.ledger import Ledger
    from ssseg.sweeps.runner import cell_command, describe, run_sweep, select

    config_file, cells = load_sweep(args.sweep)
    extra = machine_overrides(getattr(args, "extra", None))
    cells = [dataclasses.replace(c, overrides={**c.overrides, **extra}) for c in cells]
    # A fake trainer (tests) reads no config: only the real one gets split files written first.
    ensure_splits = train_argv is None
    train_argv = list(train_argv or (args.python, "-m", "ssseg", "train"))
    ledger_dir = None if getattr(args, "no_ledger", False) else (
        getattr(args, "ledger", None) or default_ledger(args.sweep))
    ledger = Ledger(ledger_dir) if ledger_dir else None
    if getattr(args, "verify", None):
        from ssseg.sweeps import verify

        if ledger is None:
            raise SweepError(f"--verify needs a ledger: {args.sweep} names none (get_ledger); pass --ledger DIR")
        root = args.root or tempfile.mkdtemp(prefix="ssseg-verify-")
        diffs = verify.verify_cell(config_file, cells, args.verify, ledger, root, spec=args.sweep,
                                   train_argv=train_argv)
        return verify.report(args.verify, diffs)
    if not args.root:
        raise SweepError("--root is required (the folder holding one workdir per cell)")
    chosen = select(cells, args.only)
    if not chosen:
        raise SweepError(f"--only {args.only!r} matches none of the {len(cells)} cells of {args.sweep}")
    if args.print_commands:
        for cell in chosen:
            print(shlex.join(cell_command(cell, config_file, args.root, train_argv)))
        return 0
    if args.dry_run:
        print(f"{args.sweep}: {len(chosen)} of {len(cells)} cells under {args.root}"
              + (f", ledger {ledger.directory}" if ledger else ""))
        for line in describe(config_file, chosen, args.root, train_argv, ledger):
            print(line)
        return 0
    echo = None if args.quiet else sys.stdout
    launcher = make_launcher(getattr(args, "launcher", "local"), args.root,
                             parse_options(getattr(args, "launcher_arg", [])), echo=echo)
    summary = run_sweep(config_file, chosen, args.root, spec=args.sweep, train_argv=train_argv,
                        echo=echo, ledger=ledger, launcher=launcher, ensure_splits=ensure_splits,
                        order={c.name: i for i, c in enumerate(cells)})
    return 0 if summary.ok else 1
