"""The review queue: images ranked most-uncertain first, cut by a quota or a score threshold, as CSV.

Ties in score are broken by image name, so a queue is the same on every run.
"""

from __future__ import annotations

import csv
import dataclasses
from typing import Sequence

from ssseg.errors import ConfigError

COLUMNS = ("rank", "image", "score", "defect_classes", "defect_area_px", "class_areas_px")


@dataclasses.dataclass(frozen=True)
class ReviewItem:
    """One predicted image: its file name, output stem, image score and predicted defect areas by class name."""

    image: str
    stem: str
    score: float
    class_areas: dict  # class name -> predicted pixels, defect classes present only

    @property
    def defect_area(self) -> int:
        return int(sum(self.class_areas.values()))


def ranked(items: Sequence[ReviewItem]) -> list[ReviewItem]:
    """Most uncertain first; equal scores by image name."""
    return sorted(items, key=lambda item: (-item.score, item.image))


def select(items: Sequence[ReviewItem], quota: int | None = None, threshold: float | None = None) -> list[ReviewItem]:
    """The ranked items with score >= `threshold` (if given), at most `quota` of them (if given)."""
    if quota is not None and quota < 0:
        raise ConfigError(f"--review-quota {quota}: expected a count >= 0")
    queue = [item for item in ranked(items) if threshold is None or item.score >= threshold]
    return queue if quota is None else queue[:quota]


def row(rank: int, item: ReviewItem) -> dict:
    return {
        "rank": rank,
        "image": item.image,
        "score": f"{item.score:.6f}",
        "defect_classes": ";".join(item.class_areas),
        "defect_area_px": item.defect_area,
        "class_areas_px": ";".join(f"{name}:{area}" for name, area in item.class_areas.items()),
    }


def write_csv(path: str, items: Sequence[ReviewItem]) -> None:
    """One row per item, in the given order, ranks from 1."""
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS)
        writer.writeheader()
        for rank, item in enumerate(items, 1):
            writer.writerow(row(rank, item))
