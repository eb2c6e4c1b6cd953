"""Figures of one run's per-image predictions and pseudo-labels (see ssseg.inspection.per_image)."""

from __future__ import annotations

from typing import Sequence

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from ssseg.data.labels import IGNORE_LABEL
from ssseg.inference.predict import palette
from ssseg.inspection.per_image import ImagePrediction, PseudoLabel

IGNORE_RGB = (255, 255, 255)
# Error map colours: right, wrong, ignored.
ERROR_RGB = np.array([(0, 0, 0), (220, 30, 30), (128, 128, 128)], np.uint8)


def colorize(label: np.ndarray, num_classes: int) -> np.ndarray:
    """Class ids [H,W] -> RGB with the predict palette; 255 (ignore) white."""
    colours = np.concatenate([palette(num_classes), np.zeros((256 - num_classes, 3), np.uint8)])
    colours[IGNORE_LABEL] = IGNORE_RGB
    return colours[label.astype(np.int64)]


def _show_image(ax, image: np.ndarray) -> None:
    if image.shape[-1] == 1:
        ax.imshow(image[..., 0], cmap="gray", vmin=0, vmax=255)
    else:
        ax.imshow(image)


def _grid(rows: int, titles: Sequence[str], size: float = 2.2):
    fig = Figure(figsize=(size * len(titles), size * max(rows, 1) + 0.4), layout="constrained")
    axes = np.asarray(fig.subplots(max(rows, 1), len(titles), squeeze=False))
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    for ax, title in zip(axes[0], titles):
        ax.set_title(title, fontsize=9)
    return fig, axes


def _legend(fig: Figure, class_names: Sequence[str]) -> None:
    colours = palette(len(class_names)) / 255.0
    handles = [Patch(color=c, label=n) for c, n in zip(colours, class_names)]
    fig.legend(handles=handles, loc="outside lower center", ncol=min(len(class_names), 6), fontsize=8)


def plot_prediction_grid(predictions: Sequence[ImagePrediction], class_names: Sequence[str],
                         score_key: str = "miou") -> Figure:
    """Rows of image | ground truth | prediction | error (red: wrong, grey: ignored) | confidence."""
    fig, axes = _grid(len(predictions), ["image", "ground truth", "prediction", "error", "confidence"])
    k = len(class_names)
    for row, p in zip(axes, predictions):
        _show_image(row[0], p.image)
        score = p.scores.get(score_key)
        row[0].set_ylabel(f"{p.id}\n{score_key} {'–' if score is None else f'{100 * score:.1f}'}", fontsize=8)
        row[1].imshow(colorize(p.label, k))
        row[2].imshow(colorize(p.pred, k))
        row[3].imshow(ERROR_RGB[np.where(p.error < 0, 2, p.error)])
        conf = row[4].imshow(p.confidence, vmin=0.0, vmax=1.0, cmap="viridis")
    if len(predictions):
        fig.colorbar(conf, ax=axes[:, 4], shrink=0.6, label="max probability")
    _legend(fig, class_names)
    return fig


def plot_pseudo_label_grid(pseudo: Sequence[PseudoLabel], class_names: Sequence[str]) -> Figure:
    """Rows of unlabeled image | pseudo-label | confidence | confident pseudo-label (rest white) | hidden truth."""
    fig, axes = _grid(len(pseudo), ["unlabeled image", "pseudo-label", "confidence",
                                    "kept (confident)", "hidden truth"])
    k = len(class_names)
    for row, p in zip(axes, pseudo):
        _show_image(row[0], p.image)
        accuracy = p.confident_accuracy
        row[0].set_ylabel(f"{p.id}\nkept {100 * p.mask.mean():.0f}%"
                          + ("" if accuracy is None else f", acc {100 * accuracy:.0f}%"), fontsize=8)
        row[1].imshow(colorize(p.pseudo_label, k))
        conf = row[2].imshow(p.confidence, vmin=0.0, vmax=1.0, cmap="viridis")
        row[3].imshow(colorize(np.where(p.mask, p.pseudo_label, IGNORE_LABEL), k))
        if p.truth is not None:
            row[4].imshow(colorize(p.truth, k))
    if len(pseudo):
        fig.colorbar(conf, ax=axes[:, 2], shrink=0.6, label="max probability")
    _legend(fig, class_names)
    return fig
