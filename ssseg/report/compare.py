"""Refuse to put runs in one table unless their configs differ only in grid keys.

Keys that may differ across a table (a run's place in the grid):
  ``seed``, ``init_from``, ``data.budget`` and everything under ``method.``
  (the method and its own settings, e.g. the ablation switches).
Keys that may differ anywhere because they do not change the numbers
(where data lives, how often to log/evaluate/checkpoint, eval batching):
  see ``BOOKKEEPING_KEYS``.
In a grid of named variants (cells whose grid has a ``variant``, e.g. an
ablation or a loss comparison), the keys whose values the variants' overrides
set differently (``variant_keys``) may differ across rows too.
Within one table cell (same row and column) only ``seed``, ``init_from``
and bookkeeping keys may differ. ``COLUMN_KEYS`` (the schedule's length) may
differ between columns, never within one: a grid may train each budget for
as many steps as its labeled set needs (the note under the table lists them). A zero-label reference (no training, no
checkpoint) joins a table when it was scored on the same data at the same
resolution (``SCORING_KEYS``).

A key missing from a run's config (the run predates the key) counts as
having today's default for that run's method: new keys are added with the
default that reproduces the old behaviour.
"""

from __future__ import annotations

from typing import Any, Iterable, Sequence

from ssseg.config.schema import fill_defaults
from ssseg.report.load import ReportError, is_zero_label

GRID_KEYS = ("seed", "init_from", "data.budget", "method.*")
BOOKKEEPING_KEYS = (
    "data.manual_dir", "data.data_dir", "data.worker_count", "data.eval_batch_size",
    "train.log_every", "train.eval_every", "train.checkpoint_every", "train.keep_checkpoints",
)
SEED_KEYS = ("seed", "init_from")
COLUMN_KEYS = ("train.steps",)
# What a zero-label reference shares with trained runs: the dataset and the resolution
# its labels are scored at (the rest of its config is whatever file it was pointed at).
SCORING_KEYS = ("data.name", "data.base_size")


def flatten(config: dict, prefix: str = "") -> dict[str, Any]:
    """Nested config dict -> {"a.b": value}; lists become tuples so they compare by value."""
    flat: dict[str, Any] = {}
    for key, value in config.items():
        if isinstance(value, dict):
            flat.update(flatten(value, f"{prefix}{key}."))
        else:
            flat[prefix + key] = tuple(value) if isinstance(value, list) else value
    return flat


def _allowed(key: str, patterns: Iterable[str]) -> bool:
    return any(key == p or (p.endswith(".*") and key.startswith(p[:-1])) for p in patterns)


def first_difference(a: dict, b: dict, allowed: Iterable[str]) -> tuple[str, Any, Any] | None:
    """The first (sorted) flattened key where configs a and b differ, outside ``allowed``;
    a key only one of them has is compared with the other's method default."""
    allowed = tuple(allowed)
    flat_a, flat_b = flatten(a), flatten(b)
    full_a, full_b = flatten(fill_defaults(a)), flatten(fill_defaults(b))
    for key in sorted(set(flat_a) | set(flat_b)):
        if _allowed(key, allowed):
            continue
        missing = "<missing>"
        if full_a.get(key, missing) != full_b.get(key, missing):
            return key, full_a.get(key, missing), full_b.get(key, missing)
    return None


def keys_difference(a: dict, b: dict, keys: Sequence[str]) -> tuple[str, Any, Any] | None:
    """The first of ``keys`` where configs a and b differ (missing keys as defaults)."""
    full_a, full_b = flatten(fill_defaults(a)), flatten(fill_defaults(b))
    for key in keys:
        if full_a.get(key) != full_b.get(key):
            return key, full_a.get(key), full_b.get(key)
    return None


def scoring_difference(a: dict, b: dict) -> tuple[str, Any, Any] | None:
    """The first of ``SCORING_KEYS`` where configs a and b differ (missing keys as defaults)."""
    return keys_difference(a, b, SCORING_KEYS)


def _refuse(run_a: dict, run_b: dict, diff: tuple[str, Any, Any], scope: str) -> ReportError:
    key, value_a, value_b = diff
    return ReportError(
        f"refusing to {scope}: runs {run_a['workdir']} and {run_b['workdir']} differ in "
        f"config key {key!r} ({value_a!r} vs {value_b!r})")


def variant_keys(results: Sequence[dict]) -> tuple[str, ...]:
    """The override keys on which runs of named variants disagree (a key one variant sets and another
    leaves alone counts): what defines their rows, so a table may hold them."""
    variants = [r.get("overrides") or {} for r in results if "variant" in (r.get("grid") or {})]
    keys = {k for overrides in variants for k in overrides}
    missing = object()
    return tuple(sorted(k for k in keys if len({repr(o.get(k, missing)) for o in variants}) > 1))


def check_comparable(results: Sequence[dict], cell_of=None) -> None:
    """Raise ReportError naming two runs and the differing key if they may not share a table.

    ``cell_of(result)`` gives a run's (row, column); runs in the same cell
    must agree on everything but seed and init_from.
    """
    if not results:
        return
    trained = [r for r in results if not is_zero_label(r)] or list(results)
    checkpoints = {r.get("checkpoint") for r in trained}
    if len(checkpoints) > 1:
        by_ckpt = {r.get("checkpoint"): r for r in trained}
        a, b = list(by_ckpt.values())[:2]
        raise _refuse(a, b, ("checkpoint", a.get("checkpoint"), b.get("checkpoint")), "mix checkpoints")
    reference = trained[0]
    allowed = GRID_KEYS + BOOKKEEPING_KEYS + (COLUMN_KEYS if cell_of else ()) + variant_keys(results)
    for other in results:
        if other is reference:
            continue
        if is_zero_label(other) and not is_zero_label(reference):
            diff = scoring_difference(reference.get("config", {}), other.get("config", {}))
        else:
            diff = first_difference(reference.get("config", {}), other.get("config", {}), allowed)
        if diff:
            raise _refuse(reference, other, diff, "put them in one table")
    if cell_of is None:
        return
    first_in_column: dict = {}
    for run in trained:
        column = cell_of(run)[1]
        first = first_in_column.setdefault(column, run)
        diff = keys_difference(first.get("config", {}), run.get("config", {}), COLUMN_KEYS)
        if diff:
            raise _refuse(first, run, diff, f"put them in column {column!r}")
    first_in_cell: dict = {}
    for run in results:
        cell = cell_of(run)
        if cell not in first_in_cell:
            first_in_cell[cell] = run
            continue
        diff = first_difference(first_in_cell[cell].get("config", {}), run.get("config", {}),
                                SEED_KEYS + BOOKKEEPING_KEYS)
        if diff:
            raise _refuse(first_in_cell[cell], run, diff, f"average them in cell {cell}")
