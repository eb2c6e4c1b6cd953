"""Defect instances: the 8-connected components of each defect class, and their matching.

An instance has its class, pixel area (and physical area when the pixel size
is known), bounding box and, for predictions, the mean softmax probability of
its class over its pixels. Predicted and ground-truth instances of a class are
matched one-to-one by IoU (Hungarian assignment, `scipy.optimize.linear_sum_assignment`),
and a pair counts only at IoU >= 0.5: each matched prediction is a true
positive, each unmatched prediction a false positive, each unmatched truth a
false negative.
"""

from __future__ import annotations

import dataclasses
from typing import Sequence

import numpy as np
from scipy import ndimage
from scipy.optimize import linear_sum_assignment

from ssseg.data.labels import IGNORE_LABEL
from ssseg.measure.postprocess import CONNECTIVITY_8

MATCH_IOU = 0.5


@dataclasses.dataclass(frozen=True)
class Instance:
    """One connected defect. `bbox` = (y0, x0, y1, x1): rows y0..y1-1, columns x0..x1-1."""

    class_id: int
    class_name: str
    area_px: int
    bbox: tuple[int, int, int, int]
    mean_confidence: float | None = None
    area_mm2: float | None = None

    def to_dict(self) -> dict:
        return dataclasses.asdict(self) | {"bbox": list(self.bbox)}


def components(label_hw: np.ndarray, class_id: int) -> tuple[np.ndarray, int]:
    """(component ids [H,W] int32, 0 = not this class, and the count) of one class."""
    ids, count = ndimage.label(label_hw == class_id, CONNECTIVITY_8)
    return ids.astype(np.int32), int(count)


def extract_instances(label_hw: np.ndarray, class_names: Sequence[str], classes: Sequence[int],
                      probs_hwk: np.ndarray | None = None, pixel_size_mm: float | None = None) -> list[Instance]:
    """The instances of `classes` in a label map, class by class, each class's in scan order."""
    out = []
    for c in classes:
        ids, count = components(label_hw, c)
        if not count:
            continue
        index = np.arange(1, count + 1)
        areas = ndimage.sum_labels(np.ones_like(ids), ids, index)
        confidences = ndimage.mean(probs_hwk[..., c], ids, index) if probs_hwk is not None else [None] * count
        for box, area, conf in zip(ndimage.find_objects(ids), areas, confidences):
            out.append(Instance(
                class_id=int(c), class_name=class_names[c], area_px=int(area),
                bbox=(box[0].start, box[1].start, box[0].stop, box[1].stop),
                mean_confidence=None if conf is None else float(conf),
                area_mm2=None if pixel_size_mm is None else float(area) * pixel_size_mm ** 2))
    return out


def match_counts(pred_hw: np.ndarray, label_hw: np.ndarray, class_id: int) -> tuple[int, int, int]:
    """(true positives, false positives, false negatives) of one class's instances in one image.

    Pixels labelled 255 are left out of every area and overlap; a predicted
    component lying wholly on them is not counted.
    """
    valid = label_hw != IGNORE_LABEL
    pred_ids, n_pred = components(np.where(valid, pred_hw, -1), class_id)
    true_ids, n_true = components(label_hw, class_id)
    if not n_pred or not n_true:
        return 0, n_pred, n_true
    joint = np.bincount((pred_ids * (n_true + 1) + true_ids)[valid], minlength=(n_pred + 1) * (n_true + 1))
    joint = joint.reshape(n_pred + 1, n_true + 1)
    inter = joint[1:, 1:].astype(np.float64)
    union = joint[1:].sum(1)[:, None] + joint[:, 1:].sum(0)[None, :] - inter
    iou = inter / union
    rows, cols = linear_sum_assignment(iou, maximize=True)
    tp = int(np.sum(iou[rows, cols] >= MATCH_IOU))
    return tp, n_pred - tp, n_true - tp
