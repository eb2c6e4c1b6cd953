"""Dataset-level segmentation metrics from one confusion matrix.

Intersections and unions are summed over the whole split before dividing (as
UniMatch's evaluation does), never averaged per image. Classes that appear in
neither labels nor predictions have no IoU (null) and are left out of means.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from ssseg.data.labels import IGNORE_LABEL



def confusion_matrix(preds_bhw, labels_bhw, num_classes: int) -> jax.Array:
    """[K, K] int32 counts, rows = true class, columns = predicted; ignores 255."""
    valid = labels_bhw != IGNORE_LABEL
    index = jnp.where(valid, labels_bhw * num_classes + preds_bhw, num_classes * num_classes)
    counts = jnp.bincount(index.reshape(-1), length=num_classes * num_classes + 1)
    return counts[:-1].reshape(num_classes, num_classes).astype(jnp.int32)


def summarize(cm: np.ndarray, class_names, defect_classes=None) -> dict:
    """mIoU, pixel accuracy, per-class IoU by name, and the defect-class mean."""
    cm = np.asarray(cm, np.float64)
    inter = np.diag(cm)
    union = cm.sum(0) + cm.sum(1) - inter
    with np.errstate(invalid="ignore", divide="ignore"):
        iou = np.where(union > 0, inter / union, np.nan)
    total = cm.sum()
    out = {
        "miou": _nanmean(iou),
        "pixel_acc": float(inter.sum() / total) if total else None,
        "per_class_iou": {name: (None if np.isnan(v) else float(v)) for name, v in zip(class_names, iou)},
        "defect_miou": _nanmean(iou[list(defect_classes)]) if defect_classes else None,
        "num_pixels": int(total),
    }
    return out


def _nanmean(values: np.ndarray):
    values = values[~np.isnan(values)]
    return float(values.mean()) if values.size else None
