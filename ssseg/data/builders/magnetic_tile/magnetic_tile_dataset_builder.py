"""TFDS builder of magnetic_tile: MT_<Defect>/Imgs/NAME.jpg + NAME.png pairs, 6 classes.

Source: github.com/abin24/Magnetic-tile-defect-datasets. (Huang, Qiu, Yuan,
"Surface defect saliency of magnetic tile", The Visual Computer 2020).
Masks are anti-aliased binary images: pixels >= 128 take the class of their
folder. The train/val/test split (70/10/20) is drawn once with a fixed seed,
separately inside each folder so every defect type keeps its share.
"""

from __future__ import annotations

import numpy as np
import tensorflow_datasets as tfds
from etils import epath

from ssseg.data.builders.records import SegmentationBuilder, read_image, read_mask, seeded_partition
from ssseg.data.manual_dir import require_dir
from ssseg.data.registry import MAGNETIC_TILE
from ssseg.errors import DataError

ARCHIVE_URL = "https://github.com/abin24/Magnetic-tile-defect-datasets./archive/refs/heads/master.zip"
FOLDER_CLASS = {
    "MT_Free": 0,
    "MT_Blowhole": 1,
    "MT_Break": 2,
    "MT_Crack": 3,
    "MT_Fray": 4,
    "MT_Uneven": 5,
}
SPLIT_FRACTIONS = {"train": 0.7, "val": 0.1, "test": 0.2}
SPLIT_SEED = 0
MASK_THRESHOLD = 128
LAYOUT = "MT_Blowhole/Imgs/NAME.jpg + NAME.png, ... for MT_Break, MT_Crack, MT_Fray, MT_Free, MT_Uneven"


def find_root(path: epath.Path) -> epath.Path | None:
    """The folder holding the MT_* folders: `path` itself or one level below (an extracted archive)."""
    candidates = [path, *sorted(p for p in path.iterdir() if p.is_dir())]
    for candidate in candidates:
        if any((candidate / name).is_dir() for name in FOLDER_CLASS):
            return candidate
    return None


def list_pairs(root: epath.Path) -> dict[str, list[tuple[str, epath.Path, epath.Path]]]:
    """{folder: [(id, image_path, mask_path)]} sorted by id; a missing mask is a DataError."""
    pairs = {}
    for folder in FOLDER_CLASS:
        imgs = root / folder / "Imgs"
        if not imgs.is_dir():
            raise DataError(f"{imgs}: folder missing; expected {LAYOUT}")
        entries = []
        for image_path in sorted(imgs.glob("*.jpg")):
            mask_path = image_path.with_suffix(".png")
            if not mask_path.exists():
                raise DataError(f"{image_path}: no mask {mask_path.name} next to it; expected NAME.jpg + NAME.png")
            entries.append((image_path.stem, image_path, mask_path))
        if not entries:
            raise DataError(f"{imgs}: no .jpg images; expected {LAYOUT}")
        pairs[folder] = entries
    return pairs


def split_ids(pairs: dict[str, list[tuple[str, epath.Path, epath.Path]]]) -> dict[str, list[tuple[str, epath.Path, epath.Path, int]]]:
    """Fixed stratified split: {split: [(id, image, mask, class)]}."""
    result = {split: [] for split in SPLIT_FRACTIONS}
    for folder_index, (folder, entries) in enumerate(pairs.items()):
        by_id = {e[0]: e for e in entries}
        parts = seeded_partition(by_id, SPLIT_FRACTIONS, seed=SPLIT_SEED * 1000 + folder_index)
        for split, ids in parts.items():
            result[split].extend((*by_id[i], FOLDER_CLASS[folder]) for i in ids)
    return result


class Builder(SegmentationBuilder, skip_registration=True):
    """Magnetic-tile surface defects: background + blowhole, break, crack, fray, uneven."""

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "First release: 6 classes, fixed 70/10/20 stratified split (seed 0)."}
    CLASS_NAMES = MAGNETIC_TILE.class_names
    CHANNELS = 1
    DESCRIPTION = __doc__
    MANUAL_DOWNLOAD_INSTRUCTIONS = (
        "Point data.manual_dir (or --manual-dir) at the extracted repository "
        f"github.com/abin24/Magnetic-tile-defect-datasets. : {LAYOUT}. Without it the "
        "builder downloads the archive itself."
    )

    def _split_generators(self, dl_manager):
        try:
            root_dir = dl_manager.manual_dir
        except AssertionError:  # no manual_dir: fetch the public archive (needs internet)
            root_dir = epath.Path(dl_manager.download_and_extract(ARCHIVE_URL))
        root = find_root(require_dir(root_dir, "magnetic_tile", LAYOUT))
        if root is None:
            raise DataError(f"{root_dir}: no MT_* folders found; expected {LAYOUT}")
        splits = split_ids(list_pairs(root))
        return {split: self._generate_examples(split, entries) for split, entries in splits.items()}

    def _generate_examples(self, split, entries):
        for example_id, image_path, mask_path, cls in entries:
            image, size_hw = read_image(image_path, channels=1)
            mask = read_mask(mask_path, size_hw)
            label = np.where(mask >= MASK_THRESHOLD, cls, 0).astype(np.uint8)
            yield self._example(split, example_id, image, label)
