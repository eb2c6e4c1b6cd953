"""Report figures and the `ssseg report` command on fabricated runs."""

import argparse
import json

import numpy as np
import pytest

from ssseg.commands import report as report_command
from ssseg.report import (ReportError, load_results, per_class_iou_frame, plot_learning_curves, plot_miou_vs_budget,
                          results_table, write_report)
from ssseg.report.per_class import per_class_csv, per_class_markdown
from fabricated_runs import RUNS, write_run


@pytest.fixture
def sweep_root(tmp_path):
    root = tmp_path / "runs"
    for run in RUNS:
        workdir = write_run(root, *run)
        seed = run[2]
        records = [{"step": s, "kind": "train", "loss": 1.0 / (s + 1 + seed), "lr": 0.01} for s in (0, 10, 20)]
        records += [{"step": s, "kind": "eval", "split": "val", "miou": 0.1 * s / 20 + 0.01 * seed}
                    for s in (10, 20)]
        (workdir / "metrics.jsonl").write_text("\n".join(json.dumps(r) for r in records) + "\n{\"step\": 3")
    return root


def test_per_class_frame_means_over_seeds(sweep_root):
    frame = per_class_iou_frame(load_results(sweep_root), budget="1/8")
    assert frame.rows == ("supervised", "unimatch")
    assert frame.class_names == ("background", "crack")
    np.testing.assert_allclose(frame.values, [[99.0, 52.0], [99.0, 62.0]])
    np.testing.assert_allclose(frame.stds, [[0.0, 2.0], [0.0, np.std([60, 61, 65], ddof=1)]], atol=1e-9)
    assert frame.counts == (3, 3)
    markdown = per_class_markdown(frame)
    assert "| row (seeds) | background | crack |" in markdown
    assert "| supervised (3) | 99.0 ± 0.0 | 52.0 ± 2.0 |" in markdown
    assert per_class_csv(frame).splitlines()[:2] == [
        "row,seeds,background_mean,background_std,crack_mean,crack_std",
        "supervised,3,99.0000,0.0000,52.0000,2.0000"]
    one_seed = per_class_iou_frame(load_results(sweep_root), budget="1/16")
    assert "| unimatch (1) | 99.0 | 40.0 |" in per_class_markdown(one_seed)


def test_per_class_frame_needs_budget_when_several(sweep_root):
    with pytest.raises(ReportError, match=r"needs one budget; runs have \['1/16', '1/8', 'full'\]"):
        per_class_iou_frame(load_results(sweep_root))


def test_plots_draw_one_line_per_row_and_run(sweep_root):
    results = load_results(sweep_root)
    fig = plot_miou_vs_budget(results_table(results))
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["1/16", "1/8", "full"]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["supervised", "unimatch"]
    # Both regimes have a point at 1/8 (x=1): dodged apart, so neither hides the other.
    mean_x = [line.get_xdata() for line in ax.get_lines() if line.get_marker() == "o"]
    at_1_8 = sorted(x for xs in mean_x for x in xs if abs(x - 1) < 0.5)
    assert len(at_1_8) == 2 and at_1_8[1] - at_1_8[0] > 0.02
    curves = plot_learning_curves(results, metric="miou", kind="eval")
    lines = curves.axes[0].get_lines()
    assert len(lines) == len(RUNS)
    # Eval values are drawn in percent: seed 2, step 20 -> (0.1 + 0.02) * 100.
    assert max(line.get_ydata().max() for line in lines) == pytest.approx(12.0)
    assert [t.get_text() for t in curves.axes[0].get_legend().get_texts()] == ["supervised", "unimatch"]


def test_write_report_and_command(sweep_root, tmp_path, capsys):
    out = tmp_path / "out"
    written = write_report(sweep_root, out)
    assert sorted(p.name for p in written) == sorted([
        "miou.md", "miou.tex", "miou.csv", "miou_vs_budget.png",
        "defect_miou.md", "defect_miou.tex", "defect_miou.csv", "defect_miou_vs_budget.png",
        "learning_curves.png", "runs.md", "report.md",
        *(f"per_class_iou_{b}.{ext}" for b in ("1_16", "1_8", "full") for ext in ("png", "md", "csv"))])
    assert (out / "miou_vs_budget.png").read_bytes()[:4] == b"\x89PNG"
    assert "| unimatch | **40.0 (1)** | **62.0 ± 2.6 (3)** | – |" in (out / "report.md").read_text()
    parser = argparse.ArgumentParser()
    report_command.add_arguments(parser)
    args = parser.parse_args([str(sweep_root), "--out", str(tmp_path / "cmd"), "--metric", "defect_miou"])
    assert report_command.run(args) == 0
    printed = capsys.readouterr().out
    assert "**magnetic_tile: test defect mIoU (%)**" in printed
    assert "| supervised | – | 33.0 ± 3.0 (3) | **60.0 (1)** |" in printed
    assert not (tmp_path / "cmd" / "miou.md").exists()


def test_per_run_table_lists_every_run_in_row_budget_seed_order(sweep_root):
    from ssseg.report.per_run import per_run_markdown

    lines = per_run_markdown(load_results(sweep_root)).splitlines()
    assert lines[2] == "| regime | budget | seed | network | mIoU | defect mIoU | background | crack | wall s |"
    body = lines[4:]
    assert len(body) == len(RUNS)
    # supervised first (sweep order), budgets small to large, seeds ascending; no per-run network
    # or wall time recorded in the fabricated runs; a missing defect mIoU shows as –.
    assert body[0] == "| supervised | 1/8 | 0 | – | 50.0 | 30.0 | 99.0 | 50.0 | – |"
    assert body[4] == "| supervised | full | 1 | – | 72.0 | – | 99.0 | 72.0 | – |"
    assert body[5].startswith("| unimatch | 1/16 | 0 |")


def test_learning_curve_draws_the_reported_model_of_an_ema_run(tmp_path):
    workdir = write_run(tmp_path, "unimatch", "1/8", 0, 0.6, 0.4)
    result = json.loads((workdir / "result.json").read_text())
    result["val"]["model"] = "teacher"
    (workdir / "result.json").write_text(json.dumps(result))
    records = [{"step": 5, "kind": "eval", "split": "val", "model": "teacher", "miou": 0.30},
               {"step": 5, "kind": "eval", "split": "val", "model": "student", "miou": 0.20},
               {"step": 9, "kind": "eval", "split": "val", "model": "teacher", "miou": 0.40},
               {"step": 9, "kind": "eval", "split": "val", "model": "student", "miou": 0.25}]
    (workdir / "metrics.jsonl").write_text("\n".join(json.dumps(r) for r in records))
    (line,) = plot_learning_curves(load_results(tmp_path)).axes[0].get_lines()
    assert list(line.get_xdata()) == [5, 9]
    assert list(line.get_ydata()) == pytest.approx([30.0, 40.0])
    # A workdir path (no result.json needed) draws the first model logged.
    (line,) = plot_learning_curves([workdir]).axes[0].get_lines()
    assert list(line.get_ydata()) == pytest.approx([30.0, 40.0])
