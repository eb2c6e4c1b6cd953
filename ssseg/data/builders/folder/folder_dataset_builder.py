"""TFDS builder of a user's own dataset laid out as a folder.

manual_dir/images/NAME.<png|jpg|jpeg|bmp|tif|tiff>, manual_dir/masks/NAME.png
(8-bit class ids: line k of classes.txt names value k; 255 = ignore) and
manual_dir/classes.txt. Images without a mask are unlabeled-only: they go to
the `unlabeled` split and only ever join the unlabeled pool. Labeled images
are split 70/10/20 into train/val/test with a fixed seed.

Each manual_dir gets its own built copy (config name = folder name + a hash
of its absolute path), so two users' folders never share a cache.
"""

from __future__ import annotations

import hashlib
import os

import numpy as np
import tensorflow_datasets as tfds
from etils import epath

from ssseg.data.builders.records import (
    SegmentationBuilder,
    check_class_ids,
    read_image,
    read_mask,
    seeded_partition,
)
from ssseg.data.labels import IGNORE_LABEL
from ssseg.data.manual_dir import FOLDER_LAYOUT as LAYOUT
from ssseg.data.manual_dir import detect_channels, list_images, read_class_names
from ssseg.errors import DataError

SPLIT_FRACTIONS = {"train": 0.7, "val": 0.1, "test": 0.2}
SPLIT_SEED = 0


def config_name(manual_dir) -> str:
    path = os.path.abspath(os.fspath(manual_dir))
    digest = hashlib.sha1(path.encode()).hexdigest()[:8]
    base = "".join(c if c.isalnum() else "_" for c in os.path.basename(path.rstrip("/")) or "root")
    return f"{base}_{digest}"


class Builder(SegmentationBuilder, skip_registration=True):
    """A user's folder of images and class-id masks."""

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "First release."}
    DESCRIPTION = __doc__
    MANUAL_DOWNLOAD_INSTRUCTIONS = f"Point data.manual_dir at your folder: {LAYOUT}."

    def __init__(self, *, manual_dir, **kwargs):
        self._manual_dir = epath.Path(manual_dir)
        self.CLASS_NAMES = read_class_names(self._manual_dir / "classes.txt")
        self.CHANNELS = detect_channels(self._manual_dir)
        kwargs.setdefault("config", tfds.core.BuilderConfig(name=config_name(manual_dir)))
        super().__init__(**kwargs)

    def _split_generators(self, dl_manager):
        del dl_manager  # the folder is given to the constructor
        labeled, unlabeled = {}, []
        masks_dir = self._manual_dir / "masks"
        for image_path in list_images(self._manual_dir):
            mask_path = masks_dir / f"{image_path.stem}.png"
            if mask_path.exists():
                labeled[image_path.stem] = (image_path, mask_path)
            else:
                unlabeled.append(image_path)
        if not labeled:
            raise DataError(f"{masks_dir}: no masks matching any image; expected masks/NAME.png for labeled images")
        parts = seeded_partition(labeled, SPLIT_FRACTIONS, seed=SPLIT_SEED)
        generators = {
            split: self._generate_examples(split, [(i, *labeled[i]) for i in ids]) for split, ids in parts.items() if ids
        }
        if unlabeled:
            generators["unlabeled"] = self._generate_examples("unlabeled", [(p.stem, p, None) for p in unlabeled])
        return generators

    def _generate_examples(self, split, entries):
        for example_id, image_path, mask_path in entries:
            image, size_hw = read_image(image_path, channels=self.CHANNELS)
            if mask_path is None:  # unlabeled-only: an all-ignore label keeps the record layout uniform
                label = np.full(size_hw, IGNORE_LABEL, np.uint8)
            else:
                label = read_mask(mask_path, size_hw)
                check_class_ids(label, len(self.CLASS_NAMES), mask_path)
            yield self._example(split, example_id, image, label)
