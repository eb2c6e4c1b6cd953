"""TFDS builder of cityscapes (gtFine, 19 classes) from the official layout under manual_dir.

manual_dir/leftImg8bit/{train,val}/<city>/<city>_<seq>_<frame>_leftImg8bit.png and
manual_dir/gtFine/{train,val}/<city>/<city>_<seq>_<frame>_gtFine_labelTrainIds.png
(made by cityscapesscripts' createTrainIdLabelImgs). Where only
`*_gtFine_labelIds.png` exist they are mapped to train ids here with the
official table. Test labels are not public: the splits are train and val.
"""

from __future__ import annotations

import numpy as np
import tensorflow_datasets as tfds

from ssseg.data.builders.records import SegmentationBuilder, check_class_ids, read_image, read_mask
from ssseg.data.manual_dir import require_dir
from ssseg.data.labels import IGNORE_LABEL
from ssseg.data.registry import CITYSCAPES
from ssseg.errors import DataError

LAYOUT = (
    "leftImg8bit/{train,val}/<city>/*_leftImg8bit.png and "
    "gtFine/{train,val}/<city>/*_gtFine_labelTrainIds.png (or *_gtFine_labelIds.png)"
)
IMAGE_SUFFIX = "_leftImg8bit.png"
# Official cityscapesscripts labels.py: label id -> train id (255 = ignored in evaluation).
_TRAIN_ID_OF = {7: 0, 8: 1, 11: 2, 12: 3, 13: 4, 17: 5, 19: 6, 20: 7, 21: 8, 22: 9, 23: 10, 24: 11,
                25: 12, 26: 13, 27: 14, 28: 15, 31: 16, 32: 17, 33: 18}
LABEL_ID_TO_TRAIN_ID = np.full(256, IGNORE_LABEL, np.uint8)
for _label_id, _train_id in _TRAIN_ID_OF.items():
    LABEL_ID_TO_TRAIN_ID[_label_id] = _train_id


def list_pairs(root, split: str) -> list[tuple[str, object, object, bool]]:
    """[(id, image, label, label_is_train_ids)] of one split, sorted by id."""
    images_dir, labels_dir = root / "leftImg8bit" / split, root / "gtFine" / split
    for d in (images_dir, labels_dir):
        if not d.is_dir():
            raise DataError(f"{d}: folder missing; cityscapes expects {LAYOUT}")
    pairs = []
    for image_path in sorted(images_dir.glob(f"*/*{IMAGE_SUFFIX}")):
        example_id = image_path.name[: -len(IMAGE_SUFFIX)]
        city_dir = labels_dir / image_path.parent.name
        train_ids = city_dir / f"{example_id}_gtFine_labelTrainIds.png"
        label_ids = city_dir / f"{example_id}_gtFine_labelIds.png"
        if train_ids.exists():
            pairs.append((example_id, image_path, train_ids, True))
        elif label_ids.exists():
            pairs.append((example_id, image_path, label_ids, False))
        else:
            raise DataError(f"{image_path}: no {train_ids.name} (or {label_ids.name}) in {city_dir}")
    if not pairs:
        raise DataError(f"{images_dir}: no *{IMAGE_SUFFIX} images; cityscapes expects {LAYOUT}")
    return pairs


class Builder(SegmentationBuilder, skip_registration=True):
    """Cityscapes fine: 19 classes, 255 = ignore."""

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "First release."}
    CLASS_NAMES = CITYSCAPES.class_names
    CHANNELS = 3
    DESCRIPTION = __doc__
    MANUAL_DOWNLOAD_INSTRUCTIONS = f"Point data.manual_dir at the Cityscapes root: {LAYOUT}."

    def _split_generators(self, dl_manager):
        root = require_dir(dl_manager.manual_dir, "cityscapes", LAYOUT)
        return {split: self._generate_examples(split, list_pairs(root, split)) for split in ("train", "val")}

    def _generate_examples(self, split, pairs):
        for example_id, image_path, label_path, is_train_ids in pairs:
            image, size_hw = read_image(image_path, channels=3)
            label = read_mask(label_path, size_hw)
            if not is_train_ids:
                label = LABEL_ID_TO_TRAIN_ID[label]
            check_class_ids(label, len(self.CLASS_NAMES), label_path)
            yield self._example(split, example_id, image, label)
