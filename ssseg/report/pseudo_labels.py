"""Pseudo-label health of semi-supervised runs, pooled over seeds, from their training diagnostics.

The pseudo-labelling methods log window means of `mask_ratio`,
`pseudo_counts[c]` (confident pseudo-labels of class c), `pseudo_correct[c]`
(those that match the hidden truth) and `pseudo_inter[c]`/`pseudo_union[c]`
(weak-view argmax against the hidden truth) to metrics.jsonl
(ssseg/methods/_pseudo.py). Windows have equal length, so these counts add up:
over the last part of training, a class's precision is Σcorrect/Σcounts and
its pseudo-label IoU Σinter/Σunion. These tell why a method wins or loses —
e.g. a mask that holds background only — without ever training on the truth.
"""

from __future__ import annotations

import dataclasses
from typing import Sequence

import numpy as np

from ssseg.report.aggregate import ordered_rows, resolve_row_key, table_runs
from ssseg.report.load import budget_sort_key, coordinate, load_metrics

COUNT_KEYS = ("pseudo_counts", "pseudo_correct", "pseudo_inter", "pseudo_union", "truth_counts", "taught_wrong")


@dataclasses.dataclass(frozen=True)
class PseudoLabelHealth:
    """One (row, budget): pooled over `seeds` runs and the train windows from `from_step` on."""

    row: str
    budget: str
    seeds: int
    from_step: int
    mask_ratio: float
    share: np.ndarray  # [K] fraction of confident pseudo-labels per class
    precision: np.ndarray  # [K] NaN where a class got no confident pseudo-label
    iou: np.ndarray  # [K] weak-view argmax vs hidden truth; NaN where the class never occurs
    # [K] share of each true class's unlabeled pixels confidently taught as another class
    # (NaN for runs that predate the diagnostic, or where the class never occurs)
    taught_wrong: np.ndarray | None = None


def _pooled(records: Sequence[dict], last_fraction: float) -> tuple[int, float, dict] | None:
    train = [r for r in records if r.get("kind") == "train" and "pseudo_counts" in r]
    if not train:
        return None
    last_step = max(r["step"] for r in train)
    from_step = int(round(last_step * (1.0 - last_fraction)))
    window = [r for r in train if r["step"] > from_step] or train[-1:]
    ratios = [r["mask_ratio"] for r in window if r.get("mask_ratio") is not None]
    sums = {}
    for key in COUNT_KEYS:
        rows = [r[key] for r in window if r.get(key) is not None]
        if rows:
            sums[key] = np.sum(np.asarray(rows, np.float64), axis=0)
    return from_step, float(np.mean(ratios)) if ratios else float("nan"), sums


def _divide(num, den):
    num, den = np.asarray(num, np.float64), np.asarray(den, np.float64)
    return np.where(den > 0, num / np.maximum(den, 1e-12), np.nan)


def pseudo_label_health(results: Sequence[dict], last_fraction: float = 1 / 3,
                        row_key: str = "auto") -> list[PseudoLabelHealth]:
    """Health per (row, budget) of the runs that logged pseudo-label diagnostics, pooled over seeds."""
    runs = table_runs(results)
    if not runs:
        return []
    row_key = resolve_row_key(runs, row_key)
    pooled = {}
    for run in runs:
        summary = _pooled(load_metrics(run["workdir"]), last_fraction)
        if summary is not None:
            pooled[run["name"]] = (run, summary)
    health = []
    budgets = sorted({str(coordinate(r, "budget")) for r, _ in pooled.values()}, key=budget_sort_key)
    for row in ordered_rows([r for r, _ in pooled.values()], row_key):
        for budget in budgets:
            members = [s for r, s in pooled.values()
                       if str(coordinate(r, row_key)) == row and str(coordinate(r, "budget")) == budget]
            if not members:
                continue
            sums = {k: sum(s[2][k] for s in members if k in s[2]) for k in COUNT_KEYS
                    if any(k in s[2] for s in members)}
            counts = sums.get("pseudo_counts", np.zeros(0))
            unknown = np.full(counts.shape, np.nan)  # no hidden truth logged
            health.append(PseudoLabelHealth(
                row=row, budget=budget, seeds=len(members), from_step=min(s[0] for s in members),
                mask_ratio=float(np.nanmean([s[1] for s in members])),
                share=_divide(counts, counts.sum()),
                precision=_divide(sums["pseudo_correct"], counts) if "pseudo_correct" in sums else unknown,
                iou=_divide(sums["pseudo_inter"], sums["pseudo_union"]) if "pseudo_inter" in sums else unknown,
                taught_wrong=_divide(sums["taught_wrong"], sums["truth_counts"])
                if "taught_wrong" in sums and "truth_counts" in sums else unknown))
    return health


def _pct(value: float, decimals: int = 1) -> str:
    return "–" if not np.isfinite(value) else f"{100.0 * value:.{decimals}f}"


def to_markdown(health: Sequence[PseudoLabelHealth], class_names: Sequence[str]) -> str:
    """Two tables: confident pseudo-labels (share · precision per class) and weak-view IoU per class."""
    if not health:
        return ""
    names = list(class_names) or [str(i) for i in range(len(health[0].share))]
    head = "| regime | budget | seeds | mask ratio | " + " | ".join(names) + " |"
    rule = "|" + "---|" * (4 + len(names))
    lines = ["**Confident pseudo-labels: share of all (%) · precision against the hidden truth (%)**",
             f"(train windows after step {min(h.from_step for h in health)}, pooled over seeds)", "",
             head, rule]
    for h in health:
        # Two decimals for the share: a rare class's 0.05% vs 0.00% is the story.
        cells = [f"{_pct(s, 2)} · {_pct(p)}" for s, p in zip(h.share, h.precision)]
        lines.append(f"| {h.row} | {h.budget} | {h.seeds} | {_pct(h.mask_ratio)} | " + " | ".join(cells) + " |")
    lines += ["", "**Weak-view prediction on unlabeled crops: IoU against the hidden truth (%)**", "",
              "| regime | budget | seeds | " + " | ".join(names) + " |", "|" + "---|" * (3 + len(names))]
    for h in health:
        lines.append(f"| {h.row} | {h.budget} | {h.seeds} | " + " | ".join(_pct(v) for v in h.iou) + " |")
    taught = [h for h in health if h.taught_wrong is not None and np.isfinite(h.taught_wrong).any()]
    if taught:
        lines += ["", "**Each class's unlabeled pixels confidently taught as another class (%)**",
                  "(a class the labeller has not learned is taught as background: self-training then unlearns it)",
                  "", "| regime | budget | seeds | " + " | ".join(names) + " |", "|" + "---|" * (3 + len(names))]
        for h in taught:
            lines.append(f"| {h.row} | {h.budget} | {h.seeds} | " + " | ".join(_pct(v) for v in h.taught_wrong) + " |")
    return "\n".join(lines) + "\n"
