"""Split files a first run lacks, written as `ssseg splits generate` would write them.

`ssseg train` and `ssseg sweep` call :func:`ensure_budget` before a run reads its
budget: where neither of a budget's files exists, the same seeded draw as
`ssseg splits generate --dataset D --budgets B --seeds S` is written to the same
place, with one line saying so. A file already there is never overwritten (one of
the two missing is left for `load_budget` to report: a hand-made list is not guessed at).
"""

from __future__ import annotations

import os
from typing import Callable

from ssseg.data.splits import LABELED_FILE, UNLABELED_FILE, budget_dir, draw_dataset_budgets, write_budget


def ensure_budget(dataset: str, budget: str, seed: int, splits_dir: str,
                  sources: Callable[[], object] | object) -> str | None:
    """Write a missing budget's split files; returns the line to print, or None if present.

    ``sources``: the dataset's `DataSources`, or a function that loads them (only
    called when files are missing: loading may build the dataset)."""
    directory = budget_dir(splits_dir, dataset, budget, seed)
    if any(os.path.exists(os.path.join(directory, f)) for f in (LABELED_FILE, UNLABELED_FILE)):
        return None
    sources = sources() if callable(sources) else sources
    labeled, unlabeled = draw_dataset_budgets(sources, [budget], seed)[budget]
    write_budget(splits_dir, dataset, budget, seed, labeled, unlabeled, exclusive=True)
    return (f"{directory}: no split files for {dataset} budget {budget} seed {seed}; wrote "
            f"{len(labeled)} labeled and {len(unlabeled)} unlabeled ids as "
            f"`ssseg splits generate --dataset {dataset} --budgets {budget} --seeds {seed}` would")
