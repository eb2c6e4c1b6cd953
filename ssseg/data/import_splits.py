"""Published split lists (UniMatch's, CPS's) into ssseg's layout, so numbers on
VOC and Cityscapes can be set beside the published tables.

Two layouts are read:

- UniMatch: one folder per budget, `splits/pascal/92/{labeled,unlabeled}.txt`,
  `splits/cityscapes/1_16/{labeled,unlabeled}.txt`; lines `JPEGImages/x.jpg
  SegmentationClass/x.png` or `leftImg8bit/train/<city>/<id>_leftImg8bit.png gtFine/...`.
- CPS (TorchSemiSeg): flat files `train_aug_labeled_1-16.txt` beside
  `train_aug_unlabeled_1-16.txt` (any common prefix).

Each budget is written to `<splits_dir>/<dataset>/<budget_dir>/seed<k>/` (the budget
folder `1_16` is ssseg's budget `1/16`, `92` is 92 images), after `check_disjoint` has
passed on it; an existing file is kept when it lists the same ids, and refused otherwise.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from ssseg.data.splits import (LABELED_FILE, UNLABELED_FILE, budget_dir, check_disjoint, load_budget,
                               read_ids, write_budget)
from ssseg.errors import DataError

_CPS_FILE = re.compile(r"^(?P<prefix>.*?)labeled_1-(?P<denominator>\d+)\.txt$")


def budget_of_folder(name: str) -> str:
    """UniMatch's budget folder name as an ssseg budget: `1_16` -> `1/16`, `92` -> `92`."""
    if re.fullmatch(r"\d+_\d+", name):
        return name.replace("_", "/")
    if re.fullmatch(r"\d+", name):
        return name
    raise DataError(f"split folder {name!r}: expected a budget like 1_16 (a fraction) or 92 (a count)")


def find_published(source: str | os.PathLike) -> dict[str, tuple[Path, Path]]:
    """{budget: (labeled file, unlabeled file)} found in a UniMatch- or CPS-style folder."""
    source = Path(source)
    if not source.is_dir():
        raise DataError(f"{source}: not a folder (expected e.g. UniMatch's splits/pascal)")
    found: dict[str, tuple[Path, Path]] = {}
    for folder in sorted(p for p in source.iterdir() if (p / LABELED_FILE).is_file()):
        unlabeled = folder / UNLABELED_FILE
        if not unlabeled.is_file():
            raise DataError(f"{folder}: has {LABELED_FILE} but no {UNLABELED_FILE}")
        found[budget_of_folder(folder.name)] = (folder / LABELED_FILE, unlabeled)
    for path in sorted(source.glob("*labeled_1-*.txt")):
        match = _CPS_FILE.match(path.name)
        if not match or match["prefix"].endswith("un"):
            continue
        unlabeled = source / f"{match['prefix']}unlabeled_1-{match['denominator']}.txt"
        if not unlabeled.is_file():
            raise DataError(f"{path}: no {unlabeled.name} beside it")
        found[f"1/{match['denominator']}"] = (path, unlabeled)
    if not found:
        raise DataError(f"{source}: no split lists found (expected <budget>/labeled.txt + unlabeled.txt "
                        f"folders, as UniMatch's splits/pascal, or CPS's *labeled_1-<n>.txt files)")
    return found


def import_splits(source, sources, seed: int, splits_dir) -> list[tuple[str, str, int, int]]:
    """Import every budget found under ``source`` for a built dataset (`DataSources`) as
    seed ``seed``; returns [(budget, directory, n labeled, n unlabeled)]."""
    dataset = sources.spec.name
    imported = []
    for budget, (labeled_path, unlabeled_path) in find_published(source).items():
        labeled, unlabeled = sorted(read_ids(labeled_path)), sorted(read_ids(unlabeled_path))
        check_disjoint(sources, labeled, unlabeled, where=str(labeled_path.parent))
        directory = budget_dir(splits_dir, dataset, budget, seed)
        for name, ids in ((LABELED_FILE, labeled), (UNLABELED_FILE, unlabeled)):
            existing = os.path.join(directory, name)
            if os.path.isfile(existing) and sorted(read_ids(existing)) != ids:
                raise DataError(f"{existing} exists and lists other ids than {source}; "
                                f"move it away or import as another --seed")
        write_budget(splits_dir, dataset, budget, seed, labeled, unlabeled, exclusive=True)
        # The overlap checker on what now stands in ssseg's layout.
        labeled, unlabeled = load_budget(dataset, budget, seed, splits_dir)
        check_disjoint(sources, labeled, unlabeled, where=directory)
        imported.append((budget, directory, len(labeled), len(unlabeled)))
    return imported
