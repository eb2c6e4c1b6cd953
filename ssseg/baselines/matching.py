"""Clusters to classes: one-to-one Hungarian matching on labelled pixels.

`contingency[c, k]` counts pixels of cluster c with true class k (ignore
label 255 left out). `linear_sum_assignment` (scipy) picks the one-to-one
cluster→class map with the most correctly labelled pixels, as unsupervised
segmentation is usually scored (e.g. PiCIE, STEGO). With more clusters than
classes the unmatched clusters take their majority class (stated in the
result); with fewer, some classes are never predicted.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment

from ssseg.data.labels import IGNORE_LABEL



def contingency(cluster_maps, label_maps, n_clusters: int, n_classes: int) -> np.ndarray:
    """[n_clusters, n_classes] int64 pixel counts over all (cluster map, label map) pairs."""
    table = np.zeros((n_clusters, n_classes), np.int64)
    for clusters, labels in zip(cluster_maps, label_maps):
        keep = labels != IGNORE_LABEL
        index = clusters[keep].astype(np.int64) * n_classes + labels[keep]
        table += np.bincount(index, minlength=n_clusters * n_classes).reshape(n_clusters, n_classes)
    return table


def hungarian_mapping(table: np.ndarray) -> tuple[np.ndarray, list[int]]:
    """(cluster -> class array, clusters assigned by majority because no class was left for them)."""
    rows, cols = linear_sum_assignment(table, maximize=True)
    mapping = np.argmax(table, axis=1)  # fallback for unmatched clusters
    mapping[rows] = cols
    unmatched = sorted(set(range(table.shape[0])) - set(rows.tolist()))
    return mapping.astype(np.int32), unmatched
