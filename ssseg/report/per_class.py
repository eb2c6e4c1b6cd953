"""Per-class IoU across regimes: a small table (rows x classes, Markdown and CSV) and its heat-map."""

from __future__ import annotations

import dataclasses
from typing import Sequence

import numpy as np
from matplotlib.figure import Figure

from ssseg.report.aggregate import resolve_row_key, table_runs, ordered_rows
from ssseg.report.load import ReportError, coordinate


@dataclasses.dataclass(frozen=True)
class PerClassIoU:
    """Mean IoU (%) over seeds: ``values[i, j]`` for row ``rows[i]`` and class ``class_names[j]``;
    ``stds`` the sample std (ddof=1; NaN under two seeds)."""

    rows: tuple[str, ...]
    class_names: tuple[str, ...]
    values: np.ndarray
    counts: tuple[int, ...]  # seeds averaged per row
    split: str
    budget: str | None
    stds: np.ndarray

    def as_records(self) -> list[dict]:
        return [{"row": r, **{c: float(v) for c, v in zip(self.class_names, vals)}}
                for r, vals in zip(self.rows, self.values)]


def per_class_iou_frame(results: Sequence[dict], split: str = "test", budget: str | None = None,
                        row_key: str = "auto") -> PerClassIoU:
    """Average ``<split>.per_class_iou`` over seeds for each row at one budget.

    ``budget=None`` is allowed only when all runs share one budget.
    """
    runs = table_runs(results)
    budgets = sorted({str(coordinate(r, "budget")) for r in runs})
    if budget is None:
        if len(budgets) != 1:
            raise ReportError(f"per-class IoU needs one budget; runs have {budgets}: pass budget=")
        budget = budgets[0]
    runs = [r for r in runs if str(coordinate(r, "budget")) == str(budget)]
    if not runs:
        raise ReportError(f"no finished runs at budget {budget!r}; budgets present: {budgets}")
    row_key = resolve_row_key(runs, row_key)
    class_names: list[str] = []
    for run in runs:
        for name in run[split].get("per_class_iou", {}):
            if name not in class_names:
                class_names.append(name)
    rows = ordered_rows(runs, row_key)
    values = np.full((len(rows), len(class_names)), np.nan)
    stds = np.full_like(values, np.nan)
    counts = []
    for i, row in enumerate(rows):
        members = [r for r in runs if str(coordinate(r, row_key)) == row]
        counts.append(len(members))
        for j, name in enumerate(class_names):
            seen = [r[split]["per_class_iou"][name] for r in members
                    if r[split].get("per_class_iou", {}).get(name) is not None]
            if seen:
                values[i, j] = 100.0 * float(np.mean(seen))
            if len(seen) > 1:
                stds[i, j] = 100.0 * float(np.std(seen, ddof=1))
    return PerClassIoU(rows, tuple(class_names), values, tuple(counts), split, str(budget), stds)


def _cell(mean: float, std: float | None) -> str:
    if np.isnan(mean):
        return "–"
    return f"{mean:.1f}" if std is None or np.isnan(std) else f"{mean:.1f} ± {std:.1f}"


def per_class_markdown(frame: PerClassIoU) -> str:
    """Rows x classes, mean ± sample std over seeds (seeds per row in parentheses)."""
    stds = frame.stds
    lines = [f"**{frame.split} IoU (%) per class at {frame.budget}**", "",
             "| row (seeds) | " + " | ".join(frame.class_names) + " |",
             "|:---|" + "---:|" * len(frame.class_names)]
    for i, (row, count) in enumerate(zip(frame.rows, frame.counts)):
        cells = [_cell(frame.values[i, j], stds[i, j]) for j in range(len(frame.class_names))]
        lines.append(f"| {row} ({count}) | " + " | ".join(cells) + " |")
    lines += ["", "Mean ± sample std (ddof=1) over seeds; – = class absent from every run's scores.", ""]
    return "\n".join(lines)


def per_class_csv(frame: PerClassIoU) -> str:
    """row,seeds,<class>_mean,<class>_std,... (IoU in %)."""
    stds = frame.stds
    header = ["row", "seeds"] + [f"{c}_{stat}" for c in frame.class_names for stat in ("mean", "std")]
    lines = [",".join(header)]
    for i, (row, count) in enumerate(zip(frame.rows, frame.counts)):
        numbers = [f"{v:.4f}" if not np.isnan(v) else "" for j in range(len(frame.class_names))
                   for v in (frame.values[i, j], stds[i, j])]
        lines.append(",".join([row, str(count)] + numbers))
    return "\n".join(lines) + "\n"


def plot_per_class_heatmap(frame: PerClassIoU, ax=None) -> Figure:
    """Rows x classes heat-map of IoU (%), each cell annotated; NaN (class absent) left blank."""
    if ax is None:
        fig = Figure(figsize=(1.2 + 0.9 * len(frame.class_names), 1.0 + 0.45 * len(frame.rows)),
                     layout="constrained")
        ax = fig.add_subplot()
    fig = ax.figure
    image = ax.imshow(frame.values, vmin=0, vmax=100, cmap="viridis", aspect="auto")
    for i in range(len(frame.rows)):
        for j in range(len(frame.class_names)):
            value = frame.values[i, j]
            if not np.isnan(value):
                ax.text(j, i, f"{value:.1f}", ha="center", va="center", fontsize=7,
                        color="white" if value < 50 else "black")
    ax.set_xticks(range(len(frame.class_names)), frame.class_names, rotation=45, ha="right")
    ax.set_yticks(range(len(frame.rows)), [f"{r} ({n})" for r, n in zip(frame.rows, frame.counts)])
    ax.set_title(f"{frame.split} IoU (%) per class, budget {frame.budget}", fontsize=9)
    fig.colorbar(image, ax=ax, shrink=0.8)
    return fig
