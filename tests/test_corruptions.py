"""Corruptions are deterministic per (image index, corruption, severity) and grow with severity."""

import numpy as np
import pytest

from ssseg.errors import ConfigError
from ssseg.eval.corruptions import CORRUPTIONS, CorruptedSources, corrupt


def _image(channels: int) -> np.ndarray:
    """A 48x48 image: a ramp, stripes and a bright square (JPEG's error grows with lower quality on
    such smooth content; on fine noise it need not, quality 18 and 15 can swap)."""
    y, x = np.mgrid[:48, :48]
    grey = 60 + 2 * x + 40 * ((x // 4) % 2)
    grey[12:24, 12:24] = 170
    image = grey[..., None].astype(np.uint8)
    return image if channels == 1 else np.concatenate([image, image // 2 + 40, 255 - image], -1)


@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("name", CORRUPTIONS)
def test_corruption_is_deterministic_and_monotone_in_severity(name, channels):
    image = _image(channels)
    same = [corrupt(image, name, 3, index=7) for _ in range(2)]
    assert same[0].dtype == np.uint8 and same[0].shape == image.shape
    assert np.array_equal(same[0], same[1])
    change = [np.abs(corrupt(image, name, s, index=7).astype(float) - image).mean() for s in range(1, 6)]
    assert all(a < b for a, b in zip(change, change[1:])), change
    assert change[0] > 0


def test_noise_differs_between_images_and_severities_but_not_between_calls():
    image = _image(1)
    a, b = corrupt(image, "gaussian_noise", 2, index=0), corrupt(image, "gaussian_noise", 2, index=1)
    assert not np.array_equal(a, b)
    assert np.array_equal(a, corrupt(image, "gaussian_noise", 2, index=0))


def test_brightness_and_contrast_values_on_a_grey_pixel():
    pixel = np.full((1, 1, 1), 100, np.uint8)
    assert corrupt(pixel, "brightness", 1, 0).item() == round((100 / 255 + 0.1) * 255)
    two = np.asarray([[[50], [150]]], np.uint8)  # mean 100: contrast 0.4 -> 100 -+ 20
    assert corrupt(two, "contrast", 1, 0).reshape(-1).tolist() == [80, 120]


def test_corrupted_sources_change_images_only_and_check_names():
    records = [{"id": "a", "image": _image(1), "label": np.zeros((32, 32), np.uint8)}]
    sources = type("S", (), {"source": lambda self, split: records, "spec": "spec"})()
    split = CorruptedSources(sources, "jpeg", 5).source("test")
    assert len(split) == 1 and split[0]["id"] == "a" and split[0]["label"] is records[0]["label"]
    assert np.array_equal(split[0]["image"], corrupt(records[0]["image"], "jpeg", 5, 0))
    assert CorruptedSources(sources, "jpeg", 5).spec == "spec"
    with pytest.raises(ConfigError, match=r"corruption 'fog' is unknown; expected one of brightness"):
        CorruptedSources(sources, "fog", 1)
    with pytest.raises(ConfigError, match=r"severity 6 of gaussian_blur: expected one of 1..5"):
        corrupt(_image(1), "gaussian_blur", 6, 0)


class _FakeEvaluator:
    """Scores a split by its first image's mean brightness / 255, so each cell shows which images it read."""

    def __init__(self, sources):
        self.sources = sources

    def run(self, state, split):
        image = self.sources.source(split)[0]["image"]
        return [{"model": "m", "miou": float(image.mean()) / 255, "defect_miou": None}]


def test_shift_rows_evaluate_corrupted_images_and_tabulate_them():
    from ssseg.eval.shift import evaluate_shift, markdown_table, parse_list

    image = np.full((4, 4, 1), 51, np.uint8)  # 0.2
    sources = type("S", (), {"source": lambda self, split: [{"id": "a", "image": image}]})()
    evaluator = _FakeEvaluator(sources)
    clean = evaluator.run(None, "test")
    rows = evaluate_shift(evaluator, None, "test", clean, ["brightness"], [1, 3])
    assert [(r["corruption"], r["severity"], round(r["miou"], 4)) for r in rows] == [
        ("clean", 0, 0.2), ("brightness", 1, 0.302), ("brightness", 3, 0.502)]
    assert evaluator.sources is sources  # the run's evaluator is left as it was
    assert markdown_table(rows, "m").splitlines() == [
        "mIoU (%) of m under corruption; clean: 20.0", "",
        "| corruption | severity 1 | severity 3 | mean |", "|---|---|---|---|",
        "| brightness | 30.2 | 50.2 | 40.2 |"]
    assert parse_list("1,5", (1, 2, 3, 4, 5), "--severities", int) == [1, 5]
    with pytest.raises(ConfigError, match=r"--severities item '7': expected one of 1, 2, 3, 4, 5"):
        parse_list("7", (1, 2, 3, 4, 5), "--severities", int)
