"""Run a trained round's model over images of the train split by id: what selection needs.

For each id: the image-level uncertainty score, the defect classes the model predicts, and
(when asked) the encoder's deepest feature map mean-pooled over the image, L2-normalised so
k-center distances compare directions, not feature scale. Images are prepared exactly as
for evaluation (long side to the eval canvas, padded bottom/right) and run through the
run's own compiled inference (whole or sliding window). The ground truth of pool images is
never read here: the valid mask comes from the resize geometry.
"""

from __future__ import annotations

import dataclasses
from typing import Sequence

import jax
import jax.numpy as jnp
import numpy as np

from ssseg.active import scoring
from ssseg.data import pipeline, transforms
from ssseg.data.normalize import normalize
from ssseg.eval.evaluate import make_prob_fn
from ssseg.models import functional as model_fns


@dataclasses.dataclass(frozen=True)
class PoolScores:
    ids: tuple[str, ...]
    scores: np.ndarray  # [N]
    predicted: tuple[tuple[int, ...], ...]  # defect classes predicted per image
    features: np.ndarray | None  # [N, D] unit-norm pooled encoder features, or None


def _pool_example(record: dict, canvas: int) -> tuple[np.ndarray, np.ndarray]:
    """(image uint8 [C,C,ch], valid bool [C,C]) as eval prepares it, without touching the label."""
    size = transforms.long_side_size(record["image"].shape[:2], canvas)
    image, _ = transforms.resize(record["image"], np.zeros(record["image"].shape[:2], np.uint8), size)
    image, _, valid = transforms.pad_to(image, np.zeros(size, np.uint8), np.ones(size, bool), (canvas, canvas))
    return image, valid


def _make_encode_fn(graphdef, mean, std):
    @jax.jit
    def encode(params, batch_stats, images):
        x = normalize(images, mean, std)
        features, _ = model_fns.encode(graphdef, params, batch_stats, x, train=False)
        return features[-1]

    return encode


def score_pool(run, sources, ids: Sequence[str], *, aggregation: str = "defect_entropy",
               defect_prob: float = 0.5, with_features: bool = False, scores: bool = True) -> PoolScores:
    """Scores (and features) of `ids` under the run's reported eval model."""
    cfg = run.cfg
    params, batch_stats = next(iter(run.ctx.method.eval_models(run.state).values()))
    canvas = pipeline.eval_canvas(cfg.data)
    batch_size = int(cfg.data.eval_batch_size)
    prob_fn = make_prob_fn(run.ctx.graphdef, run.spec.mean, run.spec.std, cfg.data.eval_mode, cfg.data.crop_size)
    encode_fn = _make_encode_fn(run.ctx.graphdef, run.spec.mean, run.spec.std) if with_features else None
    out_scores, predicted, features = [], [], []
    ids = tuple(ids)
    for start in range(0, len(ids), batch_size):
        chunk = ids[start:start + batch_size]
        examples = [_pool_example(sources.record(i), canvas) for i in chunk]
        images = np.zeros((batch_size, canvas, canvas, run.spec.channels), np.uint8)  # fixed shape: one compile
        for slot, (image, _) in enumerate(examples):
            images[slot] = image
        if scores:
            probs = np.asarray(prob_fn(params, batch_stats, jnp.asarray(images)))
            for slot, (_, valid) in enumerate(examples):
                out_scores.append(scoring.image_score(probs[slot], valid, aggregation=aggregation,
                                                      defect_prob=defect_prob))
                predicted.append(scoring.predicted_classes(probs[slot], valid))
        if encode_fn is not None:
            maps = np.asarray(encode_fn(params, batch_stats, jnp.asarray(images)))
            for slot, (_, valid) in enumerate(examples):
                pooled = scoring.pooled_features(maps[slot], valid)
                features.append(pooled / max(np.linalg.norm(pooled), 1e-12))
    return PoolScores(
        ids=ids,
        scores=np.asarray(out_scores, np.float64),
        predicted=tuple(predicted),
        features=np.stack(features) if features else None,
    )
