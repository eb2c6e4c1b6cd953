"""The trainer end to end on the embedded data: outputs, resume, refusal, eval, predict."""

import json
import os

import numpy as np
import pytest
from conftest import smoke_train_config
from PIL import Image

from ssseg.cli import main as cli
from ssseg.errors import CheckpointError
from ssseg.train import loop


def _result(workdir):
    with open(os.path.join(workdir, "result.json")) as f:
        return json.load(f)


def test_result_json_follows_the_contract(smoke_run_dir):
    r = _result(smoke_run_dir)
    assert {"dataset", "method", "regime", "budget", "seed", "steps", "checkpoint", "val", "test", "wall_time_s", "git_commit", "machine", "config"} <= set(r)
    assert (r["dataset"], r["method"], r["regime"], r["checkpoint"], r["steps"]) == ("synthetic_defects", "supervised", "supervised", "last", 4)
    assert set(r["test"]["per_class_iou"]) == {"background", "scratch", "pit", "stain"}
    assert 0.0 <= r["test"]["miou"] <= 1.0 and r["test"]["defect_miou"] is not None
    kinds = [json.loads(line)["kind"] for line in open(os.path.join(smoke_run_dir, "metrics.jsonl"))]
    assert kinds.count("train") == 2 and "eval" in kinds
    assert os.path.isdir(os.path.join(smoke_run_dir, "tb"))


def test_interrupted_run_resumes_to_the_same_numbers(smoke_run_dir, synthetic_data_dir, tmp_path, monkeypatch):
    real_compile = loop.compile_train_step

    def compile_that_dies_at_step_3(ctx, mesh):
        step_fn = real_compile(ctx, mesh)

        def wrapped(state, batch, rng):
            if int(state.step) == 3:
                raise KeyboardInterrupt  # as Ctrl-C; checkpoint at step 2 is on disk
            return step_fn(state, batch, rng)

        return wrapped

    cfg = smoke_train_config(synthetic_data_dir)
    monkeypatch.setattr(loop, "compile_train_step", compile_that_dies_at_step_3)
    with pytest.raises(KeyboardInterrupt):
        loop.run_training(cfg, str(tmp_path), show_progress=False)
    assert not os.path.exists(tmp_path / "result.json")
    monkeypatch.setattr(loop, "compile_train_step", real_compile)
    resumed = loop.run_training(cfg, str(tmp_path), show_progress=False)
    assert resumed["test"] == _result(smoke_run_dir)["test"]


def test_workdir_of_another_config_is_refused_and_kept(smoke_run_dir, synthetic_data_dir):
    before = open(os.path.join(smoke_run_dir, "config.json")).read()
    cfg = smoke_train_config(synthetic_data_dir, "--config.optim.lr=0.5")
    with pytest.raises(CheckpointError, match=r"different config \(optim.lr: 0.002 there, 0.5 now\)"):
        loop.run_training(cfg, smoke_run_dir, show_progress=False)
    assert open(os.path.join(smoke_run_dir, "config.json")).read() == before


def test_a_workdir_being_trained_is_refused_and_untouched(tmp_path, synthetic_data_dir):
    import fcntl

    with open(tmp_path / ".train.lock", "a") as held:  # as another trainer would hold it
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(CheckpointError, match=r"is being trained by another process"):
            loop.run_training(smoke_train_config(synthetic_data_dir), str(tmp_path), show_progress=False)
    assert sorted(os.listdir(tmp_path)) == [".train.lock"]


def test_eval_command_reproduces_the_test_numbers(smoke_run_dir, capsys):
    assert cli(["eval", "--workdir", smoke_run_dir, "--split", "test"]) == 0
    with open(os.path.join(smoke_run_dir, "eval_test.json")) as f:
        again = json.load(f)["models"]["student"]
    assert again["miou"] == pytest.approx(_result(smoke_run_dir)["test"]["miou"], abs=1e-9)
    assert "per-class IoU" in capsys.readouterr().out


def test_predict_writes_mask_and_overlay_per_image(smoke_run_dir, tmp_path):
    images = tmp_path / "in"
    images.mkdir()
    Image.fromarray(np.full((40, 70), 120, np.uint8)).save(images / "a.png")
    Image.fromarray(np.full((50, 30, 3), 90, np.uint8)).save(images / "b.jpg")
    (images / "notes.txt").write_text("not an image")
    out = tmp_path / "out"
    assert cli(["predict", "--workdir", smoke_run_dir, "--images", str(images), "--out", str(out)]) == 0
    assert sorted(os.listdir(out)) == ["a_mask.png", "a_overlay.png", "b_mask.png", "b_overlay.png", "uncertainty"]
    mask = np.asarray(Image.open(out / "a_mask.png"))
    assert mask.shape == (40, 70) and mask.max() < 4
    assert np.asarray(Image.open(out / "b_overlay.png")).shape == (50, 30, 3)


def test_cli_errors_are_one_line(tmp_path, capsys):
    assert cli(["eval", "--workdir", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "config.json not found" in err


def test_a_stored_config_that_predates_a_key_still_resumes(tmp_path):
    from ssseg.config.loader import load_config, to_plain

    cfg = load_config("experiments/magnetic_tile.py:method=fixmatch")
    stored = to_plain(cfg)
    del stored["method"]["unlabeled_loss"]  # written before the key existed; its default is today's
    (tmp_path / "config.json").write_text(json.dumps(stored))
    loop._claim_workdir(cfg, str(tmp_path))
    stored["method"]["conf_thresh"] = 0.9
    (tmp_path / "config.json").write_text(json.dumps(stored))
    with pytest.raises(CheckpointError, match=r"different config \(method.conf_thresh: 0.9 there, 0.95 now\)"):
        loop._claim_workdir(cfg, str(tmp_path))
