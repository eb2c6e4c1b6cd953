"""The notebooks run headless (nbclient) with their parameter cell overridden, and are committed clean."""

import json
import os

import nbformat
import pytest
from nbclient import NotebookClient

from fabricated_runs import RUNS, write_run

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NOTEBOOKS = ("explore_results", "inspect_predictions")


def read(name):
    return nbformat.read(os.path.join(REPO_ROOT, "notebooks", f"{name}.ipynb"), as_version=4)


def execute(name, **params):
    """Run a notebook with a cell setting ``params`` right after its parameters cell; return it."""
    nb = read(name)
    index = next(i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", []))
    nb.cells.insert(index + 1, nbformat.v4.new_code_cell(
        "\n".join(f"{k} = {v!r}" for k, v in params.items())))
    NotebookClient(nb, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": REPO_ROOT}}).execute()
    return nb


def outputs(nb, kind):
    return [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if kind in o.get("data", {})]


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebooks_are_committed_without_outputs_and_with_parameters(name):
    nb = read(name)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(not c.outputs and c.execution_count is None for c in code)
    assert "parameters" in code[0].metadata["tags"]


def test_explore_results_on_fabricated_sweep(tmp_path):
    for run in RUNS:
        workdir = write_run(tmp_path, *run)
        records = [{"step": s, "kind": "train", "loss": 1.0 / s} for s in (1, 2)]
        records += [{"step": 2, "kind": "eval", "split": "val", "miou": run[3]}]
        if run[0] == "unimatch":
            records[1].update(mask_ratio=0.5, pseudo_counts=[3, 1], pseudo_correct=[3, 0],
                              pseudo_inter=[4, 0], pseudo_union=[5, 1])
        (workdir / "metrics.jsonl").write_text("\n".join(json.dumps(r) for r in records))
    nb = execute("explore_results", SWEEP_ROOT=str(tmp_path), METRIC="defect_miou")
    table, health = (o["data"]["text/markdown"] for o in outputs(nb, "text/markdown"))
    assert "| supervised | – | 33.0 ± 3.0 (3) | **60.0 (1)** |" in table
    assert "| unimatch | 1/8 | 3 | 50.0 | 75.00 · 100.0 | 25.00 · 0.0 |" in health
    # mIoU vs budget, learning curves, and one per-class heat-map per budget (3).
    assert len(outputs(nb, "image/png")) == 5


@pytest.mark.slow  # trains a 4-step FixMatch run (~1 min on 2 shared cores) before the notebook runs
def test_inspect_predictions_on_a_semi_supervised_smoke_run(fixmatch_smoke_run_dir):
    nb = execute("inspect_predictions", RUN_DIR=fixmatch_smoke_run_dir, MAX_IMAGES=6, NUM_WORST=3,
                 NUM_UNLABELED=2)
    text = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    assert "fixmatch at budget 1/8, seed 0" in text
    assert "6 images; worst by miou" in text
    # The worst-images grid and the pseudo-label grid.
    assert len(outputs(nb, "image/png")) == 2
    assert "threshold  kept   false bg  missed trusted" in text
