"""Uncertainty maps, image scores, the review queue, review AUC, ECE and temperature scaling on hand-made inputs."""

import csv
import math
import types

import numpy as np
import pytest
from scipy import special

from ssseg.errors import ConfigError
from ssseg.review import calibration, queue, screening
from ssseg.review.run_temperature import resolve_temperature
from ssseg.review.uncertainty import defect_areas, disagreement_map, entropy_map, image_score, margin_map
from ssseg.review.views import ReviewViews, partner_model


def test_entropy_and_margin_of_uniform_one_hot_and_a_mixed_pixel():
    probs = np.array([[[0.25, 0.25, 0.25, 0.25], [1.0, 0.0, 0.0, 0.0], [0.5, 0.3, 0.2, 0.0]]], np.float32)
    entropy, margin = entropy_map(probs), margin_map(probs)
    expected = -(0.5 * math.log(0.5) + 0.3 * math.log(0.3) + 0.2 * math.log(0.2)) / math.log(4)
    np.testing.assert_allclose(entropy, [[1.0, 0.0, expected]], atol=1e-6)
    np.testing.assert_allclose(margin, [[1.0, 0.0, 0.8]], atol=1e-6)


def test_disagreement_is_total_variation():
    p = np.array([[[1.0, 0.0, 0.0], [0.5, 0.5, 0.0], [0.2, 0.3, 0.5]]])
    q = np.array([[[0.0, 1.0, 0.0], [0.7, 0.3, 0.0], [0.2, 0.3, 0.5]]])
    np.testing.assert_allclose(disagreement_map(p, q), [[1.0, 0.2, 0.0]], atol=1e-6)


def test_image_score_aggregations():
    uncertainty = np.array([[0.2, 0.8], [0.4, 0.0], [0.6, 0.1]])
    # background probability per pixel: a defect, a defect, a near miss (argmax background
    # at 0.45 but 0.55 on defects), sure background, sure background, exactly half
    p_background = np.array([[0.1, 0.3], [0.45, 0.9], [0.99, 0.5]])
    probs = np.stack([p_background, 0.3 * (1 - p_background), 0.7 * (1 - p_background)], -1)
    assert image_score(uncertainty, probs) == pytest.approx((0.2 + 0.8 + 0.4 + 0.1) / 4)
    assert image_score(uncertainty, probs, "max") == pytest.approx(0.8)
    assert image_score(uncertainty, probs, "share", threshold=0.4) == pytest.approx(3 / 6)
    background_only = np.stack([np.full((3, 2), 0.8), np.full((3, 2), 0.2)], -1)
    assert image_score(uncertainty, background_only) == 0.0
    with pytest.raises(ConfigError, match="aggregation 'mean'"):
        image_score(uncertainty, probs, "mean")
    assert defect_areas(np.array([[0, 3], [3, 1]]), 4) == {1: 1, 3: 2}


def _item(name, score, areas=None):
    return queue.ReviewItem(image=name, stem=name.split(".")[0], score=score, class_areas=areas or {})


def test_queue_order_quota_threshold_and_csv(tmp_path):
    items = [_item("c.png", 0.3), _item("a.png", 0.9, {"crack": 5, "fray": 2}), _item("b.png", 0.3),
             _item("d.png", 0.5, {"fray": 7})]
    assert [i.image for i in queue.ranked(items)] == ["a.png", "d.png", "b.png", "c.png"]
    assert [i.image for i in queue.select(items, quota=3)] == ["a.png", "d.png", "b.png"]
    assert [i.image for i in queue.select(items, threshold=0.5)] == ["a.png", "d.png"]
    assert [i.image for i in queue.select(items, quota=1, threshold=0.1)] == ["a.png"]
    path = tmp_path / "queue.csv"
    queue.write_csv(str(path), queue.select(items, quota=2))
    with open(path) as f:
        rows = list(csv.DictReader(f))
    assert rows[0] == {"rank": "1", "image": "a.png", "score": "0.900000", "defect_classes": "crack;fray",
                       "defect_area_px": "7", "class_areas_px": "crack:5;fray:2"}
    assert [r["image"] for r in rows] == ["a.png", "d.png"]


def test_review_auc_on_a_hand_made_case():
    quality = [0.9, 0.2, 0.6, 0.8]
    scores = [0.1, 0.5, 0.9, 0.3]  # review order: 0.6, 0.2, 0.8, 0.9
    result = screening.review_auc(quality, scores)
    retained = result["retained_miou"]
    # R(k) for k = 0..3: mean of all, of (0.2, 0.8, 0.9), of (0.8, 0.9), of (0.9)
    assert retained["auc"] == pytest.approx((0.625 + 1.9 / 3 + 0.85 + 0.9) / 4)
    assert retained["random"] == pytest.approx(0.625)
    assert retained["oracle"] == pytest.approx((0.625 + 2.3 / 3 + 0.85 + 0.9) / 4)
    assert retained["normalized"] == pytest.approx((retained["auc"] - 0.625) / (retained["oracle"] - 0.625))
    assert retained["normalized"] == pytest.approx(0.792208, abs=1e-6)
    caught = result["bad_caught"]  # one bad image (0.2), found second
    assert result["num_bad"] == 1
    assert caught["auc"] == pytest.approx(0.75) and caught["random"] == pytest.approx(5 / 8)
    assert caught["oracle"] == pytest.approx(1.0)


def test_review_auc_ties_are_random_order():
    result = screening.review_auc([0.9, 0.2, 0.6, 0.8], [0.5, 0.5, 0.5, 0.5])
    assert result["retained_miou"]["auc"] == pytest.approx(result["retained_miou"]["random"])
    assert result["bad_caught"]["auc"] == pytest.approx(result["bad_caught"]["random"])
    assert screening.review_auc([0.9, 0.8], [0.1, 0.2])["bad_caught"] is None


def test_ece_of_a_hand_made_case():
    probs = np.array([[[0.9, 0.1], [0.9, 0.1], [0.35, 0.65], [0.3, 0.7], [0.99, 0.01]]], np.float32)
    label = np.array([[0, 1, 1, 1, 255]])
    all_pixels, defect = calibration.ReliabilityBins(), calibration.ReliabilityBins()
    calibration.add_image(all_pixels, defect, probs, label)
    # bins (of 15): 0.9 -> 13 (one right, one wrong), 0.65 -> 9 (right), 0.7 -> 10 (right)
    assert all_pixels.ece() == pytest.approx((abs(1 - 1.8) + abs(1 - 0.65) + abs(1 - 0.7)) / 4, abs=1e-6)
    assert defect.ece() == pytest.approx((0.9 + 0.35 + 0.3) / 3, abs=1e-6)
    summary = all_pixels.summary()
    assert summary["num_pixels"] == 4 and summary["bins"]["count"][13] == 2
    assert summary["bins"]["accuracy"][13] == 0.5 and summary["bins"]["accuracy"][0] is None
    assert calibration.ReliabilityBins().ece() is None


def test_temperature_scaling_matches_logit_scaling_and_fitting_recovers_it():
    rng = np.random.default_rng(0)
    logits = rng.normal(0.0, 3.0, (20000, 4))
    np.testing.assert_allclose(calibration.apply_temperature(special.softmax(logits, -1), 2.0),
                               special.softmax(logits / 2.0, -1), atol=1e-6)
    true_t = 2.5
    probs = special.softmax(logits / true_t, -1)
    labels = (rng.random(len(probs))[:, None] > probs.cumsum(-1)).sum(-1)  # a draw from softmax(z / 2.5)
    fitted = calibration.fit_temperature(special.log_softmax(logits, -1), labels)
    assert fitted == pytest.approx(true_t, rel=0.03)
    log_probs = special.log_softmax(logits, -1)
    assert calibration.nll(log_probs, labels, fitted) < calibration.nll(log_probs, labels, 1.0)


def test_temperature_option_and_stored_record(tmp_path):
    assert calibration.parse_temperature("fit") == "fit" and calibration.parse_temperature("1.5") == 1.5
    for bad in ("-1", "0", "warm"):
        with pytest.raises(ConfigError, match=f"--temperature '{bad}'"):
            calibration.parse_temperature(bad)
    predictor = types.SimpleNamespace(run=types.SimpleNamespace(state=types.SimpleNamespace(step=4)),
                                      model_name="teacher")
    assert resolve_temperature(predictor, str(tmp_path), None)[0] == 1.0
    calibration.save_temperature(str(tmp_path), {"temperature": 1.7, "step": 4, "model": "teacher"})
    assert resolve_temperature(predictor, str(tmp_path), None)[0] == 1.7
    assert resolve_temperature(predictor, str(tmp_path), "0.5")[0] == 0.5
    calibration.save_temperature(str(tmp_path), {"temperature": 1.7, "step": 2, "model": "teacher"})
    temperature, note = resolve_temperature(predictor, str(tmp_path), None)
    assert temperature == 1.0 and "fitted for step 2" in note


class _FakePredictor:
    """Probabilities that ignore the image: class 1 rises left to right (not flip-invariant)."""

    models = {"teacher": None, "student": None}
    model_name = "teacher"

    def probabilities(self, image, model=None):
        p1 = np.tile(np.array([0.1, 0.5, 0.9], np.float32), (image.shape[0], 1))
        if model == "student":
            p1 = np.full_like(p1, 0.5)
        return np.stack([1 - p1, p1], -1)


def test_flip_tta_averages_flipped_back_views_and_partner():
    image = np.zeros((2, 3), np.uint8)
    probs, other = ReviewViews(_FakePredictor(), "none")(image)
    np.testing.assert_allclose(probs[0, :, 1], [0.1, 0.5, 0.9])
    # each view's left-right ramp, flipped back, is the mirrored ramp half of the time
    probs, other = ReviewViews(_FakePredictor(), "flips")(image)
    np.testing.assert_allclose(probs[..., 1], np.full((2, 3), 0.5), atol=1e-6)
    np.testing.assert_allclose(other[..., 1], np.full((2, 3), 0.5), atol=1e-6)
    assert partner_model({"teacher": 0, "student": 0}, "student") == "teacher"
    assert partner_model({"student": 0}, "student") is None
    assert partner_model({"teacher_a": 0, "teacher_b": 0, "a": 0, "b": 0}, "teacher_a") == "teacher_b"
