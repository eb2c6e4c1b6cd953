"""Training methods, one module each, found by name (`method=<name>`).

A method module defines:
- `defaults() -> ConfigDict`: its keys under `config.method`, with citations.
- `USES_UNLABELED: bool`: whether the loop feeds it an unlabeled stream.
- `loss(ctx, params, state, batch, rng) -> (loss, aux)`: pure; aux holds
  "batch_stats" (updated), "metrics" (dict of scalars) and optionally "extra".
Optionally:
- `init_extra(ctx, params, batch_stats, rng) -> pytree` (default: {}),
- `after_update(ctx, state) -> state` (e.g. EMA teacher update),
- `eval_models(state) -> {name: (params, batch_stats)}` (default: the student).
"""
