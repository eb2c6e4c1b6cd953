"""`ssseg eval --corruptions`: a run's mIoU under each corruption and severity, as table and plot.

Every cell is the ordinary evaluation (the run's compiled Evaluator, every
model the method reports) on corrupted images (ssseg.eval.corruptions), so a
cell's number is comparable with the clean evaluation's. Written next to the
run: ``corruptions_<split>.csv`` (every model), ``.md`` and ``.png`` (the
reported model, the first).
"""

from __future__ import annotations

import copy
import csv
import os
from typing import Sequence

from ssseg.errors import ConfigError
from ssseg.eval.corruptions import CORRUPTIONS, SEVERITIES, CorruptedSources


def parse_list(text: str, allowed: Sequence, flag: str, cast=str) -> list:
    """`"a,b"` -> [a, b], each checked against `allowed`; "all" or "" -> all of them."""
    if text in ("", "all"):
        return list(allowed)
    out = []
    for item in (s.strip() for s in text.split(",") if s.strip()):
        try:
            value = cast(item)
        except ValueError:
            value = None
        if value not in allowed:
            raise ConfigError(f"{flag} item {item!r}: expected one of {', '.join(map(str, allowed))}")
        out.append(value)
    return out


def evaluate_shift(evaluator, state, split: str, clean_records: Sequence[dict],
                   corruptions: Sequence[str] = CORRUPTIONS, severities: Sequence[int] = SEVERITIES) -> list[dict]:
    """Rows {model, corruption, severity, miou, defect_miou}; severity 0 = clean (from `clean_records`)."""
    rows = [_row(r["model"], "clean", 0, r) for r in clean_records]
    for name in corruptions:
        for severity in severities:
            shifted = copy.copy(evaluator)  # same compiled functions, other images
            shifted.sources = CorruptedSources(evaluator.sources, name, severity)
            rows += [_row(r["model"], name, severity, r) for r in shifted.run(state, split)]
    return rows


def _row(model: str, corruption: str, severity: int, record: dict) -> dict:
    return {"model": model, "corruption": corruption, "severity": severity,
            "miou": record["miou"], "defect_miou": record.get("defect_miou")}


def markdown_table(rows: Sequence[dict], model: str) -> str:
    """mIoU (%) of one model: a row per corruption, a column per severity, the clean score beside."""
    rows = [r for r in rows if r["model"] == model]
    clean = next(r["miou"] for r in rows if r["corruption"] == "clean")
    severities = sorted({r["severity"] for r in rows if r["severity"]})
    lines = [f"mIoU (%) of {model} under corruption; clean: {100 * clean:.1f}", "",
             "| corruption | " + " | ".join(f"severity {s}" for s in severities) + " | mean |",
             "|---" * (len(severities) + 2) + "|"]
    for name in dict.fromkeys(r["corruption"] for r in rows if r["severity"]):
        values = [next(r["miou"] for r in rows if r["corruption"] == name and r["severity"] == s) for s in severities]
        cells = " | ".join(f"{100 * v:.1f}" for v in values)
        lines.append(f"| {name} | {cells} | {100 * sum(values) / len(values):.1f} |")
    return "\n".join(lines) + "\n"


def plot(rows: Sequence[dict], model: str, path: str) -> None:
    from matplotlib.figure import Figure

    rows = [r for r in rows if r["model"] == model]
    fig = Figure(figsize=(6, 4))
    ax = fig.add_subplot()
    clean = next(r["miou"] for r in rows if r["corruption"] == "clean")
    ax.axhline(100 * clean, color="black", linestyle="--", label="clean")
    for name in dict.fromkeys(r["corruption"] for r in rows if r["severity"]):
        points = sorted((r["severity"], 100 * r["miou"]) for r in rows if r["corruption"] == name)
        ax.plot(*zip(*points), marker="o", label=name)
    ax.set_xticks(sorted({r["severity"] for r in rows if r["severity"]}))
    ax.set_xlabel("severity")
    ax.set_ylabel("mIoU (%)")
    ax.set_title(f"{model}: mIoU under corruption")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def write_shift(rows: Sequence[dict], workdir: str, split: str) -> list[str]:
    """corruptions_<split>.csv, .md, .png in the run's workdir; returns their paths."""
    stem = os.path.join(workdir, f"corruptions_{split}")
    with open(stem + ".csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["model", "corruption", "severity", "miou", "defect_miou"])
        writer.writeheader()
        writer.writerows(rows)
    model = rows[0]["model"]
    with open(stem + ".md", "w") as f:
        f.write(markdown_table(rows, model))
    plot(rows, model, stem + ".png")
    return [stem + ".csv", stem + ".md", stem + ".png"]
