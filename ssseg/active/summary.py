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
LABELS = {"miou": "mIoU", "defect_miou": "defect mIoU (mean over defect classes)"}


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
            row[f"{metric}_std"] = float(values.std(ddof=1)) if values.size > 1 else None
        rows.append(row)
    return rows


def paired_gains(records: list[dict], control: str = "random") -> list[dict]:
    """Per (strategy, round > 0): each seed's test metric minus the control's on the same seed and
    round. The seed spread at a budget is large; the paired difference is what compares strategies."""
    by_key = {(r["strategy"], r["round"], r["seed"]): r for r in records}
    groups = collections.defaultdict(list)
    for (strategy, round_index, seed), r in sorted(by_key.items()):
        base = by_key.get((control, round_index, seed))
        if strategy != control and round_index > 0 and base is not None:
            groups[(strategy, round_index)].append((seed, r, base))
    rows = []
    for (strategy, round_index), group in sorted(groups.items()):
        row = {"strategy": strategy, "round": round_index, "seeds": [seed for seed, _, _ in group]}
        for metric in METRICS:
            row[metric] = [float(r["test"][metric] - base["test"][metric]) for _, r, base in group]
        rows.append(row)
    return rows


def gains_table(gains: list[dict], control: str = "random") -> str:
    lines = [f"| strategy − {control} | round | seeds | Δ test mIoU per seed | mean | Δ defect mIoU per seed | mean |",
             "|---|---|---|---|---|---|---|"]
    for g in gains:
        cells = []
        for metric in METRICS:
            cells += [" / ".join(f"{100 * d:+.1f}" for d in g[metric]), f"{100 * np.mean(g[metric]):+.1f}"]
        lines.append(f"| {g['strategy']} | {g['round']} | {','.join(map(str, g['seeds']))} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _fmt(mean, std) -> str:
    if mean is None:
        return "—"
    return f"{100 * mean:.1f}" + ("" if std is None else f" ± {100 * std:.1f}")


def markdown_table(rows: list[dict]) -> str:
    lines = ["| strategy | round | labeled | seeds | test mIoU (mean ± sample std) | test defect mIoU |", "|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['strategy']} | {r['round']} | {r['num_labeled']} | {','.join(map(str, r['seeds']))} | "
                     f"{_fmt(r['miou_mean'], r['miou_std'])} | {_fmt(r['defect_miou_mean'], r['defect_miou_std'])} |")
    return "\n".join(lines) + "\n"


def plot_curves(rows: list[dict], path: str) -> None:
    """Test mIoU and defect mIoU against labeled images, one line per strategy (band: ± std over seeds)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(METRICS), figsize=(10, 3.8))
    for ax, metric in zip(axes, METRICS):
        for strategy in sorted({r["strategy"] for r in rows}):
            mine = [r for r in rows if r["strategy"] == strategy and r[f"{metric}_mean"] is not None]
            x = [r["num_labeled"] for r in mine]
            y = np.asarray([100 * r[f"{metric}_mean"] for r in mine])
            err = np.asarray([100 * (r[f"{metric}_std"] or 0.0) for r in mine])
            ax.plot(x, y, marker="o", label=strategy)
            ax.fill_between(x, y - err, y + err, alpha=0.15)
        ax.set_xlabel("labeled images")
        ax.set_ylabel(f"test {LABELS[metric]} (%)")
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def write_summary(out: str, dest: str | None = None) -> list[dict]:
    """curves.csv, curves.md (with the paired gains over random) and curves.png (+ per-seed records in rounds.csv) into `dest` (default `out`)."""
    dest = dest or out
    os.makedirs(dest, exist_ok=True)
    records = collect(out)
    rows = curve_rows(records)
    with open(os.path.join(dest, "curves.md"), "w") as f:
        f.write(markdown_table(rows))
        gains = paired_gains(records)
        if gains:
            f.write("\n" + gains_table(gains))
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
