"""Render a ResultsTable as Markdown, LaTeX (booktabs) or long-format CSV."""

from __future__ import annotations

import csv
import io
import math

from ssseg.report.aggregate import CellStats, ResultsTable

MISSING = "–"


def format_cell(stats: CellStats | None, decimals: int = 1, pm: str = "±") -> str:
    """``62.3 ± 1.2 (3)``; a single seed has no spread: ``62.3 (1)``; no run: ``–``."""
    if stats is None:
        return MISSING
    if math.isnan(stats.std):
        return f"{stats.mean:.{decimals}f} ({stats.n})"
    return f"{stats.mean:.{decimals}f} {pm} {stats.std:.{decimals}f} ({stats.n})"


def to_markdown(table: ResultsTable, decimals: int = 1) -> str:
    header = [table.row_key, *table.cols]
    lines = [f"**{table.title}**", "",
             "| " + " | ".join(header) + " |",
             "|" + "|".join([":---"] + ["---:"] * len(table.cols)) + "|"]
    best = {c: table.best_rows(c, decimals) for c in table.cols}
    for row in table.rows:
        cells = []
        for col in table.cols:
            text = format_cell(table.get(row, col), decimals)
            cells.append(f"**{text}**" if row in best[col] else text)
        lines.append("| " + " | ".join([row, *cells]) + " |")
    lines += ["", table.note, ""]
    return "\n".join(lines)


_LATEX_SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#",
                  "_": r"\_", "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\^{}"}


def latex_escape(text: str) -> str:
    return "".join(_LATEX_SPECIAL.get(ch, ch) for ch in text)


def to_latex(table: ResultsTable, decimals: int = 1) -> str:
    best = {c: table.best_rows(c, decimals) for c in table.cols}
    lines = [r"\begin{table}[t]", r"\centering",
             r"\begin{tabular}{l" + "r" * len(table.cols) + "}", r"\toprule",
             " & ".join(latex_escape(h) for h in [table.row_key, *table.cols]) + r" \\", r"\midrule"]
    for row in table.rows:
        cells = []
        for col in table.cols:
            stats = table.get(row, col)
            text = "--" if stats is None else format_cell(stats, decimals, pm=r"$\pm$")
            cells.append(rf"\textbf{{{text}}}" if row in best[col] else text)
        lines.append(" & ".join([latex_escape(row), *cells]) + r" \\")
    caption = latex_escape(f"{table.title}. {table.note}").replace("–", "--").replace("±", r"$\pm$")
    lines += [r"\bottomrule", r"\end{tabular}", rf"\caption{{{caption}}}", r"\end{table}", ""]
    return "\n".join(lines)


def to_csv(table: ResultsTable) -> str:
    """One line per (row, column) with a run: unrounded percent values for re-analysis."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([table.row_key, table.col_key, "metric", "split", "checkpoint",
                     "n", "mean", "std_ddof1", "values"])
    for row in table.rows:
        for col in table.cols:
            stats = table.get(row, col)
            if stats is None:
                continue
            std = "" if math.isnan(stats.std) else f"{stats.std:.4f}"
            writer.writerow([row, col, table.metric, table.split, table.checkpoint, stats.n,
                             f"{stats.mean:.4f}", std, ";".join(f"{v:.4f}" for v in stats.values)])
    return out.getvalue()
