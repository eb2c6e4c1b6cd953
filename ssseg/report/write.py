"""Write a sweep root's report: tables (.md/.tex/.csv) and figures (.png) into one folder."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from matplotlib.figure import Figure

from ssseg.report.aggregate import METRICS, results_table, table_runs
from ssseg.report.load import ReportError, budget_sort_key, coordinate, load_many, select_model
from ssseg.report.per_class import per_class_csv, per_class_iou_frame, per_class_markdown, plot_per_class_heatmap
from ssseg.report.per_run import per_run_markdown
from ssseg.report.plots import plot_learning_curves, plot_miou_vs_budget
from ssseg.report import pseudo_labels
from ssseg.report.render import to_csv, to_latex, to_markdown


def available_metrics(results: Sequence[dict], split: str = "test") -> tuple[str, ...]:
    """``miou``, plus ``defect_miou`` when some run has it (datasets with defect classes)."""
    runs = table_runs(results)
    has_defect = any((r.get(split) or {}).get("defect_miou") is not None for r in runs)
    return METRICS if has_defect else ("miou",)


def _budget_slug(budget: str) -> str:
    return str(budget).replace("/", "_")


def write_report(root: str | Path | Sequence[str | Path], out_dir: str | Path | None = None,
                 metrics: Sequence[str] | None = None, split: str = "test",
                 row_key: str = "auto", model: str = "reported") -> list[Path]:
    """Write ``<metric>.{md,tex,csv}``, ``<metric>_vs_budget.png``, ``learning_curves.png``,
    ``per_class_iou_<budget>.{png,md,csv}``, ``runs.md`` (one line per run), ``pseudo_labels.md``
    (runs with pseudo-label diagnostics) and a ``report.md`` index; return the paths
    written. ``root``: a sweep root or ledger, or several (a cell in two counts once, see
    :func:`ssseg.report.load.load_many`). ``model``: see :func:`ssseg.report.load.select_model`."""
    roots = [root] if isinstance(root, (str, Path)) else list(root)
    results = load_many(roots)
    root = ", ".join(str(r) for r in roots)
    runs = select_model(table_runs(results), model)
    if not runs:
        raise ReportError(f"no finished runs (result.json) under {str(root)!r}")
    out = Path(out_dir) if out_dir else Path(roots[0]) / "report"
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []

    def save_text(name: str, text: str) -> None:
        (out / name).write_text(text)
        written.append(out / name)

    def save_figure(name: str, fig: Figure) -> None:
        fig.savefig(out / name, dpi=120)
        written.append(out / name)

    index = [f"# Report for {root}", ""]
    for metric in metrics or available_metrics(runs, split):
        table = results_table(runs, metric=metric, split=split, row_key=row_key)
        markdown = to_markdown(table)
        save_text(f"{metric}.md", markdown)
        save_text(f"{metric}.tex", to_latex(table))
        save_text(f"{metric}.csv", to_csv(table))
        save_figure(f"{metric}_vs_budget.png", plot_miou_vs_budget(table))
        index += [markdown, f"![{metric} vs budget]({metric}_vs_budget.png)", ""]

    save_text("runs.md", per_run_markdown(runs, split=split, row_key=row_key))
    index += ["Every run's numbers: [runs.md](runs.md)", ""]

    curves = Figure(figsize=(11, 4), layout="constrained")
    loss_ax, eval_ax = curves.subplots(1, 2)
    plot_learning_curves(runs, metric="loss", kind="train", ax=loss_ax)
    plot_learning_curves(runs, metric="miou", kind="eval", split="val", ax=eval_ax)
    save_figure("learning_curves.png", curves)
    index += ["![learning curves](learning_curves.png)", ""]

    for budget in sorted({str(coordinate(r, "budget")) for r in runs}, key=budget_sort_key):
        frame = per_class_iou_frame(runs, split=split, budget=budget, row_key=row_key)
        if frame.class_names:
            name = f"per_class_iou_{_budget_slug(budget)}"
            save_figure(f"{name}.png", plot_per_class_heatmap(frame))
            markdown = per_class_markdown(frame)
            save_text(f"{name}.md", markdown)
            save_text(f"{name}.csv", per_class_csv(frame))
            index += [markdown, f"![per-class IoU at {budget}]({name}.png)", ""]

    health = pseudo_labels.pseudo_label_health(runs, row_key=row_key)
    if health:
        class_names = list((runs[0].get(split) or {}).get("per_class_iou", {}))
        save_text("pseudo_labels.md", pseudo_labels.to_markdown(health, class_names))
        index += ["Pseudo-label health: [pseudo_labels.md](pseudo_labels.md)", ""]
    save_text("report.md", "\n".join(index))
    return written
