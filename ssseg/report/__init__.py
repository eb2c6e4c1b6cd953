"""Turn finished runs (result.json, metrics.jsonl) into tables and figures.

Modules: ``load`` (read runs), ``compare`` (refuse incomparable configs),
``aggregate`` (mean ± sample std over seeds), ``render`` (Markdown/LaTeX/CSV),
``plots`` and ``per_class`` (figures), ``write`` (everything into a folder).
"""

from ssseg.report.aggregate import CellStats, ResultsTable, results_table
from ssseg.report.compare import check_comparable
from ssseg.report.load import ReportError, budget_sort_key, load_metrics, load_results, select_model
from ssseg.report.per_class import PerClassIoU, per_class_iou_frame, plot_per_class_heatmap
from ssseg.report.plots import plot_learning_curves, plot_miou_vs_budget
from ssseg.report.render import format_cell, to_csv, to_latex, to_markdown
from ssseg.report.write import write_report

__all__ = [
    "CellStats", "PerClassIoU", "ReportError", "ResultsTable", "budget_sort_key",
    "check_comparable", "format_cell", "load_metrics", "load_results", "per_class_iou_frame",
    "plot_learning_curves", "plot_miou_vs_budget", "plot_per_class_heatmap", "results_table",
    "select_model", "to_csv", "to_latex", "to_markdown", "write_report",
]
