"""Split files of an active-learning round, written exactly like any label budget.

A round with n labeled images is the count budget `n` under its own splits root
(`<root>/<dataset>/<n>/seed<k>/{labeled,unlabeled}.txt`, ssseg.data.splits), so the round
is an ordinary run: `ssseg train --config ... --config.data.splits_dir=<root>
--config.data.budget=<n> --config.seed=<k>`. Each strategy has its own root (two strategies
reach the same n with different images). Files already there are never overwritten with
different ids, and the shipped budgets' directory is refused as a root.
"""

from __future__ import annotations

import os
from typing import Sequence

from ssseg.data import splits
from ssseg.errors import DataError


def next_split(labeled: Sequence[str], unlabeled: Sequence[str], picked: Sequence[str]) -> tuple[list[str], list[str]]:
    """(labeled ∪ picked, unlabeled − picked), sorted; every pick must come from the unlabeled list."""
    pool = set(unlabeled)
    missing = [i for i in picked if i not in pool]
    if missing:
        raise DataError(f"selected id {missing[0]!r} is not in the unlabeled pool")
    chosen = set(picked)
    return sorted(set(labeled) | chosen), sorted(pool - chosen)


def check_root(splits_root: str, shipped_dir: str) -> None:
    """Refuse to write rounds into the shipped budgets' directory."""
    if os.path.realpath(splits_root) == os.path.realpath(shipped_dir):
        raise DataError(f"splits root {splits_root!r} is the shipped budgets' directory ({shipped_dir}); "
                        "active rounds are written into the active run's folder or another --splits-root")


def write_round(splits_root: str, dataset: str, seed: int, labeled: Sequence[str],
                unlabeled: Sequence[str]) -> tuple[str, str]:
    """Write (or find identical) the round's files; returns (budget, directory)."""
    budget = str(len(labeled))
    directory = splits.budget_dir(splits_root, dataset, budget, seed)
    if os.path.isdir(directory):
        have = tuple(splits.read_ids(os.path.join(directory, name)) for name in (splits.LABELED_FILE, splits.UNLABELED_FILE))
        if have != (sorted(labeled), sorted(unlabeled)):
            raise DataError(f"{directory} already holds a different split with {budget} labeled images; "
                            "use another --out or --splits-root")
        return budget, directory
    return budget, splits.write_budget(splits_root, dataset, budget, seed, sorted(labeled), sorted(unlabeled))
