"""Matplotlib figures: metric vs label budget per regime, and learning curves.

Figures are built with ``matplotlib.figure.Figure`` (no pyplot state), so they
render headless (Agg) and still display inline in notebooks.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Sequence

import numpy as np
from matplotlib.figure import Figure

from ssseg.report.aggregate import METRIC_LABELS, ResultsTable
from ssseg.report.load import ReportError, coordinate, load_metrics


def _axes(ax, figsize=(6.0, 4.0)):
    if ax is not None:
        return ax.figure, ax
    fig = Figure(figsize=figsize, layout="constrained")
    return fig, fig.add_subplot()


def plot_miou_vs_budget(table: ResultsTable, ax=None) -> Figure:
    """Mean ± sample std per row across budgets; each seed drawn as a faint dot.

    Rows are dodged sideways by a few hundredths of a budget step, so two regimes
    with the same mean at a budget stay visible side by side.
    """
    fig, ax = _axes(ax)
    x = np.arange(len(table.cols))
    dodge = 0.05 * (np.arange(len(table.rows)) - (len(table.rows) - 1) / 2)
    for k, row in enumerate(table.rows):
        present = [(x[i] + dodge[k], table.get(row, col)) for i, col in enumerate(table.cols) if table.get(row, col)]
        if not present:
            continue
        xs = [p for p, _ in present]
        means = [s.mean for _, s in present]
        stds = [0.0 if math.isnan(s.std) else s.std for _, s in present]
        bars = ax.errorbar(xs, means, yerr=stds, marker="o", capsize=3, label=row)
        seed_x = [p for p, s in present for _ in s.values]
        seed_y = [v for _, s in present for v in s.values]
        ax.scatter(seed_x, seed_y, s=10, alpha=0.35, color=bars[0].get_color())
    ax.set_xticks(x, table.cols)
    ax.set_xlabel(f"labels ({table.col_key})")
    ax.set_ylabel(f"{table.split} {METRIC_LABELS.get(table.metric, table.metric)} (%)")
    ax.set_title(f"{table.dataset} (mean ± std over seeds, checkpoint: {table.checkpoint})", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return fig


def _label_workdir_model(run, label_key: str) -> tuple[str, str, str | None]:
    """(legend label, workdir, reported eval model or None) of a result dict or a workdir path."""
    if isinstance(run, (str, Path)):
        return Path(run).name, str(run), None
    model = (run.get("val") or {}).get("model")
    try:
        return str(coordinate(run, label_key)), run["workdir"], model
    except ReportError:  # a run without that coordinate is still worth drawing
        return run.get("name", "run"), run["workdir"], model


def _curve(records: list[dict], metric: str, kind: str, split: str, model: str | None) -> list[tuple]:
    if kind == "eval":
        records = [r for r in records if r.get("kind") == "eval" and r.get("split", split) == split]
        # Runs with an EMA teacher log one eval record per model; draw the reported one
        # (result.json's), else the first model logged.
        models = [r.get("model") for r in records]
        model = model if model in models else (models[0] if models else None)
        records = [r for r in records if r.get("model") == model]
    else:
        records = [r for r in records if r.get("kind") == kind]
    return [(r["step"], r[metric]) for r in records if r.get(metric) is not None]


def plot_learning_curves(runs: Sequence, metric: str = "miou", kind: str = "eval",
                         split: str = "val", label_key: str = "regime", ax=None) -> Figure:
    """One line per run from its metrics.jsonl; runs sharing a label share a colour.

    ``runs`` are result dicts (from load_results) or workdir paths (runs still
    training have no result.json but do have metrics.jsonl). For
    ``kind="train"`` pass a train key such as ``metric="loss"``; eval values
    (mIoU etc.) are drawn in percent.
    """
    fig, ax = _axes(ax)
    colours: dict[str, str] = {}
    for run in runs:
        label, workdir, model = _label_workdir_model(run, label_key)
        points = _curve(load_metrics(workdir), metric, kind, split, model)
        if not points:
            continue
        steps, values = zip(*points)
        scale = 100.0 if kind == "eval" else 1.0
        colour = colours.get(label)
        (line,) = ax.plot(steps, np.asarray(values) * scale, color=colour, alpha=0.8, lw=1.2,
                          label=None if colour else label)
        colours.setdefault(label, line.get_color())
    name = METRIC_LABELS.get(metric, metric)
    ax.set_xlabel("step")
    ax.set_ylabel(f"{split} {name} (%)" if kind == "eval" else f"train {name}")
    ax.grid(alpha=0.3)
    if colours:
        ax.legend(fontsize=8)
    return fig
