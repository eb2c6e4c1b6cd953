"""One line per run: the seed-level numbers behind every mean ± std cell, and each run's cost."""

from __future__ import annotations

from typing import Sequence

from ssseg.report.aggregate import ordered_rows, resolve_row_key
from ssseg.report.load import budget_sort_key, coordinate


def per_run_markdown(runs: Sequence[dict], split: str = "test", row_key: str = "auto") -> str:
    """Markdown table: row, budget, seed, network, mIoU, defect mIoU, per-class IoU (%), wall time (s).

    Runs are ordered by table row, then budget, then seed; the network is the
    one whose scores the run carries (see ``select_model``).
    """
    row_key = resolve_row_key(runs, row_key)
    rows = ordered_rows(runs, row_key)
    classes: list[str] = []
    for r in runs:
        classes += [c for c in (r.get(split) or {}).get("per_class_iou", {}) if c not in classes]

    def order(r):
        return (rows.index(str(coordinate(r, row_key))), budget_sort_key(str(coordinate(r, "budget"))),
                int(coordinate(r, "seed")))

    def pct(value):
        return "–" if value is None else f"{100.0 * float(value):.1f}"

    header = [row_key, "budget", "seed", "network", "mIoU", "defect mIoU", *classes, "wall s"]
    lines = [f"**{split} split, per run (%)**", "", "| " + " | ".join(header) + " |",
             "|" + "---|" * len(header)]
    for r in sorted(runs, key=order):
        scores = r.get(split) or {}
        per_class = scores.get("per_class_iou", {})
        wall = r.get("wall_time_s")
        cells = [str(coordinate(r, row_key)), str(coordinate(r, "budget")), str(coordinate(r, "seed")),
                 str(scores.get("model", "–")), pct(scores.get("miou")), pct(scores.get("defect_miou")),
                 *(pct(per_class.get(c)) for c in classes), "–" if wall is None else f"{float(wall):.0f}"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
