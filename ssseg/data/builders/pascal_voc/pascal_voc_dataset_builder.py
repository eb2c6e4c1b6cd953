"""TFDS builder of pascal_voc (augmented) from the official layout under manual_dir.

manual_dir is VOC2012 (or the VOCdevkit above it) holding JPEGImages/NAME.jpg,
SegmentationClassAug/NAME.png (class ids 0-20, 255 = boundary/ignore) and the
lists ImageSets/SegmentationAug/train_aug.txt + ImageSets/Segmentation/val.txt
(train_aug.txt / val.txt at the top level also work). List lines are ids
(`2007_000032`) or DeepLab's `/JPEGImages/x.jpg /SegmentationClassAug/x.png`.
VOC has no public test labels: the splits are train and val.
"""

from __future__ import annotations

import tensorflow_datasets as tfds
from etils import epath

from ssseg.data.builders.records import SegmentationBuilder, check_class_ids, read_image, read_mask
from ssseg.data.manual_dir import require_dir
from ssseg.data.registry import PASCAL_VOC
from ssseg.errors import DataError

LAYOUT = (
    "JPEGImages/, SegmentationClassAug/, ImageSets/SegmentationAug/train_aug.txt and "
    "ImageSets/Segmentation/val.txt (VOC2012, or VOCdevkit/VOC2012 below it)"
)
LIST_CANDIDATES = {
    "train": ("ImageSets/SegmentationAug/train_aug.txt", "ImageSets/Segmentation/train_aug.txt", "train_aug.txt"),
    "val": ("ImageSets/Segmentation/val.txt", "ImageSets/SegmentationAug/val.txt", "val.txt"),
}


def find_root(path: epath.Path) -> epath.Path:
    for candidate in (path, path / "VOC2012", path / "VOCdevkit" / "VOC2012"):
        if (candidate / "JPEGImages").is_dir():
            return candidate
    raise DataError(f"{path}: no JPEGImages/ folder here or in VOC2012/ below; pascal_voc expects {LAYOUT}")


def read_list(root: epath.Path, split: str) -> list[str]:
    """Ids of `split` from the first list file that exists."""
    for relative in LIST_CANDIDATES[split]:
        path = root / relative
        if path.exists():
            ids = []
            for line in path.read_text().splitlines():
                fields = line.split()
                if fields:
                    ids.append(epath.Path(fields[0]).stem if ("/" in fields[0] or len(fields) > 1) else fields[0])
            if not ids:
                raise DataError(f"{path}: empty list; expected one image id per line")
            return ids
    raise DataError(f"{root}: no {split} list ({' or '.join(LIST_CANDIDATES[split])}); pascal_voc expects {LAYOUT}")


class Builder(SegmentationBuilder, skip_registration=True):
    """PASCAL VOC 2012 augmented: 21 classes, 255 = ignore."""

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "First release."}
    CLASS_NAMES = PASCAL_VOC.class_names
    CHANNELS = 3
    DESCRIPTION = __doc__
    MANUAL_DOWNLOAD_INSTRUCTIONS = f"Point data.manual_dir at VOC2012 with SBD augmentation: {LAYOUT}."

    def _split_generators(self, dl_manager):
        root = find_root(require_dir(dl_manager.manual_dir, "pascal_voc", LAYOUT))
        lists = {split: read_list(root, split) for split in ("train", "val")}
        shared = sorted(set(lists["train"]) & set(lists["val"]))
        if shared:
            raise DataError(f"{root}: id {shared[0]!r} is in both the train and val lists ({len(shared)} shared)")
        return {split: self._generate_examples(root, split, ids) for split, ids in lists.items()}

    def _generate_examples(self, root, split, ids):
        for example_id in ids:
            image, size_hw = read_image(root / "JPEGImages" / f"{example_id}.jpg", channels=3)
            mask_path = root / "SegmentationClassAug" / f"{example_id}.png"
            label = read_mask(mask_path, size_hw)
            check_class_ids(label, len(self.CLASS_NAMES), mask_path)
            yield self._example(split, example_id, image, label)
