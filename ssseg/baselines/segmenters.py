"""Classical per-pixel segmenters: image -> cluster map, no labels.

- `otsu`: one global Otsu threshold per image (skimage.filters.threshold_otsu):
  2 clusters, darker / brighter.
- `adaptive`: deviation from the local (Gaussian-weighted) mean,
  skimage.filters.threshold_local, by more than `k` robust standard deviations
  of the image: 3 clusters, darker than surroundings / normal / brighter.
- `kmeans`: k-means (scipy.cluster.vq.kmeans2, k-means++) on per-pixel
  features (features.py), fitted on pixels of the fit images.
- `slic_kmeans`: SLIC superpixels (skimage.segmentation.slic) described by
  their mean and std of intensity and mean local std (texture), clustered by
  k-means; every pixel takes its superpixel's cluster.

Images are uint8 [H, W, C] (any padding already removed); cluster maps int32 [H, W].
"""

from __future__ import annotations

import dataclasses

import numpy as np
from scipy.cluster.vq import kmeans2, vq
from skimage.filters import threshold_local, threshold_otsu
from skimage.segmentation import slic

from ssseg.baselines.features import gray, pixel_features
from ssseg.errors import ConfigError


@dataclasses.dataclass
class Otsu:
    n_clusters: int = 2

    def fit(self, images, seed: int = 0):
        return self

    def predict(self, image: np.ndarray) -> np.ndarray:
        g = gray(image)
        if g.min() == g.max():  # constant image: Otsu is undefined, call it all one cluster
            return np.zeros(g.shape, np.int32)
        return (g > threshold_otsu(g)).astype(np.int32)


@dataclasses.dataclass
class Adaptive:
    """Clusters 0/1/2: darker than the local mean by > k·σ / within / brighter by > k·σ."""

    block_size: int = 31  # odd, in pixels of the eval canvas
    k: float = 3.0  # the 3σ outlier rule
    n_clusters: int = 3

    def fit(self, images, seed: int = 0):
        return self

    def predict(self, image: np.ndarray) -> np.ndarray:
        g = gray(image)
        local = threshold_local(g, self.block_size, method="gaussian")
        residual = g - local
        # Robust σ (1.4826·MAD): defects are outliers and must not inflate it.
        sigma = 1.4826 * np.median(np.abs(residual - np.median(residual))) + 1e-6
        out = np.ones(g.shape, np.int32)
        out[residual < -self.k * sigma] = 0
        out[residual > self.k * sigma] = 2
        return out


def _standardise(x: np.ndarray, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    return (x - mean) / std


@dataclasses.dataclass
class KMeans:
    n_clusters: int = 6
    max_fit_pixels: int = 200_000
    centroids: np.ndarray | None = None
    mean: np.ndarray | None = None
    std: np.ndarray | None = None

    def _features(self, image):
        f = pixel_features(image)
        return f.reshape(-1, f.shape[-1])

    def fit(self, images, seed: int = 0):
        rng = np.random.default_rng(seed)
        rows = np.concatenate([self._features(im) for im in images])
        if len(rows) > self.max_fit_pixels:
            rows = rows[rng.choice(len(rows), self.max_fit_pixels, replace=False)]
        self.mean, self.std = rows.mean(0), rows.std(0) + 1e-6
        self.centroids, _ = kmeans2(_standardise(rows, self.mean, self.std), self.n_clusters, minit="++", seed=rng)
        return self

    def predict(self, image: np.ndarray) -> np.ndarray:
        rows = _standardise(self._features(image), self.mean, self.std)
        codes, _ = vq(rows, self.centroids)
        return codes.reshape(image.shape[:2]).astype(np.int32)


@dataclasses.dataclass
class SlicKMeans:
    n_clusters: int = 6
    n_segments: int = 400
    compactness: float = 0.1  # for grayscale in [0, 1] intensity units
    centroids: np.ndarray | None = None
    mean: np.ndarray | None = None
    std: np.ndarray | None = None

    def _superpixels(self, image):
        """(superpixel map, per-superpixel [mean intensity, std intensity, mean local std])."""
        segments = slic(gray(image), n_segments=self.n_segments, compactness=self.compactness,
                        channel_axis=None, start_label=0)
        feats = pixel_features(image)
        intensity, local_std = feats[..., 0].reshape(-1), feats[..., 2].reshape(-1)
        ids = segments.reshape(-1)
        n = ids.max() + 1
        count = np.maximum(np.bincount(ids, minlength=n), 1).astype(np.float64)
        mean = np.bincount(ids, intensity, minlength=n) / count
        var = np.bincount(ids, intensity**2, minlength=n) / count - mean**2
        texture = np.bincount(ids, local_std, minlength=n) / count
        return segments, np.stack([mean, np.sqrt(np.maximum(var, 0.0)), texture], axis=1)

    def fit(self, images, seed: int = 0):
        rows = np.concatenate([self._superpixels(im)[1] for im in images])
        self.mean, self.std = rows.mean(0), rows.std(0) + 1e-6
        rng = np.random.default_rng(seed)
        self.centroids, _ = kmeans2(_standardise(rows, self.mean, self.std), self.n_clusters, minit="++", seed=rng)
        return self

    def predict(self, image: np.ndarray) -> np.ndarray:
        segments, rows = self._superpixels(image)
        codes, _ = vq(_standardise(rows, self.mean, self.std), self.centroids)
        return codes[segments].astype(np.int32)


SEGMENTERS = {"otsu": Otsu, "adaptive": Adaptive, "kmeans": KMeans, "slic_kmeans": SlicKMeans}


def make_segmenter(name: str, num_classes: int, clusters: int = 0):
    """A segmenter by name; `clusters` (k-means methods) defaults to the number of classes."""
    if name not in SEGMENTERS:
        raise ConfigError(f"classical method {name!r}: expected one of {', '.join(SEGMENTERS)}")
    cls = SEGMENTERS[name]
    if name in ("kmeans", "slic_kmeans"):
        return cls(n_clusters=clusters or num_classes)
    if clusters:
        raise ConfigError(f"--clusters applies to kmeans and slic_kmeans, not {name} (fixed {cls().n_clusters})")
    return cls()
