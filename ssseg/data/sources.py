"""Random-access record sources for a configured dataset, built on first use.

`load_sources(data_cfg)` finds (or builds) the TFDS array_record files of
`data_cfg.name` and returns a `DataSources`: per-split sources that give numpy
records, the id -> (split, index) map, and the classes present in each
example (what split generation needs). No TensorFlow is involved.
"""

from __future__ import annotations

import dataclasses
import importlib
import io
import os
from typing import Mapping

import numpy as np
import tensorflow_datasets as tfds
from PIL import Image

from ssseg.data.manual_dir import require_dir
from ssseg.data.registry import DATASET_NAMES, DatasetSpec, get_spec
from ssseg.errors import ConfigError, DataError

# Datasets whose builder cannot run without files the user provides.
_NEEDS_MANUAL_DIR = {"camvid", "folder", "pascal_voc", "cityscapes"}


def _decode_png_or_jpeg(data: bytes) -> np.ndarray:
    """uint8 [H,W] or [H,W,C] pixels of stored image bytes."""
    with Image.open(io.BytesIO(data)) as image:
        return np.asarray(image)


class RecordSource:
    """One split as a sequence of numpy records: image uint8 [H,W,C], label uint8 [H,W], id str.

    Reads the stored bytes and decodes them with PIL itself: TFDS's numpy
    decoder copies every grayscale image once more to add the channel axis.
    Picklable (grain workers receive a copy).
    """

    def __init__(self, tfds_source, channels: int):
        self._source = tfds_source
        self._channels = channels

    def __len__(self) -> int:
        return len(self._source)

    def __getitem__(self, index: int) -> dict:
        raw = self._source[int(index)]
        image = _decode_png_or_jpeg(raw["image"])
        if image.ndim == 2:
            image = image[..., None]
        if image.shape[-1] != self._channels:
            raise DataError(f"record {raw['id']!r}: image has {image.shape[-1]} channels, expected {self._channels}")
        example_id = raw["id"]
        return {
            "image": image,
            "label": _decode_png_or_jpeg(raw["label"]),
            "id": example_id.decode() if isinstance(example_id, bytes) else str(example_id),
        }


@dataclasses.dataclass(frozen=True)
class DataSources:
    """Everything the pipeline and split generation read from a built dataset."""

    spec: DatasetSpec
    splits: Mapping[str, RecordSource]  # train/val/test where they exist, `unlabeled` for folder data
    locations: Mapping[str, tuple[str, int]]  # id -> (split, index in that split)
    class_presence: Mapping[str, tuple[int, ...]]  # id -> class ids present in its label
    data_dir: str

    def ids(self, split: str) -> tuple[str, ...]:
        """Ids of `split`, sorted."""
        if split not in self.splits:
            return ()
        return tuple(sorted(i for i, (s, _) in self.locations.items() if s == split))

    def record(self, example_id: str) -> dict:
        try:
            split, index = self.locations[example_id]
        except KeyError:
            raise DataError(f"{self.spec.name}: id {example_id!r} is not in the built dataset") from None
        return self.splits[split][index]

    def source(self, split: str) -> RecordSource:
        if split not in self.splits:
            raise DataError(f"{self.spec.name} has no {split!r} split; it has {', '.join(self.splits)}")
        return self.splits[split]


def _cfg(data_cfg, key: str):
    """A path-like key of config.data, None where it is unset ("")."""
    return data_cfg[key] or None


def make_builder(name: str, manual_dir: str | None = None, data_dir: str | None = None):
    """The TFDS builder of dataset `name` (not yet prepared), under data_dir, else $TFDS_DATA_DIR, else ~/tensorflow_datasets."""
    if name not in DATASET_NAMES:
        raise ConfigError(f"data.name={name!r} is unknown; expected one of {', '.join(DATASET_NAMES)}")
    module = importlib.import_module(f"ssseg.data.builders.{name}.{name}_dataset_builder")
    if name in _NEEDS_MANUAL_DIR or manual_dir:  # a given manual_dir must be right, never silently downloaded over
        require_dir(manual_dir, name, module.LAYOUT)
    # Read $TFDS_DATA_DIR now: TFDS itself reads it once, when first imported.
    data_dir = data_dir or os.environ.get("TFDS_DATA_DIR") or None
    kwargs = {"data_dir": os.path.expanduser(data_dir) if data_dir else None}
    if name == "folder":
        kwargs["manual_dir"] = manual_dir
    return module.Builder(**kwargs)


def prepare(builder, manual_dir: str | None = None) -> None:
    """Build the dataset's array_record files unless they already exist."""
    download_config = tfds.download.DownloadConfig(manual_dir=os.path.expanduser(manual_dir) if manual_dir else None)
    builder.download_and_prepare(download_config=download_config)


_SKIP_IMAGE_DECODING = {"image": tfds.decode.SkipDecoding(), "label": tfds.decode.SkipDecoding()}


def _scan_ids(encoded_source) -> list[str]:
    return [r["id"].decode() if isinstance(r["id"], bytes) else str(r["id"]) for r in encoded_source]


def load_sources(data_cfg) -> DataSources:
    """Build `data_cfg.name` if needed (under data_cfg.data_dir or $TFDS_DATA_DIR) and open it."""
    name = _cfg(data_cfg, "name")
    manual_dir = _cfg(data_cfg, "manual_dir")
    builder = make_builder(name, manual_dir, _cfg(data_cfg, "data_dir"))
    prepare(builder, manual_dir)
    spec = get_spec(name, manual_dir)
    presence_by_split = builder.info.metadata.get("class_presence", {})
    splits, locations, presence = {}, {}, {}
    for split in builder.info.splits:
        encoded = builder.as_data_source(split, decoders=_SKIP_IMAGE_DECODING)
        splits[split] = RecordSource(encoded, spec.channels)
        for index, example_id in enumerate(_scan_ids(encoded)):
            locations[example_id] = (split, index)
            presence[example_id] = tuple(presence_by_split.get(split, {}).get(example_id, ()))
    return DataSources(
        spec=spec,
        splits=splits,
        locations=locations,
        class_presence=presence,
        data_dir=os.fspath(builder.data_dir),
    )
