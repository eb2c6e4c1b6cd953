"""What each dataset is: class names, channels, normalisation, default label budgets.

`get_spec(name)` is the one place the rest of ssseg learns about a dataset
without opening its files (the `folder` dataset is the exception: its class
names come from the user's `classes.txt`, so it needs `manual_dir`).
"""

from __future__ import annotations

import dataclasses
import os

from ssseg.data.labels import IGNORE_LABEL
from ssseg.data.manual_dir import detect_channels, read_class_names
from ssseg.errors import ConfigError

# ImageNet statistics: the right normalisation for RGB data fed to ImageNet-pretrained backbones.
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
SEMI_SUP_BUDGETS = ("1/16", "1/8", "1/4", "1/2", "full")


@dataclasses.dataclass(frozen=True)
class DatasetSpec:
    """Static facts about one dataset; `mean`/`std` are of [0,1]-scaled pixels."""

    name: str
    class_names: tuple[str, ...]
    channels: int
    mean: tuple[float, ...]
    std: tuple[float, ...]
    defect_classes: tuple[int, ...] | None = None
    default_budgets: tuple[str, ...] = SEMI_SUP_BUDGETS
    has_unlabeled_truth: bool = True
    ignore_label: int = IGNORE_LABEL
    splits: tuple[str, ...] = ("train", "val", "test")

    @property
    def num_classes(self) -> int:
        return len(self.class_names)


SYNTHETIC_DEFECTS = DatasetSpec(
    name="synthetic_defects",
    class_names=("background", "scratch", "pit", "stain"),
    channels=1,
    # Measured on the generated train split (tests/test_data_synthetic.py checks them).
    mean=(0.480,),
    std=(0.124,),
    defect_classes=(1, 2, 3),
)

MAGNETIC_TILE = DatasetSpec(
    name="magnetic_tile",
    class_names=("background", "blowhole", "break", "crack", "fray", "uneven"),
    channels=1,
    # Measured on the built train split of the real data.
    mean=(0.425,),
    std=(0.182,),
    defect_classes=(1, 2, 3, 4, 5),
)

CAMVID = DatasetSpec(
    name="camvid",
    class_names=(
        "Sky", "Building", "Pole", "Road", "Pavement", "Tree",
        "SignSymbol", "Fence", "Car", "Pedestrian", "Bicyclist",
    ),
    channels=3,
    mean=IMAGENET_MEAN,
    std=IMAGENET_STD,
    default_budgets=("1/16", "1/8", "1/4", "1/2", "full"),
)

PASCAL_VOC = DatasetSpec(
    name="pascal_voc",
    class_names=(
        "background", "aeroplane", "bicycle", "bird", "boat", "bottle", "bus",
        "car", "cat", "chair", "cow", "diningtable", "dog", "horse", "motorbike",
        "person", "pottedplant", "sheep", "sofa", "train", "tvmonitor",
    ),
    channels=3,
    mean=IMAGENET_MEAN,
    std=IMAGENET_STD,
    # UniMatch's classic fixed counts on the 10582-image augmented set, plus full.
    default_budgets=("92", "183", "366", "732", "1464", "1/16", "1/8", "1/4", "1/2", "full"),
    splits=("train", "val"),
)

CITYSCAPES = DatasetSpec(
    name="cityscapes",
    class_names=(
        "road", "sidewalk", "building", "wall", "fence", "pole", "traffic light",
        "traffic sign", "vegetation", "terrain", "sky", "person", "rider", "car",
        "truck", "bus", "train", "motorcycle", "bicycle",
    ),
    channels=3,
    mean=IMAGENET_MEAN,
    std=IMAGENET_STD,
    splits=("train", "val"),
)

_FIXED_SPECS = {s.name: s for s in (SYNTHETIC_DEFECTS, MAGNETIC_TILE, CAMVID, PASCAL_VOC, CITYSCAPES)}
DATASET_NAMES = tuple(sorted([*_FIXED_SPECS, "folder"]))


def folder_spec(manual_dir: str | os.PathLike, channels: int) -> DatasetSpec:
    """Spec of a user's own `folder` dataset with `channels` (1 or 3) image channels."""
    names = read_class_names(os.path.join(os.fspath(manual_dir), "classes.txt"))
    gray = channels == 1
    return DatasetSpec(
        name="folder",
        class_names=names,
        channels=channels,
        mean=(0.5,) if gray else IMAGENET_MEAN,
        std=(0.25,) if gray else IMAGENET_STD,
        # Inspection data: everything but class 0 is a defect worth averaging.
        defect_classes=tuple(range(1, len(names))),
    )


def get_spec(name: str, manual_dir: str | os.PathLike | None = None) -> DatasetSpec:
    """The `DatasetSpec` of dataset `name`.

    `folder` reads class names from `manual_dir/classes.txt` and its channel
    count from the first image (see ssseg/data/builders/folder).
    """
    if name in _FIXED_SPECS:
        return _FIXED_SPECS[name]
    if name == "folder":
        if not manual_dir:
            raise ConfigError(
                "data.name='folder' needs data.manual_dir: a folder with images/, masks/ and classes.txt"
            )
        return folder_spec(manual_dir, detect_channels(manual_dir))
    raise ConfigError(f"data.name={name!r} is unknown; expected one of {', '.join(DATASET_NAMES)}")
