"""Image corruptions for robustness to shift: brightness, contrast, Gaussian noise, blur, JPEG.

ImageNet-C's five severities (Hendrycks & Dietterich, ICLR 2019; the
`imagecorruptions` package), on uint8 grayscale or RGB images, in [0,1] units:

| corruption | parameter by severity 1..5 |
|---|---|
| brightness | +0.1 … +0.5 on the HSV value (the intensity of a grayscale image) |
| contrast | pixels pulled to their channel mean: factor 0.4, 0.3, 0.2, 0.1, 0.05 |
| gaussian_noise | additive noise, std 0.08, 0.12, 0.18, 0.26, 0.38 |
| gaussian_blur | Gaussian blur, sigma 1, 2, 3, 4, 6 pixels of the stored image |
| jpeg | JPEG re-encoding (Pillow) at quality 25, 18, 15, 10, 7 |

Corruptions act on the stored image, before the evaluation's resize (as a
camera or a compression step would). Noise is the only random one; its
generator is seeded from (image index, corruption, severity), so every run
sees the same corrupted images.

`CorruptedSources` wraps a run's data sources so that the ordinary evaluation
(`ssseg.train.loop.Evaluator`) reads corrupted images: no second inference loop.
"""

from __future__ import annotations

import io
import zlib

import numpy as np
from PIL import Image
from scipy import ndimage
from skimage import color

from ssseg.errors import ConfigError

CORRUPTIONS = ("brightness", "contrast", "gaussian_noise", "gaussian_blur", "jpeg")
SEVERITIES = (1, 2, 3, 4, 5)
PARAMETERS = {
    "brightness": (0.1, 0.2, 0.3, 0.4, 0.5),
    "contrast": (0.4, 0.3, 0.2, 0.1, 0.05),
    "gaussian_noise": (0.08, 0.12, 0.18, 0.26, 0.38),
    "gaussian_blur": (1.0, 2.0, 3.0, 4.0, 6.0),
    "jpeg": (25, 18, 15, 10, 7),
}


def corruption_rng(index: int, name: str, severity: int) -> np.random.Generator:
    """The generator of one (image, corruption, severity): independent of evaluation order."""
    return np.random.default_rng([int(index), zlib.crc32(name.encode()), int(severity)])


def corrupt(image_hwc: np.ndarray, name: str, severity: int, index: int) -> np.ndarray:
    """uint8 [H,W,C] (C = 1 or 3) -> the same image under `name` at `severity` (1..5)."""
    if name not in PARAMETERS:
        raise ConfigError(f"corruption {name!r} is unknown; expected one of {', '.join(CORRUPTIONS)}")
    if severity not in SEVERITIES:
        raise ConfigError(f"severity {severity!r} of {name}: expected one of 1..5")
    c = PARAMETERS[name][severity - 1]
    if name == "jpeg":
        return _jpeg(image_hwc, int(c))
    x = image_hwc.astype(np.float64) / 255.0
    if name == "brightness":
        if x.shape[-1] == 3:
            hsv = color.rgb2hsv(x)
            hsv[..., 2] = np.clip(hsv[..., 2] + c, 0.0, 1.0)
            x = color.hsv2rgb(hsv)
        else:
            x = x + c
    elif name == "contrast":
        mean = x.mean(axis=(0, 1), keepdims=True)
        x = (x - mean) * c + mean
    elif name == "gaussian_noise":
        x = x + corruption_rng(index, name, severity).normal(0.0, c, size=x.shape)
    else:  # gaussian_blur: spatial axes only
        x = ndimage.gaussian_filter(x, sigma=(c, c, 0), mode="reflect")
    return np.round(np.clip(x, 0.0, 1.0) * 255.0).astype(np.uint8)


def _jpeg(image_hwc: np.ndarray, quality: int) -> np.ndarray:
    pil = Image.fromarray(image_hwc[..., 0] if image_hwc.shape[-1] == 1 else image_hwc)
    buffer = io.BytesIO()
    pil.save(buffer, format="JPEG", quality=quality)
    out = np.asarray(Image.open(io.BytesIO(buffer.getvalue())))
    return out.reshape(image_hwc.shape)


class CorruptedSplit:
    """One split whose records carry corrupted images (index-seeded); labels untouched."""

    def __init__(self, source, name: str, severity: int):
        self.source, self.name, self.severity = source, name, severity

    def __len__(self) -> int:
        return len(self.source)

    def __getitem__(self, index: int) -> dict:
        record = dict(self.source[index])
        record["image"] = corrupt(record["image"], self.name, self.severity, index)
        return record


class CorruptedSources:
    """A run's DataSources whose `source(split)` is corrupted; every other attribute is the original's."""

    def __init__(self, sources, name: str, severity: int):
        corrupt(np.zeros((1, 1, 1), np.uint8), name, severity, 0)  # a bad name or severity fails here
        self._sources, self.name, self.severity = sources, name, severity

    def source(self, split: str) -> CorruptedSplit:
        return CorruptedSplit(self._sources.source(split), self.name, self.severity)

    def __getattr__(self, attr):
        return getattr(self._sources, attr)
