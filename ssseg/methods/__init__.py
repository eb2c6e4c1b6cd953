"""Training methods, one module each, found by name (`method=<name>`).

A method module defines:
- `defaults() -> ConfigDict`: its keys under `config.method`, with citations.
- `USES_UNLABELED: bool`: whether the loop feeds it an unlabeled stream
  (`batch["unlabeled"]`, see the batch conventions in ssseg/data/pipeline.py).
- `loss(ctx, params, state, batch, rng) -> (loss, aux)`: pure; aux holds
  "batch_stats" (updated), "metrics" (dict of scalars) and optionally "extra".
Optionally:
- `PRETRAIN = True`: self-supervised; the loop feeds only `batch["unlabeled"]`
  drawn from every train image (labeled or not),
- `init_params(cfg, spec, params, batch_stats) -> (params, batch_stats)`,
- `init_extra(ctx, params, batch_stats, rng) -> pytree` (default: {}),
- `after_update(ctx, state) -> state` (e.g. the EMA teacher update),
- `head_mask(params) -> pytree of bool` (params that get `optim.head_lr_mult`),
- `eval_models(state) -> {name: (params, batch_stats)}` (default: the student;
  the first entry is the one reported in result.json),
- `evaluate(run, state, sources, split, labeled_ids, mesh) -> [record]` to
  replace segmentation evaluation (e.g. a probe for pretraining).
"""
