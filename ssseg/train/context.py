"""What a train step needs besides the state: static, built once per run."""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

import jax
import ml_collections
import optax

from ssseg.data.normalize import normalize, standardize
from ssseg.methods.contract import Method
from ssseg.models import functional as model_fns


@dataclasses.dataclass(frozen=True, eq=False)
class StepContext:
    """Closed over by the jitted step (never traced): model graph, optimizer,
    method module and its config, the labeled loss, and normalisation stats."""

    graphdef: Any
    tx: optax.GradientTransformation
    schedule: optax.Schedule
    method: Method
    method_cfg: ml_collections.ConfigDict
    labeled_loss: Callable
    num_classes: int
    mean: tuple
    std: tuple
    # Pixels per class over the labeled budget (None where not counted, e.g. eval-only runs).
    class_counts: tuple | None = None

    def normalize(self, images_uint8: jax.Array) -> jax.Array:
        """uint8 [B,H,W,C] -> float32 standardised, as the model expects."""
        return normalize(images_uint8, self.mean, self.std)

    def standardize(self, images01: jax.Array) -> jax.Array:
        """[0,1] floats -> standardised (photometric augmentations work in [0,1])."""
        return standardize(images01, self.mean, self.std)

    def apply(self, params, batch_stats, images, *, train: bool):
        """Logits at input resolution and the updated batch statistics."""
        return model_fns.apply_model(self.graphdef, params, batch_stats, images, train=train)

    def encode(self, params, batch_stats, images, *, train: bool):
        return model_fns.encode(self.graphdef, params, batch_stats, images, train=train)

    def decode(self, params, batch_stats, features, out_hw, *, train: bool):
        return model_fns.decode(self.graphdef, params, batch_stats, features, out_hw, train=train)

    def apply_with_embedding(self, params, batch_stats, images, *, train: bool):
        """(logits at input resolution, the decoder's pre-classifier features [B,h,w,D], batch_stats):
        for methods whose losses work on decoder features (contrast, correlation)."""
        return model_fns.apply_with_embedding(self.graphdef, params, batch_stats, images, train=train)
