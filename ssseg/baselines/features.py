"""Per-pixel features for the classical clustering baselines (scipy.ndimage filters).

Intensity is made robust to the tile-to-tile illumination changes by
subtracting the image median and dividing by its MAD; then, at fixed scales:
smoothed intensity (σ=1), local mean (σ=4), local standard deviation (σ=4),
gradient magnitude (Gaussian derivative, σ=1) and Laplacian of Gaussian (σ=2)
— the intensity, texture and edge cues a defect might show.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

FEATURE_NAMES = ("intensity", "local_mean", "local_std", "gradient", "log")


def gray(image: np.ndarray) -> np.ndarray:
    """uint8 [H, W, C] -> float64 [H, W] in [0, 1] (channel mean for colour images)."""
    return np.asarray(image, np.float64).mean(axis=-1) / 255.0


def pixel_features(image: np.ndarray) -> np.ndarray:
    """float64 [H, W, len(FEATURE_NAMES)]."""
    g = gray(image)
    mad = np.median(np.abs(g - np.median(g))) * 1.4826 + 1e-3
    g = (g - np.median(g)) / mad
    smooth = ndimage.gaussian_filter(g, 1.0)
    local_mean = ndimage.gaussian_filter(g, 4.0)
    local_var = ndimage.gaussian_filter(g * g, 4.0) - local_mean**2
    gradient = ndimage.gaussian_gradient_magnitude(g, 1.0)
    log = ndimage.gaussian_laplace(g, 2.0)
    return np.stack([smooth, local_mean, np.sqrt(np.maximum(local_var, 0.0)), gradient, log], axis=-1)
