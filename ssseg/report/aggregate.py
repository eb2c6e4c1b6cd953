"""Group runs into a regime x budget table of mean ± sample std over seeds."""

from __future__ import annotations

import dataclasses
import math
import statistics
from typing import Sequence

from ssseg.report.compare import check_comparable
from ssseg.report.load import ReportError, budget_sort_key, coordinate, is_pretraining, is_zero_label

METRICS = ("miou", "defect_miou")
METRIC_LABELS = {"miou": "mIoU", "defect_miou": "defect mIoU", "pixel_acc": "pixel accuracy"}
# Rows without a sweep order: baselines first, then alphabetical.
_LEADING_ROWS = ("supervised", "pretrained+supervised")


@dataclasses.dataclass(frozen=True)
class CellStats:
    """One table cell: the seeds' values in percent, their mean and sample std (ddof=1)."""

    values: tuple[float, ...]

    @property
    def n(self) -> int:
        return len(self.values)

    @property
    def mean(self) -> float:
        return statistics.fmean(self.values)

    @property
    def std(self) -> float:
        """Sample standard deviation (ddof=1); NaN for a single seed."""
        return statistics.stdev(self.values) if self.n > 1 else math.nan


@dataclasses.dataclass(frozen=True)
class ResultsTable:
    """Rows x columns of CellStats for one metric on one split (values in percent)."""

    metric: str
    split: str
    row_key: str
    col_key: str
    rows: tuple[str, ...]
    cols: tuple[str, ...]
    cells: dict  # (row, col) -> CellStats
    checkpoint: str
    dataset: str
    networks: tuple[str, ...] = ()  # which network's scores the cells hold (teacher, student)
    commits: tuple[tuple[str, int], ...] = ()  # (code commit, runs) behind the table
    steps: tuple[tuple[str, int], ...] = ()  # (column, train.steps) where columns differ

    def get(self, row: str, col: str) -> CellStats | None:
        return self.cells.get((row, col))

    def best_rows(self, col: str, decimals: int = 1) -> set[str]:
        """Rows with the highest mean in ``col`` as displayed (ties at that precision all win)."""
        shown = {r: round(s.mean, decimals) for (r, c), s in self.cells.items() if c == col}
        if not shown:
            return set()
        top = max(shown.values())
        return {r for r, v in shown.items() if v == top}

    @property
    def title(self) -> str:
        label = METRIC_LABELS.get(self.metric, self.metric)
        return f"{self.dataset}: {self.split} {label} (%)"

    @property
    def note(self) -> str:
        networks = f" ({' where there is one, else '.join(self.networks)})" if self.networks else ""
        return (f"Mean ± sample std (ddof=1) over seeds, number of seeds in parentheses; "
                f"{self.split} split, checkpoint: {self.checkpoint}{networks}; best per column in bold; "
                f"– = no finished run.{self.steps_note}{self.commits_note}")

    @property
    def steps_note(self) -> str:
        if not self.steps:
            return ""
        return " Steps: " + ", ".join(f"{col} {steps}" for col, steps in self.steps) + "."

    @property
    def commits_note(self) -> str:
        if not self.commits:
            return ""
        return " Code: " + ", ".join(f"{commit} ({n} run{'' if n == 1 else 's'})" for commit, n in self.commits) + "."


def resolve_row_key(results: Sequence[dict], row_key: str = "auto") -> str:
    """``auto``: the ablation ``variant`` if every run has one, else ``regime``."""
    if row_key != "auto":
        return row_key
    if results and all("variant" in r.get("grid", {}) for r in results):
        return "variant"
    return "regime"


def table_runs(results: Sequence[dict]) -> list[dict]:
    """The runs that belong in tables: finished evaluations, no pretraining runs."""
    return [r for r in results if not is_pretraining(r)]


def _metric_value(result: dict, split: str, metric: str) -> float | None:
    scores = result.get(split)
    if not isinstance(scores, dict):
        raise ReportError(f"{result['workdir']}/result.json has no {split!r} scores")
    value = scores.get(metric)
    return None if value is None else 100.0 * float(value)


def ordered_rows(results: Sequence[dict], row_key: str) -> tuple[str, ...]:
    first: dict[str, tuple] = {}
    for r in results:
        row = str(coordinate(r, row_key))
        if r.get("order") is not None:
            rank = (0, r["order"], "")
        elif row in _LEADING_ROWS:
            rank = (1, _LEADING_ROWS.index(row), "")
        else:
            rank = (2, 0, row)
        first[row] = min(first.get(row, rank), rank)
    return tuple(sorted(first, key=first.__getitem__))


def results_table(results: Sequence[dict], metric: str = "miou", split: str = "test",
                  row_key: str = "auto", col_key: str = "budget") -> ResultsTable:
    """Aggregate runs into a table; refuses (ReportError) to mix incomparable configs.

    Runs without a value for ``metric`` (e.g. ``defect_miou`` on a dataset
    without defect classes) leave their cell empty.
    """
    runs = table_runs(results)
    if not runs:
        raise ReportError("no finished runs (result.json) to tabulate")
    row_key = resolve_row_key(runs, row_key)

    def cell_of(run: dict) -> tuple[str, str]:
        return str(coordinate(run, row_key)), str(coordinate(run, col_key))

    check_comparable(runs, cell_of)
    values: dict[tuple[str, str], list[float]] = {}
    for run in runs:
        value = _metric_value(run, split, metric)
        if value is not None:
            values.setdefault(cell_of(run), []).append(value)
    cols = sorted({cell_of(r)[1] for r in runs}, key=budget_sort_key if col_key == "budget" else str)
    return ResultsTable(
        metric=metric, split=split, row_key=row_key, col_key=col_key,
        rows=ordered_rows(runs, row_key), cols=tuple(cols),
        cells={k: CellStats(tuple(v)) for k, v in values.items()},
        checkpoint=str(next((r for r in runs if not is_zero_label(r)), runs[0]).get("checkpoint", "unknown")),
        dataset=str(runs[0].get("dataset", "")),
        networks=_networks(runs, split), commits=commits_of(runs),
        steps=_column_steps(runs, cell_of, cols))


def commits_of(runs: Sequence[dict]) -> tuple[tuple[str, int], ...]:
    """(short commit, number of runs) of the code behind the runs, most runs first; a run
    trained from a checkout with uncommitted changes is marked ``+dirty``."""
    counts: dict[str, int] = {}
    for r in runs:
        if is_zero_label(r) and not r.get("git_commit"):
            continue
        name = str(r.get("git_commit") or "unknown")[:7] + ("+dirty" if r.get("git_dirty") else "")
        counts[name] = counts.get(name, 0) + 1
    return tuple(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def _column_steps(runs: Sequence[dict], cell_of, cols: Sequence[str]) -> tuple[tuple[str, int], ...]:
    """Each column's train.steps, when the columns do not all train alike."""
    steps = {cell_of(r)[1]: r.get("steps") for r in runs if not is_zero_label(r) and r.get("steps")}
    if len(set(steps.values())) <= 1:
        return ()
    return tuple((c, int(steps[c])) for c in cols if c in steps)


def _networks(runs: Sequence[dict], split: str) -> tuple[str, ...]:
    """The networks scored, teacher first (result.json names each split's ``model``), or
    the rule that chose them (``select_model(..., "val_best")``)."""
    rules = {r["network_rule"] for r in runs if r.get("network_rule")}
    if rules:
        return tuple(sorted(rules))
    names = {str(r[split]["model"]) for r in runs if isinstance(r.get(split), dict) and r[split].get("model")}
    return tuple(sorted(names, key=lambda n: (n != "teacher", n)))
