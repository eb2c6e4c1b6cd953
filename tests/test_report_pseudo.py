"""Pseudo-label health pooled from fabricated training diagnostics (exact values)."""

import json

import numpy as np
import pytest

from ssseg.report import load_results, write_report
from ssseg.report.pseudo_labels import pseudo_label_health, to_markdown
from fabricated_runs import write_run

# Windows at steps 10..60; only steps 50 and 60 (after 2/3 of training) count.
EARLY = {"mask_ratio": 0.0, "pseudo_counts": [0, 1000], "pseudo_correct": [0, 0],
         "pseudo_inter": [0, 0], "pseudo_union": [0, 1000]}
LATE = {
    0: [{"mask_ratio": 0.5, "pseudo_counts": [90, 10], "pseudo_correct": [90, 5],
         "pseudo_inter": [100, 4], "pseudo_union": [110, 12], "truth_counts": [100, 20], "taught_wrong": [5, 10]},
        {"mask_ratio": 0.7, "pseudo_counts": [80, 20], "pseudo_correct": [80, 15],
         "pseudo_inter": [100, 6], "pseudo_union": [100, 8], "truth_counts": [100, 20], "taught_wrong": [5, 6]}],
    1: [{"mask_ratio": 0.3, "pseudo_counts": [100, 0], "pseudo_correct": [99, 0],
         "pseudo_inter": [100, 0], "pseudo_union": [100, 0], "truth_counts": [100, 10], "taught_wrong": [1, 10]}] * 2,
}


@pytest.fixture
def semi_root(tmp_path):
    root = tmp_path / "runs"
    write_run(root, "supervised", "1/8", 0, 0.5, 0.3)
    for seed, late in LATE.items():
        workdir = write_run(root, "unimatch", "1/8", seed, 0.6, 0.4)
        records = [{"step": s, "kind": "train", "loss": 1.0, **EARLY} for s in (10, 20, 30, 40)]
        records += [{"step": s, "kind": "train", "loss": 1.0, **r} for s, r in zip((50, 60), late)]
        (workdir / "metrics.jsonl").write_text("\n".join(json.dumps(r) for r in records) + "\n")
    return root


def test_health_pools_late_windows_over_seeds(semi_root):
    (health,) = pseudo_label_health(load_results(semi_root))
    assert (health.row, health.budget, health.seeds, health.from_step) == ("unimatch", "1/8", 2, 40)
    assert health.mask_ratio == pytest.approx(0.45)
    np.testing.assert_allclose(health.share, [370 / 400, 30 / 400])
    np.testing.assert_allclose(health.precision, [368 / 370, 20 / 30])
    np.testing.assert_allclose(health.iou, [400 / 410, 10 / 20])
    np.testing.assert_allclose(health.taught_wrong, [12 / 400, 36 / 60])


def test_health_markdown_and_report_file(semi_root, tmp_path):
    text = to_markdown(pseudo_label_health(load_results(semi_root)), ["background", "crack"])
    assert "| unimatch | 1/8 | 2 | 45.0 | 92.50 · 99.5 | 7.50 · 66.7 |" in text
    assert "| unimatch | 1/8 | 2 | 97.6 | 50.0 |" in text
    assert "| unimatch | 1/8 | 2 | 3.0 | 60.0 |" in text.split("taught as another class")[1]
    write_report(semi_root, tmp_path / "out")
    assert (tmp_path / "out" / "pseudo_labels.md").read_text() == text


def test_no_diagnostics_no_health(tmp_path):
    write_run(tmp_path, "supervised", "1/8", 0, 0.5, 0.3)
    assert pseudo_label_health(load_results(tmp_path)) == []
