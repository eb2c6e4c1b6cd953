"""`ssseg active --config experiments/x.py[:arg] --out DIR [--config.a.b=v ...]`

    ssseg active --config experiments/magnetic_tile.py:method=supervised --initial-budget 1/16 \
        --per-round 59 --rounds 3 --strategies uncertainty,random --seeds 0,1,2 --out runs/active_mt

Each round is an ordinary `ssseg train` run (its command is in seed<k>/<strategy>/round<r>.json);
the annotator is simulated: chosen images' labels are revealed from the dataset.
"""

from __future__ import annotations

HELP = ("Active-learning rounds on a label budget: train, score the unlabeled pool, label the top-k "
        "(simulated annotator), retrain; random selection as the control; writes curves.")


def _ints(text: str) -> tuple[int, ...]:
    from ssseg.errors import ConfigError

    try:
        return tuple(int(s) for s in text.split(",") if s.strip())
    except ValueError:
        raise ConfigError(f"--seeds {text!r}: expected comma-separated integers like 0,1,2") from None


def add_arguments(parser) -> None:
    from ssseg.active.selection import STRATEGIES

    parser.add_argument("--config", required=True, help="experiments/<file>.py[:arg]; method= in arg is every round's method (semi-supervised works too)")
    parser.add_argument("--out", required=True, help="the active run's folder (rounds' workdirs, splits, curves)")
    parser.add_argument("--initial-budget", default="1/16", help="round 0's shipped budget (default 1/16)")
    parser.add_argument("--per-round", type=int, default=59, help="images labeled per round (default 59)")
    parser.add_argument("--rounds", type=int, default=3, help="acquisition rounds after round 0 (default 3)")
    parser.add_argument("--strategies", default="uncertainty,random",
                        help=f"comma-separated, from {', '.join(STRATEGIES)} (random is the control)")
    parser.add_argument("--seeds", default="0", help="comma-separated seeds (default 0)")
    parser.add_argument("--workdir-root", default="",
                        help="where the rounds' workdirs (checkpoints) go (default --out); with it, --out holds only "
                             "small records that can be committed and resumed from on another machine")
    parser.add_argument("--splits-root", default="", help="where rounds' split files go (default <out>/splits)")
    parser.add_argument("--aggregation", default="defect_entropy",
                        help="image score: defect_entropy (default: mean entropy over predicted-defect pixels), mean_entropy, max_entropy")
    parser.add_argument("--defect-prob", type=float, default=0.5, help="a pixel counts as predicted defect when 1-p(background) >= this")
    parser.add_argument("--candidate-factor", type=int, default=4, help="uncertainty+kcenter: k-center over the top factor*k uncertain images")
    parser.add_argument("--focus-classes", type=int, default=0,
                        help="boost images predicted to hold the N classes of lowest val IoU (round's model)")
    parser.add_argument("--focus-boost", type=float, default=1.0, help="selection weight 1+boost for focus images (default 1)")
    parser.add_argument("--summary-only", action="store_true", help="only re-write curves from the rounds already in --out")
    parser.add_argument("--progress", action="store_true", help="progress bars while training")
    parser.set_defaults(accepts_config_overrides=True)


def run(args) -> int:
    from ssseg.active.rounds import ActivePlan, run_active
    from ssseg.active.summary import markdown_table, write_summary
    from ssseg.config.loader import parse_overrides

    if not args.summary_only:
        plan = ActivePlan(
            config=args.config,
            overrides=tuple(parse_overrides(list(args.extra))),
            initial_budget=args.initial_budget,
            per_round=args.per_round,
            rounds=args.rounds,
            strategies=tuple(s.strip() for s in args.strategies.split(",") if s.strip()),
            seeds=_ints(args.seeds),
            out=args.out,
            splits_root=args.splits_root,
            workdir_root=args.workdir_root,
            aggregation=args.aggregation,
            defect_prob=args.defect_prob,
            candidate_factor=args.candidate_factor,
            focus_classes=args.focus_classes,
            focus_boost=args.focus_boost,
        )
        run_active(plan, show_progress=args.progress, log=lambda m: print(m, flush=True))
    rows = write_summary(args.out)
    print(markdown_table(rows), end="")
    return 0
