"""Post-processing and defect measurements scored on a labeled split.

Each image is predicted at its own size by the run's Predictor (the path
`ssseg predict` takes, so a minimum area tuned here means the same pixels
there), once; from those probabilities:

- mIoU without post-processing, with each option alone and with all of them
  (dataset-level confusion matrices, as in evaluation; numbers at the images'
  own size, so "none" can differ slightly from the protocol's mIoU, which is
  computed at `data.base_size`);
- instance-level precision and recall per defect class: predicted components
  (after post-processing) matched one-to-one to ground-truth components at
  IoU >= 0.5, counts summed over the split;
- the image-level pass/fail confusion matrix: the rules applied to the
  predicted instances against the same rules applied to the ground-truth
  components.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from ssseg.data.labels import IGNORE_LABEL
from ssseg.eval.metrics import summarize
from ssseg.measure.instances import MATCH_IOU, match_counts
from ssseg.measure.postprocess import PostProcess
from ssseg.measure.report import Measurer
from ssseg.measure.rules import pass_fail_confusion


def _confusion(label_hw: np.ndarray, pred_hw: np.ndarray, k: int) -> np.ndarray:
    valid = label_hw != IGNORE_LABEL
    index = label_hw[valid].astype(np.int64) * k + pred_hw[valid]
    return np.bincount(index, minlength=k * k).reshape(k, k)


def _ratio(num: int, den: int) -> float | None:
    return num / den if den else None


def instance_scores(counts: dict[str, list[int]]) -> dict:
    """Per class and pooled: tp, fp, fn, precision, recall (None where undefined)."""
    pooled = np.sum(list(counts.values()), axis=0).tolist() if counts else [0, 0, 0]
    out = {}
    for name, (tp, fp, fn) in list(counts.items()) + [("all", pooled)]:
        out[name] = {"tp": tp, "fp": fp, "fn": fn, "precision": _ratio(tp, tp + fp), "recall": _ratio(tp, tp + fn)}
    return out


def evaluate_split(predictor, source, measurer: Measurer, variants: Sequence[PostProcess] = (),
                   instances: bool = False) -> dict:
    """{"postprocess": [{"spec", "miou", "defect_miou", "per_class_iou"}, ...], "instances": {...}}.

    `variants`: the post-processings to score besides none; `measurer.postprocess`
    is the one the instances are measured after.
    """
    spec = predictor.run.spec
    k, classes = spec.num_classes, measurer.classes
    variants = [PostProcess(spec="none"), *variants]
    confusions = [np.zeros((k, k), np.int64) for _ in variants]
    counts = {spec.class_names[c]: [0, 0, 0] for c in classes}
    truth_passed, predicted_passed = [], []
    for index in range(len(source)):
        record = source[index]
        label = np.asarray(record["label"])
        probs = predictor.probabilities(record["image"])
        raw = probs.argmax(-1).astype(np.int32)
        for variant, cm in zip(variants, confusions):
            cm += _confusion(label, variant(raw, classes), k)
        if not instances:
            continue
        pred = measurer.clean(raw)
        predicted = measurer.measure(record["id"], pred, probs)
        truth = measurer.measure(record["id"], np.where(label == IGNORE_LABEL, 0, label), keep=False)
        predicted_passed.append(predicted.verdict.passed)
        truth_passed.append(truth.verdict.passed)
        for c in classes:
            for i, n in enumerate(match_counts(pred, label, c)):
                counts[spec.class_names[c]][i] += n
    out = {"model": predictor.model_name, "resolution": "each image at its own size", "postprocess": [
        {"spec": v.spec or "none", **_scores(cm, spec)} for v, cm in zip(variants, confusions)]}
    if instances:
        out["instances"] = {
            "match_iou": MATCH_IOU, "postprocess": measurer.postprocess.spec or "none",
            "rules": [r.text for r in measurer.rules], "pixel_size_mm": measurer.pixel_size_mm,
            "per_class": instance_scores(counts),
            "pass_fail": pass_fail_confusion(truth_passed, predicted_passed),
        }
    return out


def _scores(cm: np.ndarray, spec) -> dict:
    s = summarize(cm, spec.class_names, spec.defect_classes)
    return {"miou": s["miou"], "defect_miou": s["defect_miou"], "per_class_iou": s["per_class_iou"]}


def format_lines(result: dict) -> list[str]:
    """Human-readable lines of `evaluate_split`'s result."""
    def pct(v):
        return "–" if v is None else f"{100 * v:.1f}"

    lines = [f"[{result['model']}] post-processing, mIoU (%) with {result['resolution']}:",
             f"  {'post-processing':<40} {'mIoU':>6} {'defect':>6}"]
    for row in result["postprocess"]:
        lines.append(f"  {row['spec']:<40} {pct(row['miou']):>6} {pct(row['defect_miou']):>6}")
    inst = result.get("instances")
    if inst:
        lines.append(f"instances after post-processing {inst['postprocess']}, matched at IoU >= {inst['match_iou']}:")
        lines.append(f"  {'class':<12} {'tp':>5} {'fp':>5} {'fn':>5} {'prec.':>6} {'recall':>6}")
        for name, s in inst["per_class"].items():
            lines.append(f"  {name:<12} {s['tp']:>5} {s['fp']:>5} {s['fn']:>5} {pct(s['precision']):>6} "
                         f"{pct(s['recall']):>6}")
        (pp, pf), (fp_, ff) = inst["pass_fail"]["matrix"]
        lines.append(f"pass/fail under {'; '.join(inst['rules'])} (images):")
        corner = "truth / predicted"
        lines.append(f"  {corner:<18} {'pass':>6} {'fail':>6}")
        lines.append(f"  {'pass':<18} {pp:>6} {pf:>6}")
        lines.append(f"  {'fail':<18} {fp_:>6} {ff:>6}")
    return lines
