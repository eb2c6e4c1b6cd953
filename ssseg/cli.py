"""`ssseg <command>`: each command is a module in ssseg/commands/ exposing
`HELP`, `add_arguments(parser)` and `run(args) -> int`; found by module name."""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

from ssseg import commands
from ssseg.errors import SsSegError


def _command_modules() -> dict:
    names = sorted(m.name for m in pkgutil.iter_modules(commands.__path__) if not m.name.startswith("_"))
    return {name.replace("_", "-"): f"ssseg.commands.{name}" for name in names}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(prog="ssseg", description="Semi-supervised semantic segmentation in JAX.")
    sub = parser.add_subparsers(dest="command", required=True)
    modules = _command_modules()
    # Import only the command asked for: importing all would pull in JAX for `--help`.
    wanted = next((a for a in argv if not a.startswith("-")), None)
    for name, module_name in modules.items():
        if wanted in (None, name) or wanted not in modules:
            module = importlib.import_module(module_name)
            p = sub.add_parser(name, help=module.HELP, description=module.HELP)
            module.add_arguments(p)
            p.set_defaults(_run=module.run)
        else:
            sub.add_parser(name)
    args, rest = parser.parse_known_args(argv)
    args.extra = rest
    if rest and not getattr(args, "accepts_config_overrides", False):
        parser.error(f"unrecognised arguments: {' '.join(rest)}")
    try:
        return int(args._run(args) or 0)
    except SsSegError as e:
        _print_error(f"ssseg {args.command}: error: {e}")
        return 2
    except KeyboardInterrupt:
        _print_error(f"ssseg {args.command}: interrupted; re-run the same command to resume")
        return 130


def _print_error(message: str) -> None:
    """On a terminal the cursor may still stand at the end of a progress bar (TFDS's build
    bars, the trainer's): start the message on a line of its own."""
    stream = sys.stderr
    lead = "\n" if stream.isatty() else ""
    print(f"{lead}{message}", file=stream, flush=True)


if __name__ == "__main__":
    sys.exit(main())
