"""What `ssseg predict` writes for review, next to each image's mask and overlay.

OUT/uncertainty/<stem>_entropy.npy, <stem>_margin.npy (and <stem>_disagreement.npy where the
run has a second model): float32 [H,W] maps in [0, 1] (ssseg/review/uncertainty.py);
OUT/uncertainty/<stem>_uncertainty.png: the scored map in the magma colour map (black =
certain); OUT/uncertainty/scores.csv: every image, most uncertain first. With a quota or a
threshold: OUT/review/queue.csv and the review page OUT/review/index.html (ssseg/review/page.py).
"""

from __future__ import annotations

import os

import numpy as np
from PIL import Image

from ssseg.errors import ConfigError
from ssseg.inference.predict import palette
from ssseg.review import page, queue
from ssseg.review.uncertainty import MEASURES, defect_areas, image_score, uncertainty_maps
from ssseg.review.views import ReviewViews


def colour_map(uncertainty_hw: np.ndarray) -> np.ndarray:
    """uint8 RGB [H,W,3] of a [0,1] map in magma."""
    import matplotlib

    rgba = matplotlib.colormaps["magma"](np.clip(uncertainty_hw, 0.0, 1.0))
    return (255 * rgba[..., :3]).round().astype(np.uint8)


class ReviewOutputs:
    """Probabilities, uncertainty maps and scores for each predicted image; the queue and page at the end."""

    def __init__(self, predictor, out_dir: str, *, measure: str = "entropy", aggregation: str = "defect_mean",
                 uncertain_threshold: float = 0.5, tta: str = "none", temperature: float = 1.0,
                 quota: int | None = None, review_threshold: float | None = None, temperature_note: str = ""):
        if measure not in MEASURES:
            raise ConfigError(f"--uncertainty {measure!r}: expected one of {', '.join(MEASURES)}")
        self.views = ReviewViews(predictor, tta, temperature)
        if measure == "disagreement" and self.views.partner is None:
            raise ConfigError(f"--uncertainty disagreement: the run's model {predictor.model_name!r} has no "
                              f"teacher/student partner (eval models: {', '.join(predictor.models)})")
        self.predictor, self.out_dir = predictor, out_dir
        self.measure, self.aggregation, self.uncertain_threshold = measure, aggregation, uncertain_threshold
        self.quota, self.review_threshold = quota, review_threshold
        share = f" >= {uncertain_threshold:g}" if aggregation == "share" else ""
        self.about = (f"score: {aggregation} of the {measure} map{share}, tta {tta}, "
                      f"{temperature_note or f'temperature {temperature:g}'}")
        self.maps_dir = os.path.join(out_dir, "uncertainty")
        os.makedirs(self.maps_dir, exist_ok=True)
        self.items, self.overlays = [], {}

    def probabilities(self, image: np.ndarray) -> np.ndarray:
        """The probabilities the mask is taken from (TTA, temperature); keeps the partner's for `add`."""
        probs, self._other = self.views(image)
        return probs

    def add(self, name: str, stem: str, probs: np.ndarray, pred: np.ndarray, overlay_path: str) -> queue.ReviewItem:
        """Writes the image's maps and records its score; `pred` is the mask as written."""
        maps = uncertainty_maps(probs, self._other)
        for key, value in maps.items():
            np.save(os.path.join(self.maps_dir, f"{stem}_{key}.npy"), value)
        Image.fromarray(colour_map(maps[self.measure])).save(os.path.join(self.maps_dir, f"{stem}_uncertainty.png"))
        names = self.predictor.class_names
        areas = defect_areas(pred, len(names))
        score = image_score(maps[self.measure], probs, self.aggregation, self.uncertain_threshold)
        item = queue.ReviewItem(image=name, stem=stem, score=score, class_areas={names[c]: a for c, a in areas.items()})
        self.items.append(item)
        self.overlays[stem] = overlay_path
        return item

    def finish(self) -> list[str]:
        """Writes scores.csv and, if asked, the queue and page; returns lines to print."""
        queue.write_csv(os.path.join(self.maps_dir, "scores.csv"), queue.ranked(self.items))
        lines = [f"uncertainty maps and scores ({self.about}) in {self.maps_dir}"]
        if self.quota is None and self.review_threshold is None:
            return lines
        queued = queue.select(self.items, self.quota, self.review_threshold)
        review_dir = os.path.join(self.out_dir, "review")
        os.makedirs(review_dir, exist_ok=True)
        queue.write_csv(os.path.join(review_dir, "queue.csv"), queued)
        names = self.predictor.class_names
        colours = {n: "#%02x%02x%02x" % tuple(c) for n, c in zip(names[1:], palette(len(names))[1:])}
        uncertainty_pngs = {item.stem: os.path.join(self.maps_dir, f"{item.stem}_uncertainty.png") for item in queued}
        path = page.write_page(review_dir, queued, self.overlays, uncertainty_pngs, colours=colours,
                               about=self.about, total_images=len(self.items))
        lines.append(f"review queue: {len(queued)} of {len(self.items)} images in {review_dir}/queue.csv; page {path}")
        return lines


def review_outputs(predictor, args) -> ReviewOutputs:
    """ReviewOutputs from `ssseg predict`'s arguments (ssseg/review/options.py); resolves --temperature."""
    from ssseg.review.run_temperature import resolve_temperature

    temperature, note = resolve_temperature(predictor, args.workdir, args.temperature)
    return ReviewOutputs(predictor, args.out, measure=args.uncertainty, aggregation=args.aggregation,
                         uncertain_threshold=args.uncertain_threshold, tta=args.tta, temperature=temperature,
                         quota=args.review_quota, review_threshold=args.review_threshold, temperature_note=note)
