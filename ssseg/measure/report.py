"""The per-defect report of a set of images: instances, per-image counts and verdicts, as CSV and JSON.

Written by `ssseg predict --defects` (new images) and `ssseg eval --instances`
(a split, next to the instance-level scores). Three files in one folder:

- ``defects.csv``: one row per instance (image, instance number, class, area
  in pixels and mm², bounding box, mean confidence);
- ``images.csv``: one row per image (verdict, the rules that failed it,
  instance count per class, total defect area);
- ``defects.json``: both, plus the rules, pixel size and post-processing used.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import os
from typing import Sequence

import numpy as np

from ssseg.errors import ConfigError
from ssseg.measure.instances import Instance, extract_instances
from ssseg.measure.postprocess import parse_postprocess
from ssseg.measure.rules import DEFAULT_RULES, Verdict, judge, parse_rules


@dataclasses.dataclass(frozen=True)
class ImageReport:
    image: str
    instances: tuple[Instance, ...]
    verdict: Verdict


class Measurer:
    """Post-processes a prediction and measures it: instances and the verdict under the rules."""

    def __init__(self, spec, postprocess: str = "", rules: str = DEFAULT_RULES, pixel_size_mm: float | None = None):
        if not spec.defect_classes:
            raise ConfigError(f"dataset {spec.name!r} has no defect classes (background = class 0), "
                              "so it has no defects to measure")
        if pixel_size_mm is not None and not pixel_size_mm > 0:
            raise ConfigError(f"--pixel-size-mm {pixel_size_mm}: expected a positive size in mm")
        self.class_names, self.classes = tuple(spec.class_names), tuple(spec.defect_classes)
        self.postprocess = parse_postprocess(postprocess, self.class_names, self.classes)
        self.rules_text = rules
        self.rules = parse_rules(rules, self.class_names, self.classes, pixel_size_mm)
        self.pixel_size_mm = pixel_size_mm
        self.reports: list[ImageReport] = []

    def clean(self, pred_hw: np.ndarray) -> np.ndarray:
        return self.postprocess(pred_hw, self.classes)

    def measure(self, image: str, label_hw: np.ndarray, probs_hwk: np.ndarray | None = None,
                keep: bool = True) -> ImageReport:
        """Instances and verdict of a (post-processed) label map; kept for `write` unless keep=False."""
        instances = extract_instances(label_hw, self.class_names, self.classes, probs_hwk, self.pixel_size_mm)
        report = ImageReport(image=image, instances=tuple(instances), verdict=judge(instances, self.rules))
        if keep:
            self.reports.append(report)
        return report

    def image_row(self, report: ImageReport) -> dict:
        row = {"image": report.image, "verdict": "pass" if report.verdict.passed else "fail",
               "failed_rules": "; ".join(report.verdict.failed_rules)}
        for c in self.classes:
            row[f"n_{self.class_names[c]}"] = sum(i.class_id == c for i in report.instances)
        row["total_area_px"] = sum(i.area_px for i in report.instances)
        if self.pixel_size_mm is not None:
            row["total_area_mm2"] = sum(i.area_mm2 for i in report.instances)
        return row

    def write(self, out_dir: str) -> list[str]:
        """defects.csv, images.csv and defects.json of every measured image, in `out_dir`."""
        os.makedirs(out_dir, exist_ok=True)
        paths = [os.path.join(out_dir, n) for n in ("defects.csv", "images.csv", "defects.json")]
        instance_rows = [
            {"image": r.image, "instance": k, "class": i.class_name, "area_px": i.area_px,
             "area_mm2": "" if i.area_mm2 is None else f"{i.area_mm2:.6g}",
             "y0": i.bbox[0], "x0": i.bbox[1], "y1": i.bbox[2], "x1": i.bbox[3],
             "mean_confidence": "" if i.mean_confidence is None else f"{i.mean_confidence:.4f}"}
            for r in self.reports for k, i in enumerate(r.instances)]
        _write_csv(paths[0], instance_rows, ["image", "instance", "class", "area_px", "area_mm2",
                                             "y0", "x0", "y1", "x1", "mean_confidence"])
        image_rows = [self.image_row(r) for r in self.reports]
        _write_csv(paths[1], image_rows, list(self.image_row(ImageReport("", (), Verdict(True, ())))))
        document = {
            "rules": [r.text for r in self.rules], "pixel_size_mm": self.pixel_size_mm,
            "postprocess": self.postprocess.spec, "bbox": "y0, x0, y1, x1 (rows y0..y1-1, columns x0..x1-1)",
            "images": [row | {"instances": [i.to_dict() for i in r.instances]}
                       for r, row in zip(self.reports, image_rows)],
        }
        with open(paths[2], "w") as f:
            json.dump(document, f, indent=2)
        return paths


def _write_csv(path: str, rows: Sequence[dict], columns: Sequence[str]) -> None:
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(columns))
        writer.writeheader()
        writer.writerows(rows)
