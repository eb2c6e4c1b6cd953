"""The per-image part of `ssseg eval`: how well the uncertainty score finds bad predictions, and calibration.

One pass over the split with the run's Predictor (the reported model, each image at its own
size, as `ssseg predict` and the inspection report see it; the dataset-level mIoU above it
comes from the Evaluator's padded canvases). Per image: its mIoU (ssseg/inspection/per_image.py
image_scores), its uncertainty score as predict computes it (ssseg/review/uncertainty.py, at the
temperature in use), and its pixels' confidence bins. Reported: the review curves' areas against
random and oracle order (ssseg/review/screening.py), ECE over all labelled pixels and over
ground-truth defect pixels before and after temperature scaling (ssseg/review/calibration.py),
a reliability plot and the review curves next to eval_<split>.json.
"""

from __future__ import annotations

import os

import numpy as np

from ssseg.data.sources import load_sources
from ssseg.errors import ConfigError
from ssseg.inference.predict import Predictor
from ssseg.inspection.per_image import image_scores, split_probabilities
from ssseg.review import calibration, screening
from ssseg.review.calibration import ReliabilityBins, add_image, apply_temperature
from ssseg.review.plots import plot_reliability, plot_review_curves
from ssseg.review.run_temperature import resolve_temperature
from ssseg.review.uncertainty import image_score, uncertainty_maps
from ssseg.review.views import partner_model


def review_and_calibration(run, workdir: str, split: str, args) -> tuple[dict, list[str]]:
    """({"review": ..., "calibration": ...} for eval_<split>.json, lines to print)."""
    predictor = Predictor(workdir, run=run)
    spec = run.spec
    sources = load_sources(run.cfg.data)
    temperature, note = resolve_temperature(predictor, workdir, args.temperature, sources)
    partner = partner_model(predictor.models, predictor.model_name) if args.uncertainty == "disagreement" else None
    if args.uncertainty == "disagreement" and partner is None:
        raise ConfigError(f"--uncertainty disagreement: model {predictor.model_name!r} has no teacher/student partner")
    bins = {"uncalibrated": (ReliabilityBins(), ReliabilityBins())}
    if temperature != 1.0:
        bins["calibrated"] = (ReliabilityBins(), ReliabilityBins())
    quality, scores = [], []
    for record, probs in split_probabilities(predictor, split, sources=sources):
        label = record["label"]
        add_image(*bins["uncalibrated"], probs, label)
        probs = apply_temperature(probs, temperature)
        if "calibrated" in bins:
            add_image(*bins["calibrated"], probs, label)
        pred = probs.argmax(-1).astype(np.uint8)
        miou = image_scores(label, pred, spec.class_names, spec.defect_classes)["miou"]
        if miou is None:  # every pixel ignored: nothing to score
            continue
        other = apply_temperature(predictor.probabilities(record["image"], partner), temperature) if partner else None
        quality.append(miou)
        scores.append(image_score(uncertainty_maps(probs, other)[args.uncertainty], probs, args.aggregation,
                                  args.uncertain_threshold))
    review = screening.review_auc(np.asarray(quality), np.asarray(scores), args.bad_iou)
    review.update(model=predictor.model_name, uncertainty=args.uncertainty, aggregation=args.aggregation,
                  temperature=temperature)
    calib = {"num_bins": calibration.NUM_BINS, "temperature": temperature, "temperature_source": note,
             "model": predictor.model_name}
    for key, (all_pixels, defect_pixels) in bins.items():
        calib[key] = {"all_pixels": all_pixels.summary(), "defect_pixels": defect_pixels.summary()}
    title = f"{os.path.basename(os.path.normpath(workdir))} {split}"
    plot_reliability(calib, title).savefig(os.path.join(workdir, f"reliability_{split}.png"), dpi=120)
    calib["reliability_plot"] = f"reliability_{split}.png"
    plot_review_curves(quality, scores, args.bad_iou, f"{title}, {args.aggregation} of {args.uncertainty}").savefig(
        os.path.join(workdir, f"review_curves_{split}.png"), dpi=120)
    review["curves_plot"] = f"review_curves_{split}.png"
    return {"review": review, "calibration": calib}, _lines(review, calib, split)


def _fmt(value) -> str:
    return "–" if value is None else f"{value:.4f}"


def _lines(review: dict, calib: dict, split: str) -> list[str]:
    r, c = review["retained_miou"], review["bad_caught"]
    lines = [f"review ({review['aggregation']} of {review['uncertainty']}, {review['num_images']} {split} images, "
             f"model {review['model']}): retained-mIoU AUC {_fmt(r['auc'])} (random {_fmt(r['random'])}, "
             f"oracle {_fmt(r['oracle'])})"]
    if c is not None:
        lines.append(f"  bad (mIoU < {review['bad_iou']:g}: {review['num_bad']}) caught AUC {_fmt(c['auc'])} "
                     f"(random {_fmt(c['random'])}, oracle {_fmt(c['oracle'])})")
    lines.append(f"  review curves: {review['curves_plot']}")
    lines.append(f"calibration ({calib['temperature_source']}):")
    for key in ("uncalibrated", "calibrated"):
        if key in calib:
            label = "T=1" if key == "uncalibrated" else f"T={calib['temperature']:.3f}"
            lines.append(f"  {label}: ECE {_fmt(calib[key]['all_pixels']['ece'])} all pixels, "
                         f"{_fmt(calib[key]['defect_pixels']['ece'])} defect pixels")
    lines.append(f"  reliability plot: {calib['reliability_plot']}")
    return lines
