"""Labeled-images-vs-test-mIoU curves of an active run folder: table (CSV, Markdown) and plot.

Reads the `seed<k>/<strategy>/round<r>.json` records that `run_active` writes, so a
summary can be re-made at any time, also of a run still in progress (rounds missing for
some seeds are reported with the seeds they have).
"""

from __future__ import annotations

import collections
import csv
import glob
import json
import os

import numpy as np

METRICS = ("miou", "defect_miou")


def collect(out: str) -> list[dict]:
    records = []
    for path in sorted(glob.glob(os.path.join(out, "seed*", "*", "round*.json"))):
        with open(path) as f:
            records.append(json.load(f))
    return sorted(records, key=lambda r: (r["strategy"], r["round"], r["seed"]))


def curve_rows(records: list[dict]) -> list[dict]:
    """One row per (strategy, round): labeled count(s), seeds, mean and std of each test metric."""
    groups = collections.defaultdict(list)
    for r in records:
        groups[(r["strategy"], r["round"])].append(r)
    rows = []
    for (strategy, round_index), group in sorted(groups.items()):
        row = {"strategy": strategy, "round": round_index,
               "num_labeled": int(round(np.mean([g["num_labeled"] for g in group]))),
               "seeds": [g["seed"] for g in group]}
        for metric in METRICS:
            values = np.asarray([g["test"][metric] for g in group if g["test"].get(metric) is not None], np.float64)
            row[f"{metric}_mean"] = float(values.mean()) if values.size else None
            row[f"{metric}_std"] = float(values.std()) if values.size > 1 else None
        rows.append(row)
    return rows


def _fmt(mean, std) -> str:
    if mean is None:
        return "—"
    return f"{100 * mean:.1f}" + ("" if std is None else f" ± {100 * std:.1f}")


def markdown_table(rows: list[dict]) -> str:
    lines = ["| strategy | round | labeled | seeds | test mIoU | test defect mIoU |", "|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['strategy']} | {r['round']} | {r['num_labeled']} | {','.join(map(str, r['seeds']))} | "
                     f"{_fmt(r['miou_mean'], r['miou_std'])} | {_fmt(r['defect_miou_mean'], r['defect_miou_std'])} |")
    return "\n".join(lines) + "\n"


def plot_curves(rows: list[dict], path: str, metric: str = "miou") -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    for strategy in sorted({r["strategy"] for r in rows}):
        mine = [r for r in rows if r["strategy"] == strategy and r[f"{metric}_mean"] is not None]
        x = [r["num_labeled"] for r in mine]
        y = np.asarray([100 * r[f"{metric}_mean"] for r in mine])
        err = np.asarray([100 * (r[f"{metric}_std"] or 0.0) for r in mine])
        ax.plot(x, y, marker="o", label=strategy)
        ax.fill_between(x, y - err, y + err, alpha=0.15)
    ax.set_xlabel("labeled images")
    ax.set_ylabel(f"test {metric} (%)")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def write_summary(out: str, dest: str | None = None) -> list[dict]:
    """curves.csv, curves.md and curves.png (+ per-seed records in rounds.csv) into `dest` (default `out`)."""
    dest = dest or out
    os.makedirs(dest, exist_ok=True)
    records = collect(out)
    rows = curve_rows(records)
    with open(os.path.join(dest, "curves.md"), "w") as f:
        f.write(markdown_table(rows))
    fields = ["strategy", "round", "num_labeled", "seeds", *(f"{m}_{s}" for m in METRICS for s in ("mean", "std"))]
    with open(os.path.join(dest, "curves.csv"), "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        for r in rows:
            writer.writerow({**r, "seeds": " ".join(map(str, r["seeds"]))})
    with open(os.path.join(dest, "rounds.csv"), "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["strategy", "seed", "round", "num_labeled", "test_miou", "test_defect_miou", "command"])
        for r in records:
            writer.writerow([r["strategy"], r["seed"], r["round"], r["num_labeled"], r["test"]["miou"],
                             r["test"].get("defect_miou"), r["command"]])
    if rows:
        plot_curves(rows, os.path.join(dest, "curves.png"))
    return rows
