"""Run a zero-label reference on a dataset's val and test splits and write result.json.

Images and labels are resized exactly as for evaluating trained models (long
side = the eval canvas, labels nearest) and scored with the same
confusion-matrix metrics (ssseg.eval.metrics). The segmenter is fitted on the
val images without labels; the cluster→class matching uses the val labels
(so val numbers are optimistic); test is scored with both frozen.
"""

from __future__ import annotations

import json
import os
import time

import ml_collections
import numpy as np

from ssseg.train.provenance import git_commit, git_dirty
from ssseg.baselines.matching import contingency, hungarian_mapping
from ssseg.baselines.segmenters import make_segmenter
from ssseg.config.loader import to_plain
from ssseg.data import pipeline, transforms
from ssseg.data.labels import IGNORE_LABEL
from ssseg.data.registry import get_spec
from ssseg.data.sources import load_sources
from ssseg.eval.metrics import confusion_matrix, summarize

FIT_SPLIT = "val"


def split_examples(source, canvas: int):
    """(image uint8 [h, w, C], label int32 [h, w]) of every record, resized as for evaluation, unpadded."""
    for index in range(len(source)):
        record = source[index]
        size = transforms.long_side_size(record["label"].shape, canvas)
        image, label = transforms.resize(record["image"], record["label"], size)
        yield image, label.astype(np.int32)


def _padded(array: np.ndarray, canvas: int, fill) -> np.ndarray:
    out = np.full((canvas, canvas), fill, np.int32)
    out[: array.shape[0], : array.shape[1]] = array
    return out


def score(pred_maps, label_maps, spec, canvas: int) -> dict:
    """summarize() of the summed confusion matrix, plus the class-agnostic defect IoU."""
    k = len(spec.class_names)
    total = np.zeros((k, k), np.int64)
    for pred, label in zip(pred_maps, label_maps):
        # Padded to the canvas so the (jitted) confusion counts compile once.
        cm = confusion_matrix(_padded(pred, canvas, 0)[None], _padded(label, canvas, IGNORE_LABEL)[None], k)
        total += np.asarray(cm, np.int64)
    result = summarize(total, spec.class_names, spec.defect_classes)
    result["confusion_matrix"] = total.tolist()
    if spec.defect_classes:
        d = list(spec.defect_classes)
        inter = total[np.ix_(d, d)].sum()
        union = total[d, :].sum() + total[:, d].sum() - inter
        result["binary_defect_iou"] = float(inter / union) if union else None
    return result


def run_classical(cfg: ml_collections.ConfigDict, method: str, workdir: str, clusters: int = 0) -> dict:
    t_start = time.time()
    spec = get_spec(cfg.data.name, cfg.data.manual_dir or None)
    sources = load_sources(cfg.data)
    canvas = pipeline.eval_canvas(cfg.data)
    segmenter = make_segmenter(method, len(spec.class_names), clusters)

    fit = list(split_examples(sources.source(FIT_SPLIT), canvas))
    segmenter.fit([image for image, _ in fit], seed=int(cfg.seed))
    fit_clusters = [segmenter.predict(image) for image, _ in fit]
    table = contingency(fit_clusters, [label for _, label in fit], segmenter.n_clusters, len(spec.class_names))
    mapping, unmatched = hungarian_mapping(table)
    val = score([mapping[c] for c in fit_clusters], [label for _, label in fit], spec, canvas)

    test_examples = list(split_examples(sources.source("test"), canvas))
    test = score([mapping[segmenter.predict(image)] for image, _ in test_examples],
                 [label for _, label in test_examples], spec, canvas)

    regime = f"zero-label:{method}" + (f"-k{clusters}" if clusters else "")
    config = cfg.copy_and_resolve_references()
    with config.unlocked():
        config.data.budget = "0"
        config.method = ml_collections.ConfigDict({"name": regime, "n_clusters": segmenter.n_clusters,
                                                   "matching": f"hungarian on {FIT_SPLIT} labels"})
    matching = {
        "split": FIT_SPLIT,
        "how": "one-to-one Hungarian (scipy linear_sum_assignment) on val pixel counts; "
               "the only labels used; val numbers are therefore optimistic, test is held out",
        "cluster_to_class": {str(c): spec.class_names[int(k)] for c, k in enumerate(mapping)},
        "majority_assigned_clusters": unmatched,
        "contingency": table.tolist(),
    }
    result = {
        "dataset": cfg.data.name, "method": regime, "regime": regime, "budget": "0", "num_labeled": 0,
        "seed": int(cfg.seed), "steps": 0, "checkpoint": None, "init_from": None,
        "val": val, "test": test, "models": {regime: {"val": val, "test": test}},
        "matching": matching, "wall_time_s": round(time.time() - t_start, 1),
        "git_commit": git_commit(), "git_dirty": git_dirty(), "config": to_plain(config),
    }
    os.makedirs(workdir, exist_ok=True)
    with open(os.path.join(workdir, "config.json"), "w") as f:
        json.dump(to_plain(config), f, indent=2, sort_keys=True)
    path = os.path.join(workdir, "result.json")
    with open(path + ".tmp", "w") as f:
        json.dump(result, f, indent=2)
    os.replace(path + ".tmp", path)
    return result
