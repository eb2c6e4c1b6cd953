"""Active-learning rounds: train, score the unlabeled pool, label the chosen images, retrain.

The annotator is simulated: the chosen images' labels are revealed from the dataset (they
are in the built train split; a round's split file just lists them as labeled). Round 0 is
the ordinary run of the initial budget; every later round is an ordinary count budget
under the strategy's own splits root (ssseg.active.round_splits), trained by the same
`run_training` as `ssseg train`, so any round can be re-run alone from its recorded command.
All strategies start from the same round-0 run, and random selection is the control.

Layout of `out` (small files only when the workdirs go elsewhere, so it can be committed):
    plan.json                                  the settings (a different plan is refused)
    splits/<strategy>/<dataset>/<n>/seed<k>/   the rounds' budgets (or under --splits-root)
    seed<k>/<strategy>/selection<r>.json       round r's picks: ids, scores, weights, focus classes
    seed<k>/<strategy>/round<r>.json           round r's record: labeled count, command, val/test
and of `workdir_root` (default `out`; checkpoints, not for committing):
    seed<k>/round0/                            round 0's workdir, shared by the strategies
    seed<k>/<strategy>/round<r>/               round r's workdir
Deterministic by seed: training is, scoring is, ties break by id, random picks are seeded
by (seed, round). Re-running the same command resumes: a round with a record is not trained
again, a recorded selection is not scored again. So `out` works as a ledger across machines:
only a round whose model must score a missing selection, and whose checkpoint is not on this
machine, is trained again (deterministically, the same model).
"""

from __future__ import annotations

import dataclasses
import json
import os

import numpy as np

from ssseg.active import round_splits, selection
from ssseg.active.pool import score_pool
from ssseg.config.loader import load_config
from ssseg.data.sources import load_sources
from ssseg.data.ensure_splits import ensure_budget
from ssseg.data.splits import load_budget
from ssseg.errors import ConfigError
from ssseg.train.loop import run_training
from ssseg.train.setup import restore_run

ANNOTATOR = "simulated: the selected images' labels are revealed from the dataset's train split"
# Settings that change what a round selects; the seeds and number of rounds may grow between runs.
_EXTENDABLE = ("seeds", "rounds")
# Where things go on this machine: free to differ between runs of the same plan.
_LOCATIONS = ("out", "workdir_root")


@dataclasses.dataclass(frozen=True)
class ActivePlan:
    config: str  # experiments/<file>.py[:arg]; its method= is the training method of every round
    overrides: tuple[tuple[str, str], ...] = ()
    initial_budget: str = "1/16"
    per_round: int = 59
    rounds: int = 3  # acquisition rounds after round 0
    strategies: tuple[str, ...] = ("uncertainty", "random")
    seeds: tuple[int, ...] = (0,)
    out: str = "runs/active"
    splits_root: str = ""  # "" -> <out>/splits
    aggregation: str = "defect_entropy"
    defect_prob: float = 0.5
    candidate_factor: int = 4
    focus_classes: int = 0  # >0: boost images predicted to hold this many worst-val-IoU classes
    focus_boost: float = 1.0
    workdir_root: str = ""  # "" -> out; where the rounds' workdirs (checkpoints) go


def strategy_dirname(strategy: str) -> str:
    return strategy.replace("+", "_")


def round_overrides(plan: ActivePlan, seed: int, budget: str, splits_dir: str | None) -> list[tuple[str, str]]:
    extra = [("seed", str(seed)), ("data.budget", budget)]
    if splits_dir:
        extra.append(("data.splits_dir", splits_dir))
    return [*plan.overrides, *extra]


def round_command(plan: ActivePlan, overrides, workdir: str) -> str:
    flags = " ".join(f"--config.{k}={v}" for k, v in overrides)
    return f"ssseg train --config {plan.config} {flags} --workdir {workdir}"


def _check_plan(plan: ActivePlan) -> None:
    if plan.per_round <= 0 or plan.rounds < 0:
        raise ConfigError(f"--per-round {plan.per_round} / --rounds {plan.rounds}: expected a positive count and rounds >= 0")
    for strategy in plan.strategies:
        if strategy not in selection.STRATEGIES:
            raise ConfigError(f"strategy {strategy!r}: expected one of {', '.join(selection.STRATEGIES)}")
    if plan.focus_classes < 0 or plan.focus_boost < 0:
        raise ConfigError("--focus-classes and --focus-boost must be >= 0")


def _claim_out(plan: ActivePlan) -> None:
    """Write plan.json, or check that the one there differs only in seeds/rounds."""
    os.makedirs(plan.out, exist_ok=True)
    path = os.path.join(plan.out, "plan.json")
    mine = json.loads(json.dumps(dataclasses.asdict(plan)))
    if os.path.exists(path):
        with open(path) as f:
            theirs = json.load(f)
        for key in sorted(set(mine) | set(theirs)):
            if key not in _EXTENDABLE and key not in _LOCATIONS and theirs.get(key) != mine.get(key):
                raise ConfigError(f"{path}: this folder holds an active run with {key}={theirs.get(key)!r}, "
                                  f"not {mine.get(key)!r}; use another --out")
        mine["seeds"] = sorted(set(theirs.get("seeds", [])) | set(mine["seeds"]))
        mine["rounds"] = max(theirs.get("rounds", 0), mine["rounds"])
    with open(path, "w") as f:
        json.dump(mine, f, indent=2)


def _write_json(path: str, value) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path + ".tmp", "w") as f:
        json.dump(value, f, indent=2)
    os.replace(path + ".tmp", path)


def _selection_seed(seed: int, round_index: int) -> int:
    return int(np.random.SeedSequence([seed, round_index, 0xAC71]).generate_state(1)[0])


def _needs_model(plan: ActivePlan, strategy: str) -> bool:
    return strategy != "random" or plan.focus_classes > 0


def choose(plan: ActivePlan, strategy: str, round_index: int, seed: int, prev_workdir: str, prev_result: dict,
           sources, labeled, unlabeled) -> dict:
    """Score the train images of the unlabeled pool with the previous round's model and pick."""
    pool_ids = sorted(i for i in unlabeled if sources.locations[i][0] == "train")  # only these have labels to reveal
    needs_model = _needs_model(plan, strategy)
    diverse = strategy == "uncertainty+kcenter"
    run = restore_run(prev_workdir) if needs_model else None
    if needs_model:
        pool = score_pool(run, sources, pool_ids, aggregation=plan.aggregation, defect_prob=plan.defect_prob,
                          with_features=diverse)
        scores, predicted = pool.scores, pool.predicted
    else:
        scores, predicted, pool = np.zeros(len(pool_ids)), tuple(() for _ in pool_ids), None
    class_names = list(sources.spec.class_names)
    focus = ()
    if plan.focus_classes:
        focus = selection.worst_classes(prev_result["val"]["per_class_iou"], class_names, plan.focus_classes)
    weights = selection.focus_weights(predicted, focus, plan.focus_boost)
    labeled_features = None
    if diverse:
        labeled_features = score_pool(run, sources, sorted(labeled), with_features=True, scores=False).features
    picks = selection.select(strategy, min(plan.per_round, len(pool_ids)), scores=scores, weights=weights,
                             features=None if pool is None else pool.features, labeled_features=labeled_features,
                             candidate_factor=plan.candidate_factor, seed=_selection_seed(seed, round_index))
    return {
        "round": round_index,
        "strategy": strategy,
        "annotator": ANNOTATOR,
        "scored_by": prev_workdir,
        "aggregation": plan.aggregation if needs_model else None,
        "focus_classes": [class_names[c] for c in focus],
        "pool_size": len(pool_ids),
        "picked": [{"id": pool_ids[i], "score": float(scores[i]), "weight": float(weights[i]),
                    "predicted": [class_names[c] for c in predicted[i]]} for i in picks],
    }


def _round_config(plan, seed, budget, splits_dir):
    overrides = round_overrides(plan, seed, budget, splits_dir)
    return load_config(plan.config, overrides), overrides


def _train_round(plan, seed, budget, splits_dir, workdir, show_progress):
    cfg, overrides = _round_config(plan, seed, budget, splits_dir)
    return run_training(cfg, workdir, show_progress=show_progress), round_command(plan, overrides, workdir)


def _record(seed, strategy, round_index, labeled, budget, splits_dir, workdir, command, result) -> dict:
    return {
        "seed": seed, "strategy": strategy, "round": round_index, "num_labeled": len(labeled), "budget": budget,
        "splits_dir": splits_dir, "workdir": workdir, "command": command, "steps": result["steps"],
        "method": result["method"], "test_split": result["test_split"], "val": result["val"], "test": result["test"],
    }


def _read_record(path: str, num_labeled: int) -> dict | None:
    """The round's record in `out`, if there is one (checked against the labeled count it must have)."""
    if not os.path.exists(path):
        return None
    with open(path) as f:
        record = json.load(f)
    if record.get("num_labeled") != num_labeled:
        raise ConfigError(f"{path}: records {record.get('num_labeled')} labeled images, this plan gives "
                          f"{num_labeled} at that round; use another --out")
    return record


def _ensure_model(plan, seed, budget, splits_dir, workdir, show_progress, log) -> None:
    """Train the round again (deterministic: the same model) when its record came without a checkpoint."""
    if not os.path.exists(os.path.join(workdir, "result.json")):
        log(f"seed {seed}: training {workdir} again to score the pool (its record came without a checkpoint)")
        _train_round(plan, seed, budget, splits_dir, workdir, show_progress)


def run_active(plan: ActivePlan, *, show_progress: bool = False, log=print) -> list[dict]:
    """Every seed's rounds for every strategy; returns the round records (also written to `out`)."""
    _check_plan(plan)
    _claim_out(plan)
    splits_base = plan.splits_root or os.path.join(plan.out, "splits")
    records = []
    for seed in plan.seeds:
        seed_dir = os.path.join(plan.out, f"seed{seed}")
        runs_dir = os.path.join(plan.workdir_root or plan.out, f"seed{seed}")
        workdir0 = os.path.join(runs_dir, "round0")
        cfg0, _ = _round_config(plan, seed, plan.initial_budget, None)
        for strategy in plan.strategies:
            round_splits.check_root(os.path.join(splits_base, strategy_dirname(strategy)), cfg0.data.splits_dir)
        sources = load_sources(cfg0.data)
        ensure_budget(cfg0.data.name, cfg0.data.budget, seed, cfg0.data.splits_dir, sources)
        labeled0, unlabeled0 = load_budget(cfg0.data.name, cfg0.data.budget, seed, cfg0.data.splits_dir)
        paths0 = [os.path.join(seed_dir, strategy_dirname(s), "round0.json") for s in plan.strategies]
        recorded0 = [_read_record(p, len(labeled0)) for p in paths0]
        if not all(recorded0):  # round 0 is shared: one training writes every strategy's record
            result0, command0 = _train_round(plan, seed, plan.initial_budget, None, workdir0, show_progress)
            recorded0 = [_record(seed, strategy, 0, labeled0, plan.initial_budget, cfg0.data.splits_dir, workdir0,
                                 command0, result0) for strategy in plan.strategies]
            for path, record in zip(paths0, recorded0):
                _write_json(path, record)
        records.extend(recorded0)
        # Per strategy: labeled, unlabeled, how its last round trains (budget, splits_dir, workdir), its record.
        state = {strategy: (labeled0, unlabeled0, (plan.initial_budget, None, workdir0), record)
                 for strategy, record in zip(plan.strategies, recorded0)}
        log(f"seed {seed} round 0: {len(labeled0)} labeled, test mIoU {recorded0[0]['test']['miou']:.4f}")
        for round_index in range(1, plan.rounds + 1):
            for strategy in plan.strategies:
                labeled, unlabeled, prev_round, prev_result = state[strategy]
                strategy_dir = os.path.join(seed_dir, strategy_dirname(strategy))
                selection_path = os.path.join(strategy_dir, f"selection{round_index}.json")
                if os.path.exists(selection_path):  # deterministic anyway; skips re-scoring on resume
                    with open(selection_path) as f:
                        chosen = json.load(f)
                else:
                    if _needs_model(plan, strategy):
                        _ensure_model(plan, seed, *prev_round, show_progress, log)
                    chosen = choose(plan, strategy, round_index, seed, prev_round[2], prev_result, sources,
                                    labeled, unlabeled)
                    _write_json(selection_path, chosen)
                labeled, unlabeled = round_splits.next_split(labeled, unlabeled, [p["id"] for p in chosen["picked"]])
                splits_dir = os.path.join(splits_base, strategy_dirname(strategy))
                budget, _ = round_splits.write_round(splits_dir, cfg0.data.name, seed, labeled, unlabeled)
                workdir = os.path.join(runs_dir, strategy_dirname(strategy), f"round{round_index}")
                record_path = os.path.join(strategy_dir, f"round{round_index}.json")
                record = _read_record(record_path, len(labeled))
                if record is None:
                    result, command = _train_round(plan, seed, budget, splits_dir, workdir, show_progress)
                    record = _record(seed, strategy, round_index, labeled, budget, splits_dir, workdir, command, result)
                    _write_json(record_path, record)
                else:
                    log(f"seed {seed} round {round_index} {strategy}: recorded in {record_path}, not trained again")
                records.append(record)
                state[strategy] = (labeled, unlabeled, (budget, splits_dir, workdir), record)
                log(f"seed {seed} round {round_index} {strategy}: {len(labeled)} labeled, "
                    f"test mIoU {record['test']['miou']:.4f}")
    return records
