"""Look inside one run: per-image predictions on a split, worst first, and pseudo-labels.

Predictions come from :class:`ssseg.predict.Predictor` (the run's latest
checkpoint, the model result.json reports: the EMA teacher where there is one),
at each image's own size. Per-image scores use the same confusion-matrix
summary as evaluation, but on one image, so an image's mIoU averages only the
classes present in its label or prediction.

Pseudo-labels are what the run's pseudo-labeller would produce on an
unlabeled image: argmax of the reported model on the un-augmented image (the
weak view without its random crop/flip), kept where confidence reaches the
threshold (fixed ``conf_thresh``, or the class-adaptive thresholds from the
checkpoint's running class confidences). With ``teacher="self"`` training
uses the student's train-mode forward, so this eval-mode view is close to,
not identical with, what training saw.
"""

from __future__ import annotations

import dataclasses
from typing import Sequence

import numpy as np

from ssseg.data.labels import IGNORE_LABEL
from ssseg.data.sources import load_sources
from ssseg.data.splits import load_budget
from ssseg.errors import DataError
from ssseg.eval.metrics import summarize
from ssseg.inference.predict import Predictor
from ssseg.methods.contract import get_method
from ssseg.train.setup import load_config_json


@dataclasses.dataclass(frozen=True)
class ImagePrediction:
    """One evaluated image: uint8 image [H,W,C], label/pred [H,W], confidence [H,W], scores."""

    id: str
    image: np.ndarray
    label: np.ndarray
    pred: np.ndarray
    confidence: np.ndarray
    scores: dict  # miou, pixel_acc, defect_miou, per_class_iou of this image alone

    @property
    def error(self) -> np.ndarray:
        """int8 [H,W]: 1 where wrong, 0 where right, -1 where the label is ignored."""
        wrong = (self.pred != self.label).astype(np.int8)
        return np.where(self.label == IGNORE_LABEL, np.int8(-1), wrong)


@dataclasses.dataclass(frozen=True)
class PseudoLabel:
    """A pseudo-label on one unlabeled image, its confidence, the confident mask and the hidden truth."""

    id: str
    image: np.ndarray
    pseudo_label: np.ndarray
    confidence: np.ndarray
    mask: np.ndarray  # bool: confidence ≥ the class's threshold
    truth: np.ndarray | None  # hidden ground truth (never used in training), None if unknown

    @property
    def confident_accuracy(self) -> float | None:
        """Fraction of confident pixels (with known truth) whose pseudo-label is right."""
        if self.truth is None:
            return None
        use = self.mask & (self.truth != IGNORE_LABEL)
        return float((self.pseudo_label[use] == self.truth[use]).mean()) if use.any() else None


def load_predictor(workdir: str, model: str | None = None, step: int | None = None):

    return Predictor(workdir, model, step)


def image_scores(label: np.ndarray, pred: np.ndarray, class_names: Sequence[str],
                 defect_classes=None) -> dict:
    """summarize() of one image's confusion matrix (255 in ``label`` ignored)."""
    k = len(class_names)
    valid = label != IGNORE_LABEL
    cm = np.bincount(label[valid].astype(np.int64) * k + pred[valid], minlength=k * k).reshape(k, k)
    return summarize(cm, class_names, defect_classes)


def _sources(cfg):

    return load_sources(cfg.data)


def predict_split(workdir: str, split: str = "test", limit: int | None = None,
                  predictor=None) -> list[ImagePrediction]:
    """Predict every image of ``split`` (the first ``limit`` in record order), in record order."""
    predictor = predictor or load_predictor(workdir)
    spec = predictor.run.spec
    out = []
    for record, probs in split_probabilities(predictor, split, limit):
        pred, confidence = probs.argmax(-1).astype(np.uint8), probs.max(-1)
        out.append(ImagePrediction(
            id=record["id"], image=record["image"], label=record["label"], pred=pred,
            confidence=confidence,
            scores=image_scores(record["label"], pred, spec.class_names, spec.defect_classes)))
    return out


def split_probabilities(predictor, split: str, limit: int | None = None, sources=None):
    """Yields (record, probabilities [H,W,K]) for each image of ``split`` in record order, one at a time."""
    source = (sources or _sources(predictor.run.cfg)).source(split)
    for index in range(len(source) if limit is None else min(limit, len(source))):
        record = source[index]
        yield record, predictor.probabilities(record["image"])


def worst_first(predictions: Sequence[ImagePrediction], key: str = "miou") -> list[ImagePrediction]:
    """Sort by the per-image score ``key`` ascending; images without one (nothing to score) go last."""
    def rank(p: ImagePrediction):
        value = p.scores.get(key)
        return (value is None, value if value is not None else 0.0, p.id)

    return sorted(predictions, key=rank)


def pseudo_label_thresholds(predictor) -> np.ndarray:
    """Per-class confidence thresholds [K] the run's pseudo-labeller uses now."""
    method_cfg = predictor.run.cfg.method
    k = len(predictor.class_names)
    if "conf_thresh" not in method_cfg:
        raise DataError(f"method {method_cfg.name!r} makes no thresholded pseudo-labels (no method.conf_thresh): "
                        "pass conf_thresh to choose one")
    thresholds = np.full((k,), float(method_cfg.conf_thresh), np.float32)
    class_conf = predictor.run.state.extra.get("class_conf") if method_cfg.get("class_adaptive") else None
    if class_conf is not None:
        # Same rule as ssseg.methods._pseudo: conf_thresh · class_conf[c] / max_k class_conf[k].
        class_conf = np.asarray(class_conf, np.float32)
        thresholds = thresholds * class_conf / class_conf.max()
    if method_cfg.get("background_thresh") is not None:
        thresholds[0] = float(method_cfg.background_thresh)
    return thresholds


def unlabeled_ids(cfg) -> list[str]:
    """The run's unlabeled ids (its budget's unlabeled.txt)."""

    _, ids = load_budget(cfg.data.name, cfg.data.budget, int(cfg.seed), cfg.data.splits_dir)
    return ids


def pseudo_labels(workdir: str, limit: int = 8, predictor=None, conf_thresh: float | None = None) -> list[PseudoLabel]:
    """Pseudo-labels on the first ``limit`` unlabeled images of the run's budget.

    ``conf_thresh`` replaces the run's own thresholds (one for every class); it
    is needed for a run without a pseudo-labeller, e.g. to ask what a
    supervised model would pseudo-label before starting semi-supervised training.
    """
    predictor = predictor or load_predictor(workdir)
    cfg = predictor.run.cfg
    ids = unlabeled_ids(cfg)
    if not ids:
        raise DataError(f"{workdir}: budget {cfg.data.budget!r} has no unlabeled images")
    if conf_thresh is None:
        thresholds = pseudo_label_thresholds(predictor)
    else:
        thresholds = np.full((len(predictor.class_names),), float(conf_thresh), np.float32)
    sources = _sources(cfg)
    out = []
    for example_id in ids[:limit]:
        record = sources.record(example_id)
        pred, confidence = predictor.predict(record["image"])
        truth = record["label"] if predictor.run.spec.has_unlabeled_truth else None
        out.append(PseudoLabel(id=example_id, image=record["image"], pseudo_label=pred,
                               confidence=confidence, mask=confidence >= thresholds[pred], truth=truth))
    return out


def uses_unlabeled(workdir_or_predictor) -> bool:
    """Whether the run trained on unlabeled images (so it has pseudo-labels to show)."""
    cfg = (workdir_or_predictor.run.cfg if hasattr(workdir_or_predictor, "run")
           else load_config_json(str(workdir_or_predictor)))
    return get_method(cfg.method.name).uses_unlabeled


def trust_by_threshold(pseudo: Sequence[PseudoLabel], thresholds: Sequence[float] = (0.9, 0.95, 0.99, 0.999),
                       background: int = 0, num_classes: int | None = None) -> list[dict]:
    """Would a stricter threshold stop the labeller trusting what it misses? One row per threshold.

    For each threshold t (applied to every class), over the pixels with known
    hidden truth: ``mask_ratio`` (share with confidence ≥ t), ``false_background``
    (share of the confident ``background`` pseudo-labels whose truth is another
    class: the missed objects a pixel-averaged loss then teaches as background),
    ``missed_trusted`` (share of truly non-background pixels that are confidently
    pseudo-labelled background), and per class ``precision``/``recall`` of the
    confident pseudo-labels (NaN where undefined). If ``false_background`` stays
    flat as t rises, the misses are as confident as true background and no
    threshold separates them.
    """
    with_truth = [p for p in pseudo if p.truth is not None]
    if not with_truth:
        raise DataError("trust_by_threshold needs pseudo-labels with hidden truth (none given has any)")
    known = [p.truth != IGNORE_LABEL for p in with_truth]
    label = np.concatenate([p.pseudo_label[k] for p, k in zip(with_truth, known)]).astype(np.int64)
    conf = np.concatenate([p.confidence[k] for p, k in zip(with_truth, known)])
    truth = np.concatenate([p.truth[k] for p, k in zip(with_truth, known)]).astype(np.int64)
    k = num_classes or int(max(label.max(initial=0), truth.max(initial=0))) + 1
    truth_counts = np.bincount(truth, minlength=k).astype(np.float64)
    foreground = truth != background
    rows = []
    for t in thresholds:
        used = conf >= t
        counts = np.bincount(label[used], minlength=k).astype(np.float64)
        right = np.bincount(label[used & (label == truth)], minlength=k).astype(np.float64)
        as_background = used & (label == background)
        with np.errstate(invalid="ignore", divide="ignore"):
            rows.append({
                "threshold": float(t),
                "mask_ratio": float(used.mean()) if used.size else float("nan"),
                "false_background": float((as_background & foreground).sum() / as_background.sum())
                if as_background.any() else float("nan"),
                "missed_trusted": float((as_background & foreground).sum() / foreground.sum())
                if foreground.any() else float("nan"),
                "precision": right / counts,
                "recall": right / truth_counts,
            })
    return rows
