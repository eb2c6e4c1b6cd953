"""Active learning: image scores, selection strategies, focus weighting, round splits, end to end."""

import json
import os

import numpy as np
import pytest

from ssseg.active import round_splits, scoring, selection
from ssseg.errors import DataError


def _probs(rows):
    return np.asarray(rows, np.float64).reshape(1, len(rows), -1)


def test_normalized_entropy_uniform_and_one_hot():
    ent = scoring.normalized_entropy(_probs([[1, 0, 0, 0], [0.25, 0.25, 0.25, 0.25]]))
    np.testing.assert_allclose(ent, [[0.0, 1.0]], atol=1e-12)


def test_defect_entropy_averages_over_candidate_defect_pixels_only():
    # pixel 0: confident background (ignored); 1: defect, uniform over 2 of 4 classes (0.5 entropy);
    # 2: one-hot defect (0); 3: padding (ignored even though uncertain).
    probs = _probs([[1, 0, 0, 0], [0, 0.5, 0.5, 0], [0, 1, 0, 0], [0.25, 0.25, 0.25, 0.25]])
    valid = np.asarray([[True, True, True, False]])
    assert scoring.image_score(probs, valid) == pytest.approx(0.25)
    assert scoring.image_score(probs, valid, aggregation="max_entropy") == pytest.approx(0.5)
    assert scoring.image_score(probs, valid, aggregation="mean_entropy") == pytest.approx(0.5 / 3)
    assert scoring.image_score(_probs([[1, 0, 0, 0]])) == 0.0  # no predicted defect: 0
    assert scoring.predicted_classes(probs, valid) == (1,)


def test_pooled_features_mask_the_padding():
    features = np.arange(8, dtype=np.float64).reshape(2, 2, 2)  # [[0,1],[2,3]],[[4,5],[6,7]]
    valid = np.zeros((4, 4), bool)
    valid[:2, :] = True  # top half of the image -> top row of the feature map
    np.testing.assert_allclose(scoring.pooled_features(features, valid), [1.0, 2.0])


def test_uncertainty_picks_the_most_uncertain_and_breaks_ties_by_index():
    scores = np.asarray([0.1, 0.9, 0.5, 0.9, 0.0])
    assert selection.select("uncertainty", 3, scores=scores).tolist() == [1, 3, 2]


def test_focus_weights_raise_images_predicted_to_hold_the_worst_classes():
    iou = {"background": 0.99, "a": 0.6, "b": 0.1, "c": None, "d": 0.3}
    worst = selection.worst_classes(iou, ["background", "a", "b", "c", "d"], 2)
    assert worst == (2, 4)
    weights = selection.focus_weights([(1,), (2,), (), (1, 4)], worst, boost=2.0)
    assert weights.tolist() == [1.0, 3.0, 1.0, 3.0]
    scores = np.asarray([0.5, 0.2, 0.9, 0.1])
    assert selection.select("uncertainty", 2, scores=scores, weights=weights).tolist() == [2, 1]


def test_k_center_greedy_on_hand_made_features():
    features = np.asarray([[0.0, 0.0], [0.1, 0.0], [5.0, 0.0], [0.0, 3.0]])
    # labeled centre at the origin: farthest is index 2 (5.0), then index 3 (3.0 from origin).
    assert selection.k_center_greedy(features, np.asarray([[0.0, 0.0]]), 2).tolist() == [2, 3]
    assert selection.k_center_greedy(features, np.zeros((0, 2)), 2).tolist() == [0, 2]
    # diversity step over the top candidate_factor*k uncertain images: with k=1, factor 2 the candidates
    # are 0 and 1, and 1 is the farther from the labeled origin (index 2 is far but not uncertain enough).
    args = dict(scores=np.asarray([0.9, 0.8, 0.7, 0.1]), features=features, labeled_features=np.asarray([[0.0, 0.0]]),
                candidate_factor=2)
    assert selection.select("uncertainty+kcenter", 1, **args).tolist() == [1]
    assert selection.select("uncertainty+kcenter", 2, **args).tolist() == [2, 3]


def test_random_control_is_seeded_and_follows_weights():
    a = selection.select("random", 3, scores=np.zeros(10), seed=7)
    assert a.tolist() == selection.select("random", 3, scores=np.zeros(10), seed=7).tolist()
    assert len(set(a.tolist())) == 3
    heavy = np.ones(10)
    heavy[4] = 1e9
    assert selection.select("random", 1, scores=np.zeros(10), weights=heavy, seed=3).tolist() == [4]


def test_round_splits_are_nested_and_never_overwritten(tmp_path):
    labeled, unlabeled = round_splits.next_split(["a", "c"], ["b", "d", "e"], ["e", "b"])
    assert (labeled, unlabeled) == (["a", "b", "c", "e"], ["d"])
    with pytest.raises(DataError, match="not in the unlabeled pool"):
        round_splits.next_split(["a"], ["b"], ["a"])
    budget, directory = round_splits.write_round(str(tmp_path), "ds", 0, labeled, unlabeled)
    assert budget == "4" and directory == os.path.join(str(tmp_path), "ds", "4", "seed0")
    assert round_splits.write_round(str(tmp_path), "ds", 0, labeled, unlabeled)[0] == "4"  # same ids: fine
    with pytest.raises(DataError, match="different split"):
        round_splits.write_round(str(tmp_path), "ds", 0, ["a", "b", "c", "d"], ["e"])
    with pytest.raises(DataError, match="shipped"):
        round_splits.check_root("experiments/splits", "experiments/splits")


@pytest.mark.slow
def test_ssseg_active_two_rounds_end_to_end(tmp_path, synthetic_data_dir):
    from ssseg.cli import main
    from ssseg.data.splits import load_budget

    out = str(tmp_path / "act")
    argv = ["active", "--config", "experiments/synthetic_defects.py:method=supervised,smoke", "--initial-budget",
            "1/8", "--per-round", "10", "--rounds", "2", "--strategies", "uncertainty,random", "--out", out,
            f"--config.data.data_dir={synthetic_data_dir}"]
    assert main(argv) == 0
    shipped_l, _ = load_budget("synthetic_defects", "1/8", 0, "experiments/splits")
    for strategy in ("uncertainty", "random"):
        root = os.path.join(out, "splits", strategy)
        l1, u1 = load_budget("synthetic_defects", "60", 0, root)
        l2, u2 = load_budget("synthetic_defects", "70", 0, root)
        assert set(shipped_l) < set(l1) < set(l2) and not set(l2) & set(u2)
        assert all(i.startswith("train") or "val" not in i for i in l2)
        with open(os.path.join(out, "seed0", strategy, "round2.json")) as f:
            record = json.load(f)
        assert record["num_labeled"] == 70 and "--config.data.budget=70" in record["command"]
    assert os.path.exists(os.path.join(out, "curves.png"))
    assert main(argv) == 0  # resume: finished rounds kept, the same selections


def test_active_out_resumes_on_another_machine_without_training_again(tmp_path, synthetic_data_dir, monkeypatch):
    """`out` as a ledger: with the workdirs gone, recorded rounds are not trained again; a missing
    selection trains the round whose model it needs (and only that) before scoring."""
    from ssseg.active import pool, rounds

    trained = []

    def fake_training(cfg, workdir, show_progress=False):
        trained.append(os.path.relpath(workdir, tmp_path))
        os.makedirs(workdir, exist_ok=True)
        open(os.path.join(workdir, "result.json"), "w").close()
        n = len(trained)
        return {"steps": 1, "method": "supervised", "test_split": "test",
                "val": {"miou": 0.1, "per_class_iou": [0.5, 0.1, 0.2]}, "test": {"miou": 0.01 * n, "defect_miou": 0.0}}

    def fake_scores(run, sources, ids, **kwargs):  # a fixed, id-derived uncertainty
        scores = np.asarray([sum(map(ord, i)) % 97 for i in ids], np.float64)
        return pool.PoolScores(tuple(ids), scores, tuple(() for _ in ids), None)

    monkeypatch.setattr(rounds, "run_training", fake_training)
    monkeypatch.setattr(rounds, "score_pool", fake_scores)
    monkeypatch.setattr(rounds, "restore_run", lambda workdir: None)

    def plan(machine):
        return rounds.ActivePlan(config="experiments/synthetic_defects.py:method=supervised,smoke",
                                 overrides=(("data.data_dir", synthetic_data_dir),), initial_budget="1/8",
                                 per_round=5, rounds=2, strategies=("uncertainty", "random"), out=str(tmp_path / "ledger"),
                                 workdir_root=str(tmp_path / machine))

    first = rounds.run_active(plan("a"), log=lambda m: None)
    assert len(trained) == 5 and not any(p.startswith("ledger") for p in trained)
    trained.clear()
    assert rounds.run_active(plan("b"), log=lambda m: None) == first and trained == []  # another machine: nothing trained
    os.remove(tmp_path / "ledger" / "seed0" / "uncertainty" / "round2.json")
    os.remove(tmp_path / "ledger" / "seed0" / "uncertainty" / "selection2.json")
    again = rounds.run_active(plan("c"), log=lambda m: None)
    assert trained == [os.path.join("c", "seed0", "uncertainty", "round1"), os.path.join("c", "seed0", "uncertainty", "round2")]
    pick = lambda records: [r["num_labeled"] for r in records]  # noqa: E731
    assert pick(again) == pick(first)
    with open(tmp_path / "ledger" / "seed0" / "uncertainty" / "selection2.json") as f:
        assert len(json.load(f)["picked"]) == 5


def test_summary_pairs_each_strategy_with_random_on_the_same_seed(tmp_path):
    from ssseg.active import summary

    def rec(strategy, round_index, seed, miou, defect):
        return {"strategy": strategy, "round": round_index, "seed": seed, "num_labeled": 10 + 5 * round_index,
                "command": "c", "test": {"miou": miou, "defect_miou": defect}}

    records = [rec("random", 0, 0, 0.2, 0.1), rec("uncertainty", 0, 0, 0.2, 0.1),
               rec("random", 1, 0, 0.3, 0.1), rec("uncertainty", 1, 0, 0.4, 0.3),
               rec("random", 1, 1, 0.5, 0.2), rec("uncertainty", 1, 1, 0.45, 0.25),
               rec("uncertainty", 2, 0, 0.6, 0.4)]  # no control for round 2 yet: not paired
    gains = summary.paired_gains(records)
    assert [(g["strategy"], g["round"], g["seeds"]) for g in gains] == [("uncertainty", 1, [0, 1])]
    np.testing.assert_allclose(gains[0]["miou"], [0.1, -0.05])
    np.testing.assert_allclose(gains[0]["defect_miou"], [0.2, 0.05])
    assert "| uncertainty | 1 | 0,1 | +10.0 / -5.0 | +2.5 | +20.0 / +5.0 | +12.5 |" in summary.gains_table(gains)
    rows = summary.curve_rows(records)
    row = next(r for r in rows if (r["strategy"], r["round"]) == ("random", 1))
    assert row["miou_mean"] == pytest.approx(0.4) and row["miou_std"] == pytest.approx(np.std([0.3, 0.5], ddof=1))
    for i, r in enumerate(records):
        path = tmp_path / f"seed{r['seed']}" / r["strategy"] / f"round{r['round']}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(r))
    summary.write_summary(str(tmp_path))
    assert "+12.5" in (tmp_path / "curves.md").read_text() and (tmp_path / "curves.png").stat().st_size > 0
