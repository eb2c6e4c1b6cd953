"""Turns image/mask files into validated TFDS example records.

Shared by every builder: the feature layout (image, label, id), checked
decoding of images and masks with one-line `DataError`s, and the base builder
class that records which classes each example contains (saved as TFDS
metadata so split generation never has to decode a mask again).

Builders yield encoded bytes, never arrays: without TensorFlow, TFDS can only
store images it does not have to encode itself.
"""

from __future__ import annotations

import io
import os
from typing import Iterable, Mapping

import numpy as np
import tensorflow_datasets as tfds
from etils import epath
from PIL import Image, UnidentifiedImageError

from ssseg.data.labels import IGNORE_LABEL
from ssseg.errors import DataError

_MODE_FOR_CHANNELS = {1: "L", 3: "RGB"}
# Modes that convert to 8-bit L/RGB without losing meaning (palette, alpha, CMYK, 1-bit).
_CONVERTIBLE_MODES = {"1", "L", "LA", "P", "PA", "RGB", "RGBA", "RGBX", "CMYK", "YCbCr"}


def segmentation_features(channels: int) -> tfds.features.FeaturesDict:
    """image uint8 [H,W,C], label uint8 [H,W,1] (255 = ignore), id text."""
    return tfds.features.FeaturesDict(
        {
            "image": tfds.features.Image(shape=(None, None, channels), dtype=np.uint8),
            "label": tfds.features.Image(shape=(None, None, 1), dtype=np.uint8),
            "id": tfds.features.Text(),
        }
    )


def encode_png(array: np.ndarray) -> bytes:
    """PNG bytes of a uint8 [H,W] or [H,W,3] array."""
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(array)).save(buffer, format="PNG")
    return buffer.getvalue()


def _open_decoded(path: epath.Path, what: str) -> tuple[Image.Image, bytes]:
    try:
        raw = path.read_bytes()
        image = Image.open(io.BytesIO(raw))
        image.load()  # decode fully now: a truncated file must fail here, not mid-training
    except FileNotFoundError:
        raise DataError(f"{path}: {what} file not found") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as e:
        raise DataError(f"{path}: corrupt or unreadable {what} ({type(e).__name__}: {e}); expected a PNG/JPEG file") from None
    return image, raw


def read_image(path: str | os.PathLike, channels: int) -> tuple[bytes, tuple[int, int]]:
    """Encoded bytes of the image at `path` with `channels` channels, and its (H, W).

    The file's own bytes are kept when it already is 8-bit with the right
    channel count (no lossy re-encoding); anything else is converted and stored
    as PNG.
    """
    path = epath.Path(path)
    image, raw = _open_decoded(path, "image")
    mode = _MODE_FOR_CHANNELS[channels]
    if image.mode not in _CONVERTIBLE_MODES:
        raise DataError(f"{path}: image mode {image.mode!r} is not supported; expected 8-bit grayscale or RGB")
    size_hw = (image.height, image.width)
    if image.mode == mode and image.format in ("PNG", "JPEG"):
        return raw, size_hw
    return encode_png(np.asarray(image.convert(mode))), size_hw


def read_mask(path: str | os.PathLike, size_hw: tuple[int, int]) -> np.ndarray:
    """Mask at `path` as uint8 [H,W] of stored values; its size must be `size_hw`.

    Palette PNGs give their palette indices (VOC style); grayscale gives values.
    """
    path = epath.Path(path)
    mask, _ = _open_decoded(path, "mask")
    if mask.mode not in ("L", "P", "1"):
        raise DataError(
            f"{path}: mask mode {mask.mode!r}; expected a single-channel 8-bit PNG of class ids (mode L or P)"
        )
    if (mask.height, mask.width) != tuple(size_hw):
        raise DataError(
            f"{path}: mask size {mask.height}x{mask.width} (HxW) does not match its image size "
            f"{size_hw[0]}x{size_hw[1]}"
        )
    values = np.asarray(mask)
    return values.astype(np.uint8) if mask.mode == "1" else values


def check_class_ids(mask: np.ndarray, num_classes: int, path: str | os.PathLike) -> None:
    """Every value must be a class id (< num_classes) or the ignore label 255."""
    values = np.unique(mask)
    bad = values[(values >= num_classes) & (values != IGNORE_LABEL)]
    if bad.size:
        raise DataError(
            f"{os.fspath(path)}: mask value {int(bad[0])} is not a class id; expected 0..{num_classes - 1} "
            f"or {IGNORE_LABEL} (ignore)"
        )


def present_classes(mask: np.ndarray, num_classes: int) -> list[int]:
    values = np.unique(mask)
    return [int(v) for v in values if v < num_classes]


def seeded_partition(
    names: Iterable[str], fractions: Mapping[str, float], seed: int
) -> dict[str, list[str]]:
    """Split sorted `names` into named parts of the given fractions (rounded), seeded.

    The first part takes the remainder; later parts get round(fraction * n),
    and at least one item each when there are enough names to give one.
    """
    names = sorted(names)
    order = np.random.default_rng(seed).permutation(len(names))
    parts = list(fractions)
    counts = {p: int(fractions[p] * len(names) + 0.5) for p in parts[1:]}
    if len(names) >= len(parts):
        counts = {p: max(1, c) for p, c in counts.items()}
    result, start = {}, 0
    for p in parts[1:]:
        result[p] = sorted(names[i] for i in order[start : start + counts[p]])
        start += counts[p]
    result[parts[0]] = sorted(names[i] for i in order[start:])
    return {p: result[p] for p in parts}


class SegmentationBuilder(tfds.core.GeneratorBasedBuilder, skip_registration=True):
    """Base of ssseg builders: fixed features, array_record output, class presence metadata.

    Subclasses set CLASS_NAMES and CHANNELS and yield from `_generate_examples`
    with `self._example(split, id, image_bytes, label_array)`.
    """

    CLASS_NAMES: tuple[str, ...] = ()
    CHANNELS: int = 3
    DESCRIPTION = ""

    def __init__(self, **kwargs):
        kwargs.setdefault("file_format", "array_record")
        super().__init__(**kwargs)

    def _info(self) -> tfds.core.DatasetInfo:
        return tfds.core.DatasetInfo(
            builder=self,
            description=self.DESCRIPTION,
            features=segmentation_features(self.CHANNELS),
            metadata=tfds.core.MetadataDict(),
        )

    def _example(self, split: str, example_id: str, image: bytes, label: np.ndarray):
        """One (key, record) pair; also notes the classes in `label` (uint8 [H,W])."""
        presence = self.info.metadata.setdefault("class_presence", {})
        for other_split, ids in presence.items():
            if example_id in ids:
                raise DataError(
                    f"{self.name}: id {example_id!r} appears twice (splits {other_split!r} and {split!r}); "
                    "image names must be unique"
                )
        presence.setdefault(split, {})[example_id] = present_classes(label, len(self.CLASS_NAMES))
        return example_id, {"image": image, "label": encode_png(label), "id": example_id}
