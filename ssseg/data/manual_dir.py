"""A dataset's manual_dir on disk, checked before anything is built: that it exists, and
the user `folder` layout (images, masks, classes.txt). No TFDS import, so the registry and
the sources can check a folder without the builders."""

from __future__ import annotations

import os

from etils import epath
from PIL import Image

from ssseg.data.labels import IGNORE_LABEL
from ssseg.errors import DataError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")
FOLDER_LAYOUT = "images/NAME.png|jpg, masks/NAME.png (class ids; 255 = ignore), classes.txt (one class name per line)"


def require_dir(path: str | os.PathLike | None, dataset: str, layout: str) -> epath.Path:
    """`path` as a directory that exists and is not empty, else a DataError describing `layout`."""
    if not path:
        raise DataError(f"{dataset}: data.manual_dir is not set; point it at a folder laid out as {layout}")
    path = epath.Path(path)
    if not path.is_dir():
        raise DataError(f"{path}: {dataset} manual_dir does not exist; expected a folder laid out as {layout}")
    if not any(path.iterdir()):
        raise DataError(f"{path}: {dataset} manual_dir is empty; expected a folder laid out as {layout}")
    return path


def read_class_names(classes_txt: str | os.PathLike) -> tuple[str, ...]:
    """Class names from a `classes.txt` (one per line, blank lines skipped)."""
    path = os.fspath(classes_txt)
    if not os.path.isfile(path):
        raise DataError(
            f"{path}: classes.txt not found; the folder dataset expects manual_dir/classes.txt "
            "with one class name per line (line k names mask value k)"
        )
    with open(path, encoding="utf-8") as f:
        names = tuple(line.strip() for line in f if line.strip())
    if len(names) < 2:
        raise DataError(f"{path}: expected at least 2 class names (one per line), found {len(names)}")
    if len(names) > IGNORE_LABEL:
        raise DataError(f"{path}: {len(names)} classes; at most {IGNORE_LABEL} fit in a uint8 mask (255 = ignore)")
    if len(set(names)) != len(names):
        raise DataError(f"{path}: class names must be unique, got {names}")
    return names


def list_images(manual_dir) -> list[epath.Path]:
    images_dir = require_dir(manual_dir, "folder", FOLDER_LAYOUT) / "images"
    if not images_dir.is_dir():
        raise DataError(f"{images_dir}: folder missing; the folder dataset expects {FOLDER_LAYOUT}")
    images = sorted(p for p in images_dir.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not images:
        raise DataError(f"{images_dir}: no images ({', '.join(IMAGE_SUFFIXES)}); expected {FOLDER_LAYOUT}")
    stems = [p.stem for p in images]
    dupes = sorted({s for s in stems if stems.count(s) > 1})
    if dupes:
        raise DataError(f"{images_dir}: several images share the name {dupes[0]!r}; names must be unique")
    return images


def detect_channels(manual_dir) -> int:
    """1 if the first image (sorted by name) is grayscale, else 3; every image is converted to it."""
    first = list_images(manual_dir)[0]
    try:
        with Image.open(first) as image:
            mode = image.mode
    except OSError as e:
        raise DataError(f"{first}: unreadable image ({e})") from None
    return 1 if mode in ("1", "L", "LA", "I", "I;16", "F") else 3
