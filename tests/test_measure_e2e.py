"""`ssseg eval --postprocess --instances --corruptions` and `ssseg predict --defects` on the tiny smoke run
write what they promise."""

import csv
import json
import os

import numpy as np
from PIL import Image

from ssseg.cli import main as cli


def test_eval_and_predict_write_measurements_and_the_shift_table(smoke_run_dir, tmp_path, capsys):
    assert cli(["eval", "--workdir", smoke_run_dir, "--split", "test", "--postprocess", "min_area=3,open=1",
                "--instances", "--rules", "any:scratch;area>40", "--pixel-size-mm", "0.1",
                "--corruptions", "jpeg,gaussian_noise", "--severities", "1,5"]) == 0
    printed = capsys.readouterr().out
    with open(os.path.join(smoke_run_dir, "eval_test.json")) as f:
        result = json.load(f)
    clean = next(iter(result["models"].values()))["miou"]
    measured = result["measurements"]
    assert [r["spec"] for r in measured["postprocess"]] == ["none", "min_area=3", "open=1", "min_area=3,open=1"]
    assert set(measured["instances"]["per_class"]) == {"scratch", "pit", "stain", "all"}
    assert sum(map(sum, measured["instances"]["pass_fail"]["matrix"])) == 100  # the test split's images
    assert measured["instances"]["rules"] == ["any:scratch", "area>40"]
    rows = result["corruptions"]
    assert [(r["corruption"], r["severity"]) for r in rows] == [
        ("clean", 0), ("jpeg", 1), ("jpeg", 5), ("gaussian_noise", 1), ("gaussian_noise", 5)]
    assert rows[0]["miou"] == clean
    for name in ("corruptions_test.csv", "corruptions_test.md", "corruptions_test.png"):
        assert os.path.getsize(os.path.join(smoke_run_dir, name)) > 0
    assert "| jpeg |" in printed and "pass/fail under any:scratch; area>40" in printed
    with open(os.path.join(smoke_run_dir, "defects_test", "images.csv")) as f:
        images = list(csv.DictReader(f))
    assert len(images) == 100 and set(images[0]) >= {"verdict", "n_scratch", "total_area_mm2"}

    folder = tmp_path / "images"
    folder.mkdir()
    image = np.full((40, 36), 120, np.uint8)
    image[10:20, 5:30] = 200
    Image.fromarray(image).save(folder / "a.png")
    out = tmp_path / "pred"
    assert cli(["predict", "--workdir", smoke_run_dir, "--images", str(folder), "--out", str(out),
                "--defects", "--postprocess", "fill_holes"]) == 0
    assert sorted(os.listdir(out)) == ["a_mask.png", "a_overlay.png", "defects.csv", "defects.json", "images.csv",
                                    "uncertainty"]
    with open(out / "defects.json") as f:
        report = json.load(f)
    assert report["postprocess"] == "fill_holes" and [i["image"] for i in report["images"]] == ["a"]
    mask = np.asarray(Image.open(out / "a_mask.png"))
    assert sum(i["area_px"] for i in report["images"][0]["instances"]) == int((mask > 0).sum())
