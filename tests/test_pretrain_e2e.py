"""End to end through the trainer: PixPro pretraining (probe records, result.json), then
UniMatch fine-tuning from it (regime "pretrained+unimatch"). Slow: two smoke runs."""

import json
import os

import pytest

pytestmark = pytest.mark.slow


def test_pretrain_then_pretrained_unimatch(tmp_path, synthetic_data_dir, capsys):
    from ssseg.config.loader import load_config
    from ssseg.data.splits import generate_splits
    from ssseg.data.sources import load_sources
    from conftest import data_config
    from ssseg.train.loop import run_training

    splits_dir = str(tmp_path / "splits")
    generate_splits(load_sources(data_config(data_dir=synthetic_data_dir)), ["1/8"], [0], splits_dir)
    common = [f"--config.data.data_dir={synthetic_data_dir}", f"--config.data.splits_dir={splits_dir}"]

    pre_dir = str(tmp_path / "pixpro")
    pre = run_training(load_config("experiments/synthetic_defects.py:method=pretrain_pixpro,smoke", common),
                       pre_dir, show_progress=False)
    assert pre["regime"] == "pretrain_pixpro" and "probe" in pre["models"]
    assert 0.0 <= pre["test"]["miou"] <= 1.0 and "binary_defect_iou" in pre["test"]
    with open(os.path.join(pre_dir, "metrics.jsonl")) as f:
        records = [json.loads(line) for line in f]
    assert any(r["kind"] == "eval" and r.get("model") == "probe" and r["step"] == 2 for r in records)
    assert any(r["kind"] == "train" and "loss_dense_1" in r for r in records)

    fine_dir = str(tmp_path / "unimatch")
    fine = run_training(load_config("experiments/synthetic_defects.py:method=unimatch,smoke",
                                    common + [f"--config.init_from={pre_dir}"]), fine_dir, show_progress=False)
    assert fine["regime"] == "pretrained+unimatch" and fine["init_from"] == pre_dir
    printed = capsys.readouterr().out
    assert "loaded params encoder" in printed and "fresh  params decoder" in printed
