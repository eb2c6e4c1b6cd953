"""Every saved run evaluates and predicts, whatever its method options; and a damaged
latest checkpoint is skipped (set aside, kept) on resume, eval and predict."""

import glob
import json
import os
import shutil

import numpy as np
import pytest
from PIL import Image

from ssseg.cli import main as cli
from ssseg.errors import CheckpointError
from ssseg.train import class_counts
from ssseg.train.setup import restore_run

from conftest import smoke_train_config


def _images(tmp_path):
    folder = tmp_path / "images"
    folder.mkdir()
    Image.fromarray(np.full((40, 36), 120, np.uint8)).save(folder / "a.png")
    return str(folder)


def _eval_and_predict(workdir, tmp_path):
    assert cli(["eval", "--workdir", workdir, "--split", "test"]) == 0
    assert os.path.exists(os.path.join(workdir, "eval_test.json"))
    out = tmp_path / "pred"
    assert cli(["predict", "--workdir", workdir, "--images", _images(tmp_path), "--out", str(out)]) == 0
    assert sorted(os.listdir(out)) == ["a_mask.png", "a_overlay.png"]


def test_a_distribution_aligned_run_evaluates_and_predicts(fixmatch_smoke_run_dir, tmp_path):
    """The reported defect: distribution_alignment needs the budget's class counts at build time."""
    with open(os.path.join(fixmatch_smoke_run_dir, class_counts.FILENAME)) as f:
        recorded = json.load(f)["class_counts"]
    assert len(recorded) == 4 and all(c >= 0 for c in recorded) and sum(recorded) > 0
    _eval_and_predict(fixmatch_smoke_run_dir, tmp_path)


def test_a_run_saved_without_the_counts_file_recomputes_them(fixmatch_smoke_run_dir, tmp_path):
    workdir = str(tmp_path / "old")
    shutil.copytree(fixmatch_smoke_run_dir, workdir)
    with open(os.path.join(workdir, class_counts.FILENAME)) as f:
        recorded = json.load(f)["class_counts"]
    os.remove(os.path.join(workdir, class_counts.FILENAME))
    assert list(restore_run(workdir).ctx.class_counts) == recorded
    # ... and where the budget's split files are gone too, one line names the missing file.
    with open(os.path.join(workdir, "config.json")) as f:
        cfg = json.load(f)
    cfg["data"]["splits_dir"] = str(tmp_path / "no_splits_here")
    with open(os.path.join(workdir, "config.json"), "w") as f:
        json.dump(cfg, f)
    with pytest.raises(CheckpointError, match=r"class_counts.json not found"):
        restore_run(workdir)


OPTIONS = {
    "teacher_ema": ("fixmatch", ["--config.method.teacher=ema"]),
    "class_adaptive": ("fixmatch", ["--config.method.class_adaptive=True"]),
    "copy_paste": ("fixmatch", ["--config.method.copy_paste_prob=0.5"]),
    "cps": ("cps", []),
    "mean_teacher": ("mean_teacher", []),
    "unimatch": ("unimatch", []),
    "pretrain_byol": ("pretrain_byol", []),
}


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(OPTIONS))
def test_each_method_option_evaluates_and_predicts(name, tmp_path, synthetic_data_dir, synthetic_splits_dir):
    from ssseg.config.loader import load_config
    from ssseg.train.loop import run_training

    method, extra = OPTIONS[name]
    cfg = load_config(f"experiments/synthetic_defects.py:method={method},budget=1/8,smoke",
                      [f"--config.data.data_dir={synthetic_data_dir}", f"--config.data.splits_dir={synthetic_splits_dir}",
                       "--config.train.steps=2", *extra])
    workdir = str(tmp_path / "run")
    run_training(cfg, workdir, show_progress=False)
    _eval_and_predict(workdir, tmp_path)
