"""The method contract: what a training method provides, declared once.

Every module `ssseg/methods/<name>.py` (no leading underscore) defines
`METHOD = Method(name=..., defaults=..., loss=..., ...)`. The trainer, the
evaluator, `init_from`, inspection and the benchmarks read only these fields,
never the module itself, so a reader sees here everything a method must or
may provide, and `get_method` checks it when the run is built.

Required:
- `defaults() -> ConfigDict`: its keys under `config.method`, with citations.
- `loss(ctx, params, state, batch, rng) -> (loss, aux)`: pure; aux holds
  "batch_stats" (updated), "metrics" (dict of scalars) and optionally "extra"
  (the new `state.extra`). `ctx` (ssseg/train/context.py) gives the model as
  `apply`, `encode`/`decode` (for feature perturbation) and
  `apply_with_embedding` (the decoder's pre-classifier features, for
  contrastive or correlation losses), plus `normalize` and the labeled loss.

Optional, with the default that a plain segmentation method wants:
- `uses_unlabeled`: the loop feeds `batch["unlabeled"]` from the unlabeled pool.
- `pretrain`: self-supervised; the loop feeds only `batch["unlabeled"]`, drawn
  from every train image (labeled or not); implies `uses_unlabeled`.
- `init_params(cfg, spec, params, batch_stats) -> (params, batch_stats)`:
  e.g. CPS's second network, a pretraining method's heads.
- `init_extra(ctx, params, batch_stats, rng) -> pytree`: `state.extra` at step
  0 and again after `init_from` loads weights (an EMA teacher starts as the
  loaded student). Also the place to validate `config.method`.
- `after_update(ctx, state) -> state`: after the optimizer step (EMA updates).
- `head_mask(params) -> pytree of bool`: params that get `optim.head_lr_mult`.
- `eval_models(state) -> {name: (params, batch_stats)}`: what evaluation
  runs; the first entry is the one result.json reports.
- `evaluate(run, state, sources, split, labeled_ids, mesh) -> [record]`:
  replaces segmentation evaluation (pretraining reports a probe).
- `pretrained_parts`: top-level parameter keys the method trains for reuse
  by `init_from` (pretraining: the encoder); None means everything.
"""

from __future__ import annotations

import dataclasses
import importlib
import pkgutil
from typing import Any, Callable

import ml_collections

from ssseg.errors import ConfigError
from ssseg.models import functional as model_fns


def keep_params(cfg, spec, params, batch_stats):
    del cfg, spec
    return params, batch_stats


def no_extra(ctx, params, batch_stats, rng):
    del ctx, params, batch_stats, rng
    return {}


def unchanged(ctx, state):
    del ctx
    return state


def student_only(state) -> dict:
    return {"student": (state.params, state.batch_stats)}


@dataclasses.dataclass(frozen=True)
class Method:
    name: str
    defaults: Callable[[], ml_collections.ConfigDict]
    loss: Callable[..., tuple[Any, dict]]
    uses_unlabeled: bool = False
    pretrain: bool = False
    init_params: Callable = keep_params
    init_extra: Callable = no_extra
    after_update: Callable = unchanged
    head_mask: Callable = model_fns.head_mask
    eval_models: Callable = student_only
    evaluate: Callable | None = None
    pretrained_parts: tuple[str, ...] | None = None

    def __post_init__(self):
        for field in ("defaults", "loss", "init_params", "init_extra", "after_update", "head_mask", "eval_models"):
            if not callable(getattr(self, field)):
                raise TypeError(f"method {self.name!r}: {field} must be callable, got {getattr(self, field)!r}")
        if self.evaluate is not None and not callable(self.evaluate):
            raise TypeError(f"method {self.name!r}: evaluate must be callable or None")
        if self.pretrain and not self.uses_unlabeled:
            raise TypeError(f"method {self.name!r}: pretrain=True reads the unlabeled stream; set uses_unlabeled=True")
        if self.pretrained_parts is not None and not isinstance(self.pretrained_parts, tuple):
            raise TypeError(f"method {self.name!r}: pretrained_parts must be a tuple of parameter keys")

    @property
    def streams(self) -> tuple[str, ...]:
        """The batch entries the loop feeds: ("labeled",), ("labeled", "unlabeled") or ("unlabeled",)."""
        if self.pretrain:
            return ("unlabeled",)
        return ("labeled", "unlabeled") if self.uses_unlabeled else ("labeled",)


def available() -> list[str]:
    """Names of every method module (files in ssseg/methods/ without a leading underscore)."""
    import ssseg.methods

    return sorted(m.name for m in pkgutil.iter_modules(ssseg.methods.__path__)
                  if not m.name.startswith("_") and m.name != "contract")


def get_method(name: str) -> Method:
    """The registered `Method` of `ssseg/methods/<name>.py`, checked against the contract."""
    if name not in available():
        raise ConfigError(f"config.method.name={name!r}: no such method; expected one of {', '.join(available())}")
    module = importlib.import_module(f"ssseg.methods.{name}")
    method = getattr(module, "METHOD", None)
    if not isinstance(method, Method):
        raise TypeError(f"ssseg/methods/{name}.py must define METHOD = Method(...) (ssseg/methods/contract.py)")
    if method.name != name:
        raise TypeError(f"ssseg/methods/{name}.py: METHOD.name is {method.name!r}, expected {name!r}")
    return method
