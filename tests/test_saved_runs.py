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
    assert cli(["eval", "--workdir", workdir, "--split", "test", "--no-review"]) == 0
    assert os.path.exists(os.path.join(workdir, "eval_test.json"))
    out = tmp_path / "pred"
    assert cli(["predict", "--workdir", workdir, "--images", _images(tmp_path), "--out", str(out)]) == 0
    assert sorted(os.listdir(out)) == ["a_mask.png", "a_overlay.png", "uncertainty"]


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


def _damage(workdir, step):
    """Truncate the step's largest array file, as a failed copy or a full disk leaves it."""
    files = glob.glob(os.path.join(workdir, "checkpoints", str(step), "default", "**", "*"), recursive=True)
    largest = max((f for f in files if os.path.isfile(f)), key=os.path.getsize)
    with open(largest, "r+b") as f:
        f.truncate(1000)
    return largest


@pytest.fixture
def damaged_copy(smoke_run_dir, tmp_path):
    workdir = str(tmp_path / "run")
    shutil.copytree(smoke_run_dir, workdir)
    assert sorted(os.listdir(os.path.join(workdir, "checkpoints"))) == ["2", "4"]
    _damage(workdir, 4)
    return workdir


def test_eval_skips_a_damaged_latest_checkpoint_with_one_line(damaged_copy, capfd):
    capfd.readouterr()
    assert int(restore_run(damaged_copy).state.step) == 2
    err = capfd.readouterr().err
    warnings = [line for line in err.splitlines() if "damaged" in line]
    assert len(warnings) == 1 and warnings[0].startswith(
        f"warning: skipped damaged checkpoint {damaged_copy}/checkpoints/4; using step 2"), err
    assert "bytes, saved" in warnings[0] and "Traceback" not in err
    assert os.path.isdir(os.path.join(damaged_copy, "checkpoints", "4"))  # read-only: left where it is


def test_resume_sets_a_damaged_checkpoint_aside_and_goes_on(damaged_copy, synthetic_data_dir, capfd):
    from ssseg.train.loop import run_training

    run_training(smoke_train_config(synthetic_data_dir), damaged_copy, show_progress=False)
    out, err = capfd.readouterr()
    assert "resumed from" in out and "at step 2" in out
    assert "Traceback" not in err
    aside = os.path.join(damaged_copy, "damaged_checkpoints", "4")
    assert os.path.isdir(aside)  # kept, not deleted
    assert sorted(os.listdir(os.path.join(damaged_copy, "checkpoints"))) == ["2", "4"]
    assert int(restore_run(damaged_copy).state.step) == 4  # the step saved anew is intact


def test_no_intact_checkpoint_stops_with_one_named_line(damaged_copy, capsys):
    _damage(damaged_copy, 2)
    with pytest.raises(CheckpointError, match=r"no intact checkpoint in .*checkpoints \(steps 4, 2\)"):
        restore_run(damaged_copy)
    capsys.readouterr()
    assert cli(["eval", "--workdir", damaged_copy, "--split", "test"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("ssseg eval: error: no intact checkpoint in "), err


def test_an_error_after_a_progress_bar_starts_on_its_own_line(monkeypatch, capsys):
    """A TFDS build bar leaves the cursor at the end of its line on a terminal."""
    monkeypatch.setattr("sys.stderr.isatty", lambda: True, raising=False)
    assert cli(["eval", "--workdir", "/nonexistent/run"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("\nssseg eval: error: "), repr(err)
