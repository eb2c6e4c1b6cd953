"""Predict masks for arbitrary images with a saved run (CLI, notebooks).

Each image is resized so its long side is `data.base_size` (the training
scale), padded to the square eval canvas, run through the same compiled
inference as evaluation (whole or sliding window), and the class
probabilities are resized back to the image's own size before the argmax.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

import jax
import jax.numpy as jnp

from ssseg.eval.evaluate import make_prob_fn
from ssseg.train.setup import restore_run

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")


class Predictor:
    def __init__(self, workdir: str, model: str | None = None, step: int | None = None, run=None):
        self.run = run if run is not None else restore_run(workdir, step)
        self.models = self.run.ctx.method.eval_models(self.run.state)
        self.model_name = model or next(iter(self.models))
        self.params, self.batch_stats = self.models[self.model_name]
        cfg = self.run.cfg
        self.canvas = int(cfg.data.base_size)
        self.prob_fn = make_prob_fn(
            self.run.ctx.graphdef, self.run.spec.mean, self.run.spec.std, cfg.data.eval_mode, cfg.data.crop_size
        )

    @property
    def class_names(self):
        return self.run.spec.class_names

    def probabilities(self, image: np.ndarray, model: str | None = None) -> np.ndarray:
        """uint8 [H,W] or [H,W,C] -> float32 [H,W,K] class probabilities at the image's size
        (from `model`, one of `self.models`; default: the chosen one)."""
        params, batch_stats = self.models[model] if model else (self.params, self.batch_stats)
        image = to_channels(image, self.run.spec.channels)
        h, w = image.shape[:2]
        scale = self.canvas / max(h, w)
        rh, rw = max(1, round(h * scale)), max(1, round(w * scale))
        resized = np.asarray(Image.fromarray(image.squeeze(-1) if image.shape[-1] == 1 else image).resize((rw, rh), Image.BILINEAR))
        resized = resized.reshape(rh, rw, -1)
        canvas = np.zeros((1, self.canvas, self.canvas, image.shape[-1]), np.uint8)
        canvas[0, :rh, :rw] = resized
        probs = self.prob_fn(params, batch_stats, jnp.asarray(canvas))[0, :rh, :rw]
        return np.asarray(jax.image.resize(probs, (h, w, probs.shape[-1]), "bilinear"))

    def predict(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(class ids uint8 [H,W], confidence float32 [H,W])."""
        probs = self.probabilities(image)
        return probs.argmax(-1).astype(np.uint8), probs.max(-1)


def to_channels(image: np.ndarray, channels: int) -> np.ndarray:
    """Grey <-> RGB so any input image fits the model's input channels."""
    image = np.asarray(image)
    if image.ndim == 2:
        image = image[..., None]
    if image.shape[-1] == 4:
        image = image[..., :3]
    if channels == 1 and image.shape[-1] == 3:
        image = np.asarray(Image.fromarray(image).convert("L"))[..., None]
    elif channels == 3 and image.shape[-1] == 1:
        image = np.repeat(image, 3, axis=-1)
    return image.astype(np.uint8)


def palette(num_classes: int) -> np.ndarray:
    """Background black, defects in distinct saturated colours (tab10/tab20)."""
    import matplotlib

    cmap = matplotlib.colormaps["tab10" if num_classes <= 11 else "tab20"]
    colours = [(0, 0, 0)] + [tuple(int(255 * c) for c in cmap(i % cmap.N)[:3]) for i in range(num_classes - 1)]
    return np.asarray(colours, np.uint8)


def overlay(image: np.ndarray, pred: np.ndarray, num_classes: int, alpha: float = 0.5) -> np.ndarray:
    """RGB image with the predicted classes blended in (background untouched)."""
    rgb = to_channels(image, 3).astype(np.float32)
    colours = palette(num_classes)[pred].astype(np.float32)
    fg = (pred > 0)[..., None]
    return np.where(fg, (1 - alpha) * rgb + alpha * colours, rgb).astype(np.uint8)
