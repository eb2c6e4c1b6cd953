"""Clean-up of a predicted label map, per defect class: opening, closing, hole filling, small components.

Inspection masks are judged by their blobs, and a segmentation network leaves
specks, ragged edges and pin-holes that a rule such as "fail if any crack"
counts as defects. Each defect class's mask is processed on its own
(background is class 0), in this order:

1. ``open=R``: morphological opening with a disk of radius R (removes specks and
   spurs thinner than the disk);
2. ``close=R``: closing with a disk of radius R (bridges gaps, smooths dents);
3. ``fill_holes``: background enclosed by the class becomes the class;
4. ``min_area=N`` (every defect class) or ``min_area:<class>=N`` (one class; a
   later item overrides an earlier one): 8-connected components smaller than N
   pixels are removed.

Pixels a class loses become background; pixels it gains are taken only from
pixels the network called background, so one defect class never overwrites
another. Spec string: comma-separated items, e.g. ``min_area=20,open=1,fill_holes``.
"""

from __future__ import annotations

import dataclasses
from typing import Sequence

import numpy as np
from scipy import ndimage
from skimage import morphology

from ssseg.errors import ConfigError

BACKGROUND = 0
# 8-connectivity: a thin diagonal crack is one component, not a chain of single pixels.
CONNECTIVITY_8 = np.ones((3, 3), bool)


@dataclasses.dataclass(frozen=True)
class PostProcess:
    """What to apply; `min_area` maps class id -> minimum component area in pixels."""

    open_radius: int = 0
    close_radius: int = 0
    fill_holes: bool = False
    min_area: tuple[tuple[int, int], ...] = ()
    spec: str = ""

    @property
    def is_identity(self) -> bool:
        return not (self.open_radius or self.close_radius or self.fill_holes or self.min_area)

    def __call__(self, pred_hw: np.ndarray, defect_classes: Sequence[int]) -> np.ndarray:
        """An integer label map [H,W] post-processed (a new array; the input itself if nothing is asked)."""
        if self.is_identity:
            return pred_hw
        out = pred_hw.copy()
        free = pred_hw == BACKGROUND  # pixels a class may gain
        min_area = dict(self.min_area)
        for c in defect_classes:
            before = pred_hw == c
            mask = before
            if self.open_radius:
                mask = _morphology(morphology.opening, mask, self.open_radius)
            if self.close_radius:
                mask = _morphology(morphology.closing, mask, self.close_radius)
            if self.fill_holes:
                mask = ndimage.binary_fill_holes(mask)
            if min_area.get(c, 0) > 0:
                mask = remove_small_components(mask, min_area[c])
            out[before & ~mask] = BACKGROUND
            gained = mask & ~before & free
            out[gained] = c
            free &= ~gained
        return out


def _morphology(op, mask_hw: np.ndarray, radius: int) -> np.ndarray:
    """`op` with a disk, the image surrounded by background: skimage's default mirrors
    the image at its border, so a closing near it would grow objects out of nothing."""
    padded = np.pad(mask_hw, radius)
    return op(padded, morphology.disk(radius))[radius:-radius, radius:-radius]


def remove_small_components(mask_hw: np.ndarray, min_area: int) -> np.ndarray:
    """`mask_hw` without its 8-connected components of fewer than `min_area` pixels."""
    labels, _ = ndimage.label(mask_hw, CONNECTIVITY_8)
    areas = np.bincount(labels.reshape(-1))
    keep = areas >= min_area
    keep[0] = False
    return keep[labels]


def defect_class_id(name: str, class_names: Sequence[str], defect_classes: Sequence[int], where: str) -> int:
    """The id of defect class `name`; a one-line error naming `where` otherwise."""
    if name not in class_names or class_names.index(name) not in defect_classes:
        names = ", ".join(class_names[c] for c in defect_classes)
        raise ConfigError(f"{where}: {name!r} is not a defect class; expected one of {names}")
    return class_names.index(name)


def _non_negative_int(key: str, raw: str, where: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        value = -1
    if value < 0:
        raise ConfigError(f"{where}: {key}={raw!r}, expected a whole number >= 0")
    return value


def _items(spec: str) -> list[str]:
    return [p for p in (p.strip() for p in spec.split(",")) if p and p != "none"]


def parse_postprocess(spec: str, class_names: Sequence[str], defect_classes: Sequence[int]) -> PostProcess:
    """``"min_area=20,min_area:crack=5,open=1,close=2,fill_holes"`` -> PostProcess (``""``/``none``: nothing)."""
    class_names, defect_classes = tuple(class_names), tuple(defect_classes)
    out = PostProcess(spec=",".join(_items(spec)))
    for part in _items(spec):
        out = _apply_item(out, part, class_names, defect_classes)
    return out


def single_options(spec: str, class_names: Sequence[str], defect_classes: Sequence[int]) -> list[PostProcess]:
    """Each item of a spec on its own, to show each option's effect (empty for a one-item spec)."""
    items = _items(spec)
    return [parse_postprocess(p, class_names, defect_classes) for p in items] if len(items) > 1 else []


def _apply_item(base: PostProcess, part: str, class_names, defect_classes) -> PostProcess:
    where = f"--postprocess item {part!r}"
    key, sep, raw = part.partition("=")
    if key == "fill_holes" and not sep:
        return dataclasses.replace(base, fill_holes=True)
    if key in ("open", "close") and sep:
        return dataclasses.replace(base, **{f"{key}_radius": _non_negative_int(key, raw, where)})
    if key.partition(":")[0] == "min_area" and sep:
        area = _non_negative_int(key, raw, where)
        name = key.partition(":")[2]
        ids = [defect_class_id(name, class_names, defect_classes, where)] if name else list(defect_classes)
        areas = dict(base.min_area)
        areas.update({c: area for c in ids})
        return dataclasses.replace(base, min_area=tuple(sorted(areas.items())))
    raise ConfigError(f"{where}: expected open=R, close=R, fill_holes, min_area=N or min_area:<class>=N")
