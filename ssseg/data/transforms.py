"""Host-side geometric transforms of one example (numpy + PIL), joint on image and label.

Training: resize so the long side is `base_size × scale` (scale drawn from
`scale_range`), pad to at least `crop_size` (image 0, label 255, valid False),
random `crop_size` crop, optional horizontal/vertical flips. All randomness
comes from a `np.random.Generator` made by `example_rng(seed, step, slot,
stream)`, drawn once into a `Geometry`, which is then applied
deterministically — so an example's geometry is a pure function of its keys.

Evaluation: resize so the long side is the canvas size, pad to a square
canvas (label 255 on padding) so every eval batch has one shape.
Photometric augmentation and normalisation happen on device, not here.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from PIL import Image

from ssseg.data.labels import IGNORE_LABEL

LABELED_STREAM = 0
UNLABELED_STREAM = 1


@dataclasses.dataclass(frozen=True)
class Geometry:
    """Every random choice of one training example."""

    resized_hw: tuple[int, int]  # size after the scaled resize, before padding
    crop_yx: tuple[int, int]  # top-left of the crop in the padded image
    hflip: bool
    vflip: bool


def example_rng(seed: int, step: int, slot: int, stream: int = LABELED_STREAM) -> np.random.Generator:
    """The generator of example `slot` of batch `step` (streams keep labeled/unlabeled draws apart)."""
    return np.random.default_rng([seed, stream, step, slot])


def long_side_size(hw: tuple[int, int], long_side: int) -> tuple[int, int]:
    """(H, W) scaled so max(H, W) == long_side, aspect kept, each side >= 1."""
    h, w = hw
    factor = long_side / max(h, w)
    return max(1, int(h * factor + 0.5)), max(1, int(w * factor + 0.5))


def resize(image: np.ndarray, label: np.ndarray, size_hw: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Image bilinear, label nearest, to `size_hw`. image uint8 [H,W,C], label uint8 [H,W]."""
    if tuple(image.shape[:2]) == tuple(size_hw):
        return image, label
    size_wh = (size_hw[1], size_hw[0])
    channels = image.shape[2]
    pil_image = Image.fromarray(image[..., 0] if channels == 1 else image)
    resized = np.asarray(pil_image.resize(size_wh, Image.BILINEAR))
    resized_label = np.asarray(Image.fromarray(label).resize(size_wh, Image.NEAREST))
    return resized.reshape(size_hw[0], size_hw[1], channels), resized_label


def pad_to(image, label, valid, min_hw: tuple[int, int]):
    """Pad bottom/right to at least `min_hw`: image 0, label 255, valid False."""
    pad_h = max(0, min_hw[0] - image.shape[0])
    pad_w = max(0, min_hw[1] - image.shape[1])
    if not (pad_h or pad_w):
        return image, label, valid
    image = np.pad(image, ((0, pad_h), (0, pad_w), (0, 0)))
    label = np.pad(label, ((0, pad_h), (0, pad_w)), constant_values=IGNORE_LABEL)
    valid = np.pad(valid, ((0, pad_h), (0, pad_w)), constant_values=False)
    return image, label, valid


def crop(image, label, valid, top_left: tuple[int, int], size: int):
    y, x = top_left
    return image[y : y + size, x : x + size], label[y : y + size, x : x + size], valid[y : y + size, x : x + size]


def flip(image, label, valid, hflip: bool, vflip: bool):
    if hflip:
        image, label, valid = image[:, ::-1], label[:, ::-1], valid[:, ::-1]
    if vflip:
        image, label, valid = image[::-1], label[::-1], valid[::-1]
    return image, label, valid


def sample_geometry(
    rng: np.random.Generator,
    hw: tuple[int, int],
    *,
    base_size: int,
    crop_size: int,
    scale_range: tuple[float, float],
    hflip: bool,
    vflip: bool,
    label: np.ndarray | None = None,
    foreground_prob: float = 0.0,
) -> Geometry:
    """Draw scale, crop position and flips for an image of size `hw` (always 4 draws, in this order).

    With `foreground_prob` > 0 (labeled examples only: it reads the label), a
    further draw decides whether the crop is moved onto a foreground pixel."""
    scale = rng.uniform(scale_range[0], scale_range[1])
    resized_hw = long_side_size(hw, max(1, int(base_size * scale + 0.5)))
    padded_h, padded_w = max(resized_hw[0], crop_size), max(resized_hw[1], crop_size)
    crop_y = int(rng.integers(0, padded_h - crop_size + 1))
    crop_x = int(rng.integers(0, padded_w - crop_size + 1))
    do_hflip, do_vflip = rng.random() < 0.5, rng.random() < 0.5
    if foreground_prob > 0 and label is not None and rng.random() < foreground_prob:
        crop_y, crop_x = _foreground_crop(rng, label, resized_hw, (padded_h, padded_w), crop_size, (crop_y, crop_x))
    return Geometry(resized_hw, (crop_y, crop_x), bool(hflip and do_hflip), bool(vflip and do_vflip))


def _foreground_crop(rng, label, resized_hw, padded_hw, crop_size, fallback):
    """Top-left of a crop that contains a random foreground (class > 0) pixel, as
    nnU-Net's foreground oversampling: tiny defects otherwise rarely land in a crop."""
    fg = np.argwhere((label > 0) & (label != IGNORE_LABEL))
    if not len(fg):
        return fallback
    y, x = fg[int(rng.integers(len(fg)))]
    y = int(y * resized_hw[0] / label.shape[0])
    x = int(x * resized_hw[1] / label.shape[1])
    off_y, off_x = int(rng.integers(crop_size)), int(rng.integers(crop_size))
    return (int(np.clip(y - off_y, 0, padded_hw[0] - crop_size)), int(np.clip(x - off_x, 0, padded_hw[1] - crop_size)))


def apply_geometry(image: np.ndarray, label: np.ndarray, geometry: Geometry, crop_size: int) -> dict:
    """{"image": uint8 [S,S,C], "label": int32 [S,S], "valid": bool [S,S]} with S = crop_size."""
    image, label = resize(image, label, geometry.resized_hw)
    valid = np.ones(label.shape, bool)
    image, label, valid = pad_to(image, label, valid, (crop_size, crop_size))
    image, label, valid = crop(image, label, valid, geometry.crop_yx, crop_size)
    image, label, valid = flip(image, label, valid, geometry.hflip, geometry.vflip)
    return {
        "image": np.ascontiguousarray(image),
        "label": np.ascontiguousarray(label, dtype=np.int32),
        "valid": np.ascontiguousarray(valid),
    }


def train_transform(record: dict, rng: np.random.Generator, data_cfg, *, labeled: bool = False) -> dict:
    """Random joint geometry of one record, configured by data_cfg (base_size, crop_size, scale_range, hflip,
    vflip; for labeled examples also foreground_crop_prob). Unlabeled crops never look at the label."""
    foreground_prob = float(data_cfg.foreground_crop_prob) if labeled else 0.0
    geometry = sample_geometry(
        rng,
        record["label"].shape,
        base_size=int(data_cfg.base_size),
        crop_size=int(data_cfg.crop_size),
        scale_range=tuple(data_cfg.scale_range),
        hflip=bool(data_cfg.hflip),
        vflip=bool(data_cfg.vflip),
        label=record["label"] if foreground_prob > 0 else None,
        foreground_prob=foreground_prob,
    )
    return apply_geometry(record["image"], record["label"], geometry, int(data_cfg.crop_size))


def eval_transform(record: dict, canvas: int) -> dict:
    """Resize long side to `canvas`, pad to canvas×canvas: {"image": uint8, "label": int32 (255 on padding)}."""
    image, label = resize(record["image"], record["label"], long_side_size(record["label"].shape, canvas))
    image, label, _ = pad_to(image, label, np.ones(label.shape, bool), (canvas, canvas))
    return {"image": np.ascontiguousarray(image), "label": label.astype(np.int32)}


def blank_eval_example(canvas: int, channels: int) -> dict:
    """A fully ignored example that fills the last eval batch."""
    return {
        "image": np.zeros((canvas, canvas, channels), np.uint8),
        "label": np.full((canvas, canvas), IGNORE_LABEL, np.int32),
    }
