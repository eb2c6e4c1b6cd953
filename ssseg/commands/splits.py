"""`ssseg splits generate|check|import`: write, verify and import the fixed label-budget files."""

from __future__ import annotations

import argparse

HELP = "Generate or check fixed label-budget split files (experiments/splits/<dataset>/<budget>/seed<k>/)."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", required=True)
    for action, text in (
        ("generate", "write labeled/unlabeled id lists for every budget and seed"),
        ("check", "prove labeled, unlabeled, val and test never share an image and every id exists"),
        ("import", "read published split lists (UniMatch's splits/<dataset>/<budget>/, CPS's "
                   "*labeled_1-<n>.txt) into experiments/splits, then check them"),
    ):
        p = actions.add_parser(action, help=text, description=text)
        p.add_argument("--dataset", required=True, help="dataset name, e.g. synthetic_defects, magnetic_tile")
        p.add_argument("--manual-dir", default="", help="folder with the dataset's raw files (data.manual_dir)")
        p.add_argument("--data-dir", default="", help="TFDS data dir (default $TFDS_DATA_DIR or ~/tensorflow_datasets)")
        p.add_argument("--splits-dir", default="experiments/splits", help="root of the split files")
        if action != "import":  # published lists bring their own budgets, one draw each
            p.add_argument("--budgets", nargs="+", default=None, help="e.g. 1/16 1/8 40 full (default: the dataset's)")
            p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    importer = actions.choices["import"]
    importer.add_argument("source", help="folder of published lists, e.g. UniMatch/splits/pascal or "
                                         "UniMatch/splits/cityscapes")
    importer.add_argument("--seed", type=int, default=0, help="seed folder to file them under (default 0)")
    check = actions.choices["check"]
    check.add_argument(
        "--labeled", default="", help="check this file instead (one id per line, or UniMatch `img mask` lines)"
    )
    check.add_argument("--unlabeled", default="", help="unlabeled file to check together with --labeled")


def _sources(args):
    import ml_collections

    from ssseg.data.sources import load_sources

    cfg = ml_collections.ConfigDict({"name": args.dataset, "manual_dir": args.manual_dir, "data_dir": args.data_dir})
    return load_sources(cfg)


def _generate(args) -> int:
    from ssseg.data.splits import generate_splits

    sources = _sources(args)
    budgets = args.budgets or list(sources.spec.default_budgets)
    written = generate_splits(sources, budgets, args.seeds, args.splits_dir)
    for directory in written:
        print(directory)
    return 0


def _check(args) -> int:
    from ssseg.data.splits import budget_dir, check_disjoint, load_budget, read_ids
    from ssseg.errors import DataError

    sources = _sources(args)
    if args.labeled:
        labeled = read_ids(args.labeled)
        unlabeled = read_ids(args.unlabeled) if args.unlabeled else []
        check_disjoint(sources, labeled, unlabeled, where=args.labeled)
        print(f"{args.labeled}: ok ({len(labeled)} labeled, {len(unlabeled)} unlabeled)")
        return 0
    budgets = args.budgets or list(sources.spec.default_budgets)
    for budget in budgets:
        for seed in args.seeds:
            labeled, unlabeled = load_budget(args.dataset, budget, seed, args.splits_dir)
            where = budget_dir(args.splits_dir, args.dataset, budget, seed)
            check_disjoint(sources, labeled, unlabeled, where=where)
            print(f"{args.dataset} {budget} seed{seed}: ok ({len(labeled)} labeled, {len(unlabeled)} unlabeled)")
    val_test = set(sources.ids("val")) & set(sources.ids("test"))
    if val_test:
        raise DataError(f"{args.dataset}: id {sorted(val_test)[0]!r} is in both val and test")
    return 0


def _import(args) -> int:
    from ssseg.data.import_splits import import_splits

    for budget, directory, n_labeled, n_unlabeled in import_splits(args.source, _sources(args), args.seed,
                                                                   args.splits_dir):
        print(f"{directory}: {args.dataset} {budget} seed{args.seed}: checked "
              f"({n_labeled} labeled, {n_unlabeled} unlabeled)")
    return 0


def run(args) -> int:
    return {"generate": _generate, "check": _check, "import": _import}[args.action](args)
