"""Fixed label budgets: which train images are labeled for a (dataset, budget, seed).

Files live at `<splits_dir>/<dataset>/<budget_dir>/seed<k>/{labeled,unlabeled}.txt`
(one id per line, sorted), with budget dirs like `1_16`, `40`, `full`.
For one seed, budgets are nested (1/16 ⊂ 1/8 ⊂ ... ⊂ full) because each is a
prefix of the same seeded draw order, and that order starts with one image of
every class (rarest class first), so every budget holds every class.
"""

from __future__ import annotations

import fractions
import os
from typing import Iterable, Mapping, Sequence

import numpy as np

from ssseg.errors import DataError

FULL = "full"
LABELED_FILE = "labeled.txt"
UNLABELED_FILE = "unlabeled.txt"


def parse_budget(budget: str) -> fractions.Fraction | int | str:
    """'1/8' -> Fraction(1, 8); '40' -> 40; 'full' -> 'full'."""
    text = str(budget).strip()
    if text == FULL:
        return FULL
    try:
        if "/" in text:
            value = fractions.Fraction(text)
            if 0 < value <= 1:
                return value
        elif int(text) > 0:
            return int(text)
    except (ValueError, ZeroDivisionError):
        pass
    raise DataError(f"budget {budget!r}: expected a fraction like '1/8', a positive count like '40', or 'full'")


def budget_dirname(budget: str) -> str:
    """Directory name of a budget: '1/8' -> '1_8', '40' -> '40', 'full' -> 'full'."""
    value = parse_budget(budget)
    if isinstance(value, fractions.Fraction):
        return FULL if value == 1 else f"{value.numerator}_{value.denominator}"
    return str(value)


def budget_size(budget: str, pool_size: int) -> int:
    """Number of labeled images of `budget` in a pool of `pool_size`."""
    value = parse_budget(budget)
    if value == FULL:
        return pool_size
    if isinstance(value, fractions.Fraction):
        return max(1, int(value * pool_size))  # floor: a budget never rounds up past its fraction
    if value > pool_size:
        raise DataError(f"budget {budget!r} asks for {value} labeled images but the labeled pool has {pool_size}")
    return value


def draw_order(pool_ids: Sequence[str], class_presence: Mapping[str, Iterable[int]], seed: int) -> list[str]:
    """Seeded order of `pool_ids` whose first images cover every class present in the pool."""
    ids = sorted(pool_ids)
    order = [ids[i] for i in np.random.default_rng(seed).permutation(len(ids))]
    holders: dict[int, int] = {}
    for example_id in ids:
        for cls in class_presence.get(example_id, ()):
            holders[cls] = holders.get(cls, 0) + 1
    cover, covered = [], set()
    for cls in sorted(holders, key=lambda c: (holders[c], c)):  # rarest class first
        if cls in covered:
            continue
        pick = next(i for i in order if cls in class_presence.get(i, ()))
        cover.append(pick)
        covered.update(class_presence[pick])
    chosen = set(cover)
    return cover + [i for i in order if i not in chosen]


def min_budget_for_classes(order: Sequence[str], class_presence: Mapping[str, Iterable[int]]) -> int:
    """Length of the shortest prefix of `order` that contains every class of the pool."""
    wanted = set().union(*(set(class_presence.get(i, ())) for i in order)) if order else set()
    seen: set[int] = set()
    for n, example_id in enumerate(order, start=1):
        seen.update(class_presence.get(example_id, ()))
        if seen >= wanted:
            return n
    return len(order)


def draw_budgets(
    pool_ids: Sequence[str],
    class_presence: Mapping[str, Iterable[int]],
    budgets: Sequence[str],
    seed: int,
    extra_unlabeled: Sequence[str] = (),
) -> dict[str, tuple[list[str], list[str]]]:
    """{budget: (labeled, unlabeled)} for one seed, sorted ids; unlabeled-only images join every unlabeled list."""
    if not pool_ids:
        raise DataError("the labeled pool (train split) is empty; nothing to draw budgets from")
    order = draw_order(pool_ids, class_presence, seed)
    needed = min_budget_for_classes(order, class_presence)
    result = {}
    for budget in budgets:
        size = budget_size(budget, len(order))
        if size < needed:
            raise DataError(
                f"budget {budget!r} gives {size} labeled images but {needed} are needed to hold every class once"
            )
        labeled = sorted(order[:size])
        unlabeled = sorted([*order[size:], *extra_unlabeled])
        result[budget] = (labeled, unlabeled)
    return result


def budget_dir(splits_dir: str | os.PathLike, dataset: str, budget: str, seed: int) -> str:
    return os.path.join(os.fspath(splits_dir), dataset, budget_dirname(budget), f"seed{seed}")


def _write_ids(path: str, ids: Sequence[str], exclusive: bool = False) -> None:
    if not exclusive:
        with open(path, "w", encoding="utf-8", newline="\n") as f:
            f.writelines(f"{i}\n" for i in ids)
        return
    # Written aside, then linked into place: a reader never sees half a file, and a file
    # that appeared meanwhile (another process, same draw) is kept, never overwritten.
    tmp = f"{path}.{os.getpid()}.tmp"
    _write_ids(tmp, ids)
    try:
        os.link(tmp, path)
    except FileExistsError:
        pass
    finally:
        os.remove(tmp)


def write_budget(splits_dir, dataset: str, budget: str, seed: int, labeled, unlabeled,
                 exclusive: bool = False) -> str:
    """Write one budget's files; returns its directory. ``exclusive``: keep files already there."""
    directory = budget_dir(splits_dir, dataset, budget, seed)
    os.makedirs(directory, exist_ok=True)
    _write_ids(os.path.join(directory, LABELED_FILE), labeled, exclusive)
    _write_ids(os.path.join(directory, UNLABELED_FILE), unlabeled, exclusive)
    return directory


def draw_dataset_budgets(sources, budgets: Sequence[str], seed: int) -> dict[str, tuple[list[str], list[str]]]:
    """{budget: (labeled, unlabeled)} of a built dataset (`DataSources`) for one seed."""
    return draw_budgets(sources.ids("train"), sources.class_presence, budgets, seed, sources.ids("unlabeled"))


def generate_splits(sources, budgets: Sequence[str], seeds: Sequence[int], splits_dir) -> list[str]:
    """Write every (budget, seed) of a built dataset (`DataSources`); returns the directories written."""
    written = []
    for seed in seeds:
        for budget, (labeled, unlabeled) in draw_dataset_budgets(sources, budgets, seed).items():
            written.append(write_budget(splits_dir, sources.spec.name, budget, seed, labeled, unlabeled))
    return written


# Cityscapes names images `<city>_<seq>_<frame>_leftImg8bit.png`; its ids are the part before.
_IMAGE_STEM_SUFFIXES = ("_leftImg8bit",)


def id_from_image_path(path: str) -> str:
    """`JPEGImages/2007_000032.jpg` -> `2007_000032`; `.../aachen_000000_000019_leftImg8bit.png` -> `aachen_000000_000019`."""
    stem = os.path.splitext(os.path.basename(path))[0]
    for suffix in _IMAGE_STEM_SUFFIXES:
        if stem.endswith(suffix):
            return stem[: -len(suffix)]
    return stem


def read_ids(path: str | os.PathLike) -> list[str]:
    """Ids of a split file: one id per line, or UniMatch's `image_path mask_path` lines (id = image
    stem, less Cityscapes' `_leftImg8bit`)."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise DataError(f"{path}: split file not found")
    ids = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            fields = line.split()
            if not fields:
                continue
            first = fields[0]
            ids.append(id_from_image_path(first) if ("/" in first or len(fields) > 1) else first)
    return ids


def load_budget(dataset: str, budget: str, seed: int, splits_dir) -> tuple[list[str], list[str]]:
    """(labeled_ids, unlabeled_ids) of a committed budget; missing, empty or oversize budgets are DataErrors."""
    directory = budget_dir(splits_dir, dataset, budget, seed)
    full_labeled = os.path.join(budget_dir(splits_dir, dataset, FULL, seed), LABELED_FILE)
    value = parse_budget(budget)
    if isinstance(value, int) and os.path.isfile(full_labeled):
        pool_size = len(read_ids(full_labeled))
        if value > pool_size:
            raise DataError(f"budget {budget!r}: {dataset} has only {pool_size} labeled train images ({full_labeled})")
    if not os.path.isdir(directory):
        raise DataError(
            f"{directory}: no split files for {dataset} budget {budget} seed {seed}; create them with "
            f"`ssseg splits generate --dataset {dataset} --budgets {budget} --seeds {seed}`"
        )
    labeled = read_ids(os.path.join(directory, LABELED_FILE))
    unlabeled = read_ids(os.path.join(directory, UNLABELED_FILE))
    if not labeled:
        raise DataError(f"{os.path.join(directory, LABELED_FILE)}: empty; a budget needs at least one labeled id")
    if not unlabeled and value != FULL:
        raise DataError(f"{os.path.join(directory, UNLABELED_FILE)}: empty; only the 'full' budget may have no unlabeled ids")
    return labeled, unlabeled


def check_disjoint(sources, labeled: Sequence[str], unlabeled: Sequence[str], where: str = "") -> None:
    """Labeled ⊂ train, unlabeled ⊂ train ∪ unlabeled-only, and neither meets val/test or each other."""
    prefix = f"{where}: " if where else ""
    for name, ids in (("labeled", labeled), ("unlabeled", unlabeled)):
        if len(set(ids)) != len(ids):
            dup = next(i for i in ids if ids.count(i) > 1)
            raise DataError(f"{prefix}id {dup!r} is listed twice in the {name} list")
        for example_id in ids:
            if example_id not in sources.locations:
                raise DataError(f"{prefix}{name} id {example_id!r} does not exist in {sources.spec.name}")
    allowed = {"labeled": {"train"}, "unlabeled": {"train", "unlabeled"}}
    for name, ids in (("labeled", labeled), ("unlabeled", unlabeled)):
        for example_id in ids:
            split = sources.locations[example_id][0]
            if split not in allowed[name]:
                raise DataError(f"{prefix}{name} id {example_id!r} belongs to the {split} split; it must come from train")
    shared = sorted(set(labeled) & set(unlabeled))
    if shared:
        raise DataError(f"{prefix}id {shared[0]!r} is both labeled and unlabeled ({len(shared)} shared)")
