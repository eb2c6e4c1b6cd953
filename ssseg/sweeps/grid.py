"""Experiment grids as code: cells, grid helpers, ordering and sweep files.

An experiment file (``experiments/<dataset>.py``, or a study's
``experiments/studies/<study>/sweep.py``) defines ``get_config(arg)`` and
``get_sweep(name) -> list[Cell]``. A cell is one training run: the
``arg`` string handed to ``get_config`` plus ``--config.a.b=v`` overrides.
Override values may contain ``{root}``, replaced by the sweep root when the
sweep runs, so a cell can point ``init_from`` at another cell's workdir.
Running cells lives in :mod:`ssseg.sweeps.runner`.
"""

from __future__ import annotations

import dataclasses
import itertools
import os
import re
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from ssseg.config.loader import import_experiment
from ssseg.errors import SsSegError


class SweepError(SsSegError):
    """A sweep file, sweep name or cell list is malformed."""


_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+=-]*$")
_ROOT_REF = re.compile(r"\{root\}/([^/\s]+)")


@dataclasses.dataclass(frozen=True)
class Cell:
    """One run of a sweep.

    Attributes:
      name: workdir name under the sweep root, e.g. ``unimatch__b1_8__s0``.
      config_arg: the ``arg`` passed to ``get_config``,
        e.g. ``method=unimatch,budget=1/8,seed=0``.
      overrides: extra ``--config.<key>=<value>`` flags; string values may
        hold ``{root}`` (the sweep root, filled in at run time).
      after: names of cells that must have finished (result.json) first.
      grid: the grid coordinates of this cell (regime, budget, seed,
        variant, ...), copied into ``<root>/sweep_cells.json`` for the report.
    """

    name: str
    config_arg: str
    overrides: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    after: tuple[str, ...] = ()
    grid: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    def to_json(self) -> dict:
        return {"config_arg": self.config_arg, "overrides": dict(self.overrides),
                "after": list(self.after), "grid": dict(self.grid)}


def budget_slug(budget: str) -> str:
    """Workdir-safe budget token: ``1/8`` -> ``b1_8``, ``92`` -> ``b92``, ``full`` -> ``bfull``."""
    return "b" + str(budget).replace("/", "_")


def cell_name(*parts: str) -> str:
    """Join name parts with ``__``; ``pretrained+unimatch`` stays readable."""
    return "__".join(str(p) for p in parts if str(p))


def _split_regime(regime: str) -> tuple[bool, str]:
    if regime.startswith("pretrained+"):
        return True, regime[len("pretrained+"):]
    return False, regime


def pretrain_cells(seeds: Iterable[int], *, method: str = "pretrain_densecl",
                   name: str = "pretrain_dense", extra_arg: str = "",
                   overrides: Mapping[str, Any] | None = None) -> list[Cell]:
    """One self-supervised pretraining cell per seed, named ``<name>__s<seed>``."""
    cells = []
    for seed in seeds:
        arg = _join_arg(f"method={method}", f"seed={seed}", extra_arg)
        cells.append(Cell(name=cell_name(name, f"s{seed}"), config_arg=arg,
                          overrides=dict(overrides or {}),
                          grid={"regime": method, "seed": seed, "pretrain": True}))
    return cells


def grid(regimes: Sequence[str], budgets: Sequence[str], seeds: Sequence[int], *,
         extra_arg: str = "", overrides: Mapping[str, Any] | None = None,
         pretrain_name: str = "pretrain_dense") -> list[Cell]:
    """Cells for regimes x budgets x seeds.

    A regime is a method name or ``pretrained+<method>``; the latter runs the
    method with ``init_from={root}/<pretrain_name>__s<seed>`` and waits for
    that cell (add it with :func:`pretrain_cells`).
    """
    cells = []
    for regime, budget, seed in itertools.product(regimes, budgets, seeds):
        pretrained, method = _split_regime(regime)
        arg = _join_arg(f"method={method}", f"budget={budget}", f"seed={seed}", extra_arg)
        cell_overrides = dict(overrides or {})
        after: tuple[str, ...] = ()
        if pretrained:
            source = cell_name(pretrain_name, f"s{seed}")
            cell_overrides["init_from"] = "{root}/" + source
            after = (source,)
        cells.append(Cell(
            name=cell_name(regime, budget_slug(budget), f"s{seed}"),
            config_arg=arg, overrides=cell_overrides, after=after,
            grid={"regime": regime, "budget": str(budget), "seed": seed}))
    return cells


def ablation_grid(base_arg: str, variants: Mapping[str, Mapping[str, Any]],
                  seeds: Sequence[int], *, budget: str | None = None,
                  prefix: str = "abl") -> list[Cell]:
    """Cells for named override sets (ablation switches) x seeds.

    ``variants`` maps a variant name (e.g. ``no_cutmix``) to the overrides
    that define it; ``{}`` is the reference configuration.
    """
    cells = []
    for variant, seed in itertools.product(variants, seeds):
        arg = _join_arg(base_arg, f"budget={budget}" if budget else "", f"seed={seed}")
        grid_keys: dict[str, Any] = {"variant": variant, "seed": seed}
        if budget is not None:
            grid_keys["budget"] = str(budget)
        cells.append(Cell(
            name=cell_name(prefix, variant, budget_slug(budget) if budget else "", f"s{seed}"),
            config_arg=arg, overrides=dict(variants[variant]), grid=grid_keys))
    return cells


def switch_variants(switches: Mapping[str, tuple[Mapping[str, Any], Mapping[str, Any]]],
                    *, reference: str = "full") -> dict[str, dict[str, Any]]:
    """One-at-a-time ablation: the reference plus one variant per switch.

    ``switches`` maps a variant name to ``(reference_overrides, variant_overrides)``;
    the reference cell gets every reference override, each variant flips one.
    """
    base: dict[str, Any] = {}
    for ref_overrides, _ in switches.values():
        base.update(ref_overrides)
    variants = {reference: dict(base)}
    for name, (_, flipped) in switches.items():
        variants[name] = {**base, **flipped}
    return variants


def _join_arg(*parts: str) -> str:
    return ",".join(p for p in parts if p)


def validate(cells: Sequence[Cell]) -> None:
    """Raise SweepError on unsafe/duplicate names, unknown ``after`` or ``{root}/x`` refs."""
    names = set()
    for cell in cells:
        if not _SAFE_NAME.match(cell.name):
            raise SweepError(f"cell name {cell.name!r} is not workdir-safe "
                             f"(expected letters, digits and _.+=-)")
        if cell.name in names:
            raise SweepError(f"duplicate cell name {cell.name!r}")
        names.add(cell.name)
    for cell in cells:
        for dep in cell.after:
            if dep not in names:
                raise SweepError(f"cell {cell.name!r}: 'after' names unknown cell {dep!r}")
        for key, value in cell.overrides.items():
            for ref in _ROOT_REF.findall(str(value)):
                if ref not in cell.after:
                    raise SweepError(f"cell {cell.name!r}: override {key}={value!r} "
                                     f"uses cell {ref!r} not listed in 'after'")


def ordered(cells: Sequence[Cell]) -> list[Cell]:
    """Cells in dependency order, otherwise keeping the given order."""
    validate(cells)
    done: set[str] = set()
    pending = list(cells)
    result = []
    while pending:
        ready = [c for c in pending if all(d in done for d in c.after)]
        if not ready:
            raise SweepError("dependency cycle among cells "
                             + ", ".join(sorted(c.name for c in pending)))
        # Take the first ready cell so independent cells keep their order.
        cell = ready[0]
        result.append(cell)
        done.add(cell.name)
        pending.remove(cell)
    return result


def resolve_overrides(cell: Cell, root: str | Path) -> dict[str, Any]:
    """Overrides with ``{root}`` replaced by the sweep root."""
    return {k: (str(v).replace("{root}", str(root)) if isinstance(v, str) else v)
            for k, v in cell.overrides.items()}


def load_sweep(spec: str) -> tuple[str, list[Cell]]:
    """``path.py:name`` -> (config file, ordered cells); name defaults to ``main``.

    ``path.py`` is a dataset's experiment file (``experiments/magnetic_tile.py:ablation``)
    or a study's sweep (``experiments/studies/semi_lr_m99/sweep.py:semi_lr_m99``); either
    defines ``get_config(arg)`` too, since the cells are trained with ``--config path.py:<arg>``.
    """
    path, _, name = spec.partition(":")
    name = name or "main"
    file = Path(path)
    if not file.is_file():
        raise SweepError(f"sweep file {path!r} does not exist (expected experiments/<dataset>.py:<sweep> "
                         f"or experiments/studies/<study>/sweep.py:<sweep>)")
    module = import_experiment(path)
    get_sweep = getattr(module, "get_sweep", None)
    if get_sweep is None:
        raise SweepError(f"{path}: defines no get_sweep(name)")
    try:
        cells = get_sweep(name)
    except (KeyError, ValueError) as e:
        raise SweepError(f"{path}: get_sweep({name!r}) failed: {e}") from e
    if not cells or not all(isinstance(c, Cell) for c in cells):
        raise SweepError(f"{path}: get_sweep({name!r}) returned no list of ssseg.sweep.Cell")
    return path, ordered(cells)


def default_ledger(spec: str) -> str | None:
    """The ledger folder of sweep ``path.py:name``: the file's ``get_ledger(name)``; for a
    study's ``sweep.py`` without one, ``<study>/ledger/<name>`` (a study's sweeps share cell
    names, so each keeps its own records); else None."""
    path, _, name = spec.partition(":")
    name = name or "main"
    get_ledger = getattr(import_experiment(path), "get_ledger", None)
    if get_ledger is not None:
        return str(get_ledger(name))
    if Path(path).name == "sweep.py":
        return os.path.relpath(Path(path).resolve().parent / "ledger" / name)
    return None
