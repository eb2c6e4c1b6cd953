"""On a tiny trained run: predict writes uncertainty maps, the review queue and page; eval fits a
temperature on val, stores it, and reports ECE and the review AUC; predict then reuses the temperature."""

import csv
import json
import os
import shutil

import numpy as np
from PIL import Image

from ssseg.cli import main as cli
from ssseg.review.calibration import TEMPERATURE_FILE


def _images(tmp_path):
    folder = tmp_path / "images"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for name, shape in (("a.png", (40, 36)), ("b.png", (32, 32)), ("c.png", (24, 48))):
        Image.fromarray(rng.integers(0, 255, shape, dtype=np.uint8)).save(folder / name)
    return str(folder)


def test_predict_review_then_eval_calibration(smoke_run_dir, tmp_path, capsys):
    workdir = str(tmp_path / "run")
    shutil.copytree(smoke_run_dir, workdir)  # eval writes into the run: keep the shared fixture as it was
    out = tmp_path / "pred"
    images = _images(tmp_path)
    assert cli(["predict", "--workdir", workdir, "--images", images, "--out", str(out),
                "--review-quota", "2", "--tta", "flips"]) == 0
    maps = out / "uncertainty"
    entropy = np.load(maps / "c_entropy.npy")
    assert entropy.shape == (24, 48) and entropy.dtype == np.float32 and 0 <= entropy.min() <= entropy.max() <= 1
    assert np.load(maps / "c_margin.npy").shape == (24, 48) and not (maps / "c_disagreement.npy").exists()
    with open(maps / "scores.csv") as f:
        scores = list(csv.DictReader(f))
    with open(out / "review" / "queue.csv") as f:
        queued = list(csv.DictReader(f))
    assert sorted(r["image"] for r in scores) == ["a.png", "b.png", "c.png"]
    assert queued == scores[:2]
    assert [float(r["score"]) for r in scores] == sorted((float(r["score"]) for r in scores), reverse=True)
    html = (out / "review" / "index.html").read_text()
    assert all(f'data-image="{r["image"]}"' in html for r in queued)
    assert len(os.listdir(out / "review" / "thumbs")) == 4

    assert cli(["eval", "--workdir", workdir, "--split", "test", "--temperature", "fit"]) == 0
    with open(os.path.join(workdir, "eval_test.json")) as f:
        result = json.load(f)
    with open(os.path.join(workdir, TEMPERATURE_FILE)) as f:
        stored = json.load(f)
    calib, review = result["calibration"], result["review"]
    assert calib["temperature"] == stored["temperature"] > 0 and stored["step"] == result["step"]
    assert stored["nll_after"] <= stored["nll_before"]
    for key in ("uncalibrated", "calibrated"):
        assert 0 <= calib[key]["all_pixels"]["ece"] <= 1 and 0 <= calib[key]["defect_pixels"]["ece"] <= 1
        assert calib[key]["all_pixels"]["num_pixels"] > calib[key]["defect_pixels"]["num_pixels"] > 0
    assert os.path.exists(os.path.join(workdir, calib["reliability_plot"]))
    assert os.path.exists(os.path.join(workdir, review["curves_plot"]))
    assert review["num_images"] == 100 and review["retained_miou"]["random"] == review["mean_image_miou"]
    assert review["retained_miou"]["oracle"] >= review["retained_miou"]["auc"]
    printed = capsys.readouterr().out
    assert "retained-mIoU AUC" in printed and "ECE" in printed

    assert cli(["predict", "--workdir", workdir, "--images", images, "--out", str(tmp_path / "pred2")]) == 0
    assert f"temperature {stored['temperature']:.4f} (stored" in capsys.readouterr().out
