"""Evaluation during and after training: every model a method reports, on one split.

Compiled once per run (one confusion function), so the periodic val
evaluations and the final val/test ones reuse the same executable.
"""

from __future__ import annotations

from ssseg.data import pipeline
from ssseg.eval.evaluate import evaluate, make_confusion_fn, make_prob_fn
from ssseg.train import sharding


class Evaluator:
    """Compiled once per run; evaluates each of the method's eval models on a split.

    A method may replace segmentation evaluation with its own `evaluate`
    (ssseg/methods/contract.py; pretraining methods report a representation probe)."""

    def __init__(self, run, sources, mesh, labeled_ids=()):
        self.parts, self.sources, self.mesh, self.labeled_ids = run, sources, mesh, labeled_ids
        self.custom = run.ctx.method.evaluate
        cfg = run.cfg
        prob_fn = make_prob_fn(run.ctx.graphdef, run.spec.mean, run.spec.std, cfg.data.eval_mode, cfg.data.crop_size)
        self.confusion_fn = make_confusion_fn(prob_fn, len(run.spec.class_names))

    def run(self, state, split: str) -> list[dict]:
        if self.custom is not None:
            return self.custom(self.parts, state, self.sources, split, self.labeled_ids, self.mesh)
        records = []
        for name, (params, batch_stats) in self.parts.ctx.method.eval_models(state).items():
            batches = (b for b, _ in pipeline.eval_batches(
                self.sources.source(split), self.parts.cfg.data, self.parts.spec.channels))
            result = evaluate(
                self.confusion_fn,
                params,
                batch_stats,
                batches,
                self.parts.spec.class_names,
                self.parts.spec.defect_classes,
                put=lambda x: sharding.shard_global_batch(x, self.mesh),
            )
            records.append({"split": split, "model": name, **result})
        return records
