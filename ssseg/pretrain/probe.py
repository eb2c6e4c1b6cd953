"""A linear per-pixel probe: how much segmentation the frozen encoder already knows.

The pretraining methods' `evaluate` hook. Encoder features of every level are
resized to a stride-4 grid of the eval canvas and concatenated; a ridge
regression onto the (area-averaged) one-hot labels of the labeled budget's
images is solved in closed form, class-reweighted by frequency^-power because
defects are a tiny fraction of the pixels; its logits, upsampled bilinearly,
are scored on the split with the same confusion-matrix metrics as training
runs (`model: "probe"`). Cheap (one forward pass over the labeled images and
the split, a D×D solve), so progress is visible every `eval_every` steps.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from ssseg.data import pipeline
from ssseg.data.labels import IGNORE_LABEL
from ssseg.eval.metrics import confusion_matrix, summarize

PROBE_STRIDE = 4


def probe_defaults(m) -> None:
    """Add the probe keys to a method's ConfigDict `m`."""
    m.probe_ridge = 1e-3  # λ relative to the mean diagonal of the weighted feature covariance
    m.probe_class_weight_power = 0.5  # as config.loss.class_weight_power: frequency^-0.5
    m.probe_max_images = 0  # 0: every labeled image; else the first N (sorted ids)


class _IdSource:
    """The records of `ids`, indexable like a split (what pipeline.eval_batches reads)."""

    def __init__(self, sources, ids):
        self.sources, self.ids = sources, list(ids)

    def __len__(self):
        return len(self.ids)

    def __getitem__(self, index):
        return self.sources.record(self.ids[index])


def _grid_features(ctx, params, batch_stats, images_uint8):
    """[B, g, g, D] features of all encoder levels on the stride-4 grid."""
    features, _ = ctx.encode(params, batch_stats, ctx.normalize(images_uint8), train=False)
    b, h, w = images_uint8.shape[:3]
    grid = (h // PROBE_STRIDE, w // PROBE_STRIDE)
    resized = [jax.image.resize(f.astype(jnp.float32), (b, *grid, f.shape[-1]), "linear") for f in features]
    return jnp.concatenate(resized, axis=-1)


def _soft_targets(labels_bhw, num_classes: int):
    """Area fraction of each class in each grid cell [B, g, g, K] (ignored pixels count for none)."""
    g = PROBE_STRIDE
    b, h, w = labels_bhw.shape
    labels_bhw = labels_bhw[:, : h // g * g, : w // g * g]
    h, w = labels_bhw.shape[1:]
    one_hot = jax.nn.one_hot(jnp.where(labels_bhw == IGNORE_LABEL, -1, labels_bhw), num_classes)
    return one_hot.reshape(b, h // g, g, w // g, g, num_classes).mean(axis=(2, 4))


@functools.partial(jax.jit, static_argnums=(0, 5))
def _normal_equations(ctx, params, batch_stats, images, labels, num_classes, class_weights):
    """Weighted XᵀX and XᵀY (X with a bias column) of one batch."""
    x = _grid_features(ctx, params, batch_stats, images)
    x = jnp.concatenate([x, jnp.ones(x.shape[:-1] + (1,), x.dtype)], axis=-1).reshape(-1, x.shape[-1] + 1)
    y = _soft_targets(labels, num_classes).reshape(-1, num_classes)
    w = y @ class_weights
    return (x * w[:, None]).T @ x, (x * w[:, None]).T @ y


@functools.partial(jax.jit, static_argnums=(0, 5))
def _confusion(ctx, params, batch_stats, images, labels, num_classes, weights):
    x = _grid_features(ctx, params, batch_stats, images)
    logits = x @ weights[:-1] + weights[-1]
    logits = jax.image.resize(logits, (*labels.shape, num_classes), "linear")
    return confusion_matrix(jnp.argmax(logits, axis=-1), labels, num_classes)


def class_weights_from_labels(label_batches, num_classes: int, power: float) -> np.ndarray:
    """frequency^-power per class, normalised so the weighted pixel count equals the unweighted one."""
    counts = np.zeros(num_classes, np.float64)
    for labels in label_batches:
        labels = np.asarray(labels).reshape(-1)
        counts += np.bincount(labels[labels != IGNORE_LABEL], minlength=num_classes)[:num_classes]
    weights = np.where(counts > 0, np.maximum(counts, 1.0) ** -power, 0.0)
    return weights * counts.sum() / max(float((weights * counts).sum()), 1e-12)


def fit(ctx, params, batch_stats, batches, num_classes: int, ridge: float, power: float) -> np.ndarray:
    """Ridge weights [D + 1, K] from the labeled batches (a list of {"image", "label"})."""
    class_weights = class_weights_from_labels([b["label"] for b in batches], num_classes, power)
    cw = jnp.asarray(class_weights, jnp.float32)
    xtx, xty = 0.0, 0.0
    for b in batches:
        a, c = _normal_equations(ctx, params, batch_stats, b["image"], b["label"], num_classes, cw)
        xtx, xty = xtx + np.asarray(a, np.float64), xty + np.asarray(c, np.float64)
    return solve_ridge(xtx, xty, ridge)


def solve_ridge(xtx: np.ndarray, xty: np.ndarray, ridge: float) -> np.ndarray:
    """argmin_W ‖X W − Y‖²_w + λ Σ_d var_d ‖W[d]‖² from the normal equations (X's last column is the bias).

    Penalising each feature in proportion to its (weighted) variance is ridge
    on standardised features: levels of very different scale are treated
    alike, `ridge` is scale-free, and the bias is not penalised."""
    n = max(float(xtx[-1, -1]), 1e-12)
    mean = xtx[-1, :-1] / n
    var = np.maximum(np.diag(xtx)[:-1] / n - mean**2, 1e-12)
    system = np.array(xtx, np.float64)
    system[:-1, :-1] += np.diag(ridge * n * var)
    return np.linalg.solve(system, xty)


def probe_metrics(run, params, batch_stats, fit_batches, eval_batches) -> dict:
    """Fit on `fit_batches`, score on `eval_batches`: the summarize() dict of ssseg.eval.metrics,
    plus `binary_defect_iou` (defect vs not, from the same fit: the defect classes' scores summed)
    where the dataset names defect classes — steadier than per-class IoU on a few labeled defects."""
    m = run.ctx.method_cfg
    k = len(run.spec.class_names)
    weights = fit(run.ctx, params, batch_stats, fit_batches, k, float(m.probe_ridge), float(m.probe_class_weight_power))
    defects = list(run.spec.defect_classes or ())
    # Least squares is linear in the targets: the binary fit is the K-class fit with columns summed.
    collapse = np.zeros((k, 2))
    collapse[:, 0] = 1.0
    collapse[defects] = (0.0, 1.0)
    to_binary = np.where(np.isin(np.arange(256), defects), 1, 0)
    to_binary[IGNORE_LABEL] = IGNORE_LABEL
    w = jnp.asarray(weights, jnp.float32)
    w_binary = jnp.asarray(weights @ collapse, jnp.float32)
    total, binary = np.zeros((k, k), np.int64), np.zeros((2, 2), np.int64)
    for b in eval_batches:
        total += np.asarray(_confusion(run.ctx, params, batch_stats, b["image"], b["label"], k, w), np.int64)
        if defects:
            labels = to_binary[np.asarray(b["label"])]
            binary += np.asarray(_confusion(run.ctx, params, batch_stats, b["image"], labels, 2, w_binary), np.int64)
    result = summarize(total, run.spec.class_names, run.spec.defect_classes)
    result["confusion_matrix"] = total.tolist()
    if defects:
        union = binary[1].sum() + binary[:, 1].sum() - binary[1, 1]
        result["binary_defect_iou"] = float(binary[1, 1] / union) if union else None
    return result


def _batches(source, run) -> list[dict]:
    return [b for b, _ in pipeline.eval_batches(source, run.cfg.data, run.spec.channels)]


def evaluate(run, state, sources, split, labeled_ids, mesh) -> list[dict]:
    """The `evaluate` hook: probe mIoU on `split`, fitted on the labeled budget."""
    del mesh  # the probe is cheap; it runs unsharded on the default device

    params, batch_stats = next(iter(run.ctx.method.eval_models(state).values()))
    params, batch_stats = jax.device_get((params, batch_stats))
    ids = sorted(labeled_ids)
    if int(run.ctx.method_cfg.probe_max_images) > 0:
        ids = ids[: int(run.ctx.method_cfg.probe_max_images)]
    result = probe_metrics(run, params, batch_stats, _batches(_IdSource(sources, ids), run),
                           _batches(sources.source(split), run))
    return [{"split": split, "model": "probe", "probe": "ridge", "probe_images": len(ids), **result}]
