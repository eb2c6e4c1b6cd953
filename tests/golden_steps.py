"""Golden train steps: loss, metrics and parameter checksums of two steps of every method.

Each method's run is built as the trainer builds it (`build_run` on the smoke
synthetic_defects config, fixed labeled class counts), compiled with the
trainer's `compile_train_step` over the 2-device ("data",) mesh, and stepped
twice on one fixed batch from a numpy seed with the trainer's key,
`jax.random.key(0)`. What comes out is reduced to numbers (`summarise`) and
compared with the committed tests/fixtures/golden_steps.json (`compare`).

Regenerate (after a change that is meant to alter numerics; say why in the commit):

    python -m tests.golden_steps --write

The values are for 2 host devices (XLA_FLAGS=--xla_force_host_platform_device_count=2,
as `make test` and tests/conftest.py set): the batch is split over the devices, so
cross-device reductions (BatchNorm statistics, loss means) sum in another order
than on one device.
"""

from __future__ import annotations

import os

os.environ.setdefault("XLA_FLAGS", "--xla_force_host_platform_device_count=2")

import argparse  # noqa: E402
import dataclasses  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import sys  # noqa: E402

import numpy as np  # noqa: E402

from ssseg.data.labels import IGNORE_LABEL  # noqa: E402

FIXTURE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "golden_steps.json")
REGENERATE = "python -m tests.golden_steps --write"
DEVICES = 2
STEPS = 2

# method -> the batch streams the trainer feeds it, and the config overrides of its golden run.
# conf_thresh 0.35: at initialisation no pixel reaches the default 0.95, which would leave the
# pseudo-label branch out of the checked numbers; at 0.35 about a third of the pixels pass.
PSEUDO = ("--config.method.conf_thresh=0.35",)
METHODS = {
    "supervised": (("labeled",), ()),
    "fixmatch": (("labeled", "unlabeled"), PSEUDO),
    "unimatch": (("labeled", "unlabeled"), PSEUDO),
    "cps": (("labeled", "unlabeled"), ()),
    "mean_teacher": (("labeled", "unlabeled"), ()),
    "pretrain_mim": (("unlabeled",), ()),
    "pretrain_byol": (("unlabeled",), ()),
    "pretrain_pixpro": (("unlabeled",), ()),
}

# Relative tolerance on every recorded number (CPU float32; the same XLA on another CPU may
# vectorise a reduction differently). Sums that may cancel towards 0 are compared against
# rtol x their sum of magnitudes instead.
RTOL = 1e-5
# Some quantities are ill-conditioned: with random weights, the pseudo-labelling methods'
# second step (UniMatch, CPS) moves by ~1e-2 when the initial weights move by one float32
# ulp, so the float-summation order of another CPU shows there as a real difference. Such
# quantities get a tolerance measured when the fixture is written: SENSITIVITY_FACTOR x the
# largest relative change over PERTURBATIONS runs from weights perturbed by PERTURB_RTOL.
# Well-conditioned quantities (every quantity of supervised, each step-1 loss) keep RTOL.
PERTURB_RTOL = 1e-7
PERTURBATIONS = 3
SENSITIVITY_FACTOR = 10.0
# Without LLVM optimisation, as tests/test_methods_train.py: on tiny shapes this halves the
# compile, which is nearly all of the cost. (The numbers differ from the trainer's default
# compile in the last float digits; the fixture is for this one.)
COMPILER_OPTIONS = {"xla_backend_optimization_level": 0}


def config(name: str, *extra: str):
    from ssseg.config.loader import load_config

    # steps=100: the smoke schedule (4 steps) would decay the lr away within the checked steps.
    # sgd: a step moves each weight by lr·gradient, so the parameter checksums carry the
    # gradients at float precision (adamw's first steps move each weight by about ±lr,
    # the sign of its gradient, which float noise flips where a gradient is near 0).
    return load_config(f"experiments/synthetic_defects.py:method={name},smoke",
                       ["--config.train.steps=100", "--config.optim.name=sgd", *METHODS[name][1], *extra])


def fixed_batch(streams, batch_size: int, crop: int, channels: int, num_classes: int, seed: int = 0) -> dict:
    """One host batch in the pipeline's format: uint8 images; labeled int32 labels with
    ignore (255) pixels; unlabeled images with a "valid" mask (False on crop padding,
    where the image is 0 and the hidden truth is 255)."""
    rng = np.random.default_rng(seed)

    def images_and_labels():
        labels = np.zeros((batch_size, crop, crop), np.int32)
        for i in range(batch_size):
            for k in range(1, num_classes):  # one rectangle per defect class, placed by the seed
                h, w = rng.integers(2, crop // 3, 2)
                y, x = rng.integers(0, crop - h), rng.integers(0, crop - w)
                labels[i, y:y + h, x:x + w] = k
        texture = rng.integers(70, 110, (batch_size, crop, crop, channels))
        shift = np.where(labels > 0, 60 + 10 * labels, 0)[..., None]
        return np.clip(texture + shift, 0, 255).astype(np.uint8), labels

    batch = {}
    if "labeled" in streams:
        images, labels = images_and_labels()
        labels[rng.random(labels.shape) < 0.02] = IGNORE_LABEL  # scattered unlabeled pixels
        batch["labeled"] = {"image": images, "label": labels}
    if "unlabeled" in streams:
        images, labels = images_and_labels()
        valid = np.ones(labels.shape, bool)
        valid[0, -crop // 4:, :] = False  # bottom padding on the first image
        valid[-1, :, -crop // 8:] = False  # right padding on the last
        images[~valid] = 0
        labels[~valid] = IGNORE_LABEL
        batch["unlabeled"] = {"image": images, "valid": valid, "label": labels}
    return batch


def _sums(leaves) -> dict:
    flat = [np.asarray(x, np.float64).ravel() for x in leaves]
    x = np.concatenate(flat) if flat else np.zeros(0)
    return {"sum": float(x.sum()), "abs": float(np.abs(x).sum()), "sq": float((x * x).sum()), "size": int(x.size)}


def _tree_sums(tree) -> dict:
    """Checksums of a whole pytree and of each top-level entry (e.g. encoder / decoder / head)."""
    import jax

    out = {"all": _sums(jax.tree.leaves(tree))}
    if isinstance(tree, dict) or hasattr(tree, "items"):
        for key, sub in tree.items():
            out[str(key)] = _sums(jax.tree.leaves(sub))
    return out


def _number(value):
    a = np.asarray(value, np.float64)
    values = [None if math.isnan(v) else float(v) for v in a.ravel()]  # JSON has no NaN
    return values[0] if a.ndim == 0 else values


@dataclasses.dataclass
class Prepared:
    """A method's run at step 0, its compiled step and its fixed batch (on the mesh)."""

    name: str
    run: object
    step: object
    batch: dict
    host_batch: dict


def prepare(name: str, *extra: str) -> Prepared:
    import jax

    from ssseg.data.registry import get_spec
    from ssseg.train import sharding
    from ssseg.train.setup import build_run
    from ssseg.train.step import compile_train_step

    if jax.device_count() != DEVICES:
        raise RuntimeError(f"golden steps are recorded on {DEVICES} host devices, found {jax.device_count()}: "
                           f"set XLA_FLAGS=--xla_force_host_platform_device_count={DEVICES}")
    cfg = config(name, *extra)
    spec = get_spec(cfg.data.name, cfg.data.manual_dir or None)
    num_classes = len(spec.class_names)
    counts = np.arange(num_classes, 0, -1) * 1000  # labeled pixels per class, class 0 dominant
    run = build_run(cfg, spec, counts)
    streams = METHODS[name][0]
    assert cfg.data.batch_size == cfg.data.unlabeled_batch_size
    host_batch = fixed_batch(streams, cfg.data.batch_size, cfg.data.crop_size, spec.channels, num_classes)
    mesh = sharding.make_mesh()
    batch = sharding.shard_batch(host_batch, mesh)
    state = jax.device_put(run.state, sharding.replicated(mesh))
    step = compile_train_step(run.ctx, mesh).lower(state, batch, jax.random.key(0)).compile(COMPILER_OPTIONS)
    return Prepared(name, run, step, batch, host_batch)


def summarise(prepared: Prepared, batch: dict | None = None) -> dict:
    """{"init", "step_<n>", "final"}: metrics of each step, checksums of the parameter
    change after each step, and of the parameters, batch statistics and extra state at the end."""
    import jax

    from ssseg.train import sharding

    mesh = sharding.make_mesh()
    batch = prepared.batch if batch is None else sharding.shard_batch(batch, mesh)
    init_params = jax.tree.map(np.asarray, prepared.run.state.params)
    out = {"init": {"params": _tree_sums(init_params)}}
    # Fresh buffers each time: the step donates its input state (device_put may reuse run.state's).
    state = jax.tree.map(lambda x: x.copy(), jax.device_put(prepared.run.state, sharding.replicated(mesh)))
    rng = jax.random.key(0)  # the trainer's key for seed 0
    for i in range(1, STEPS + 1):
        state, metrics = prepared.step(state, batch, rng)
        params = jax.tree.map(np.asarray, state.params)
        delta = jax.tree.map(lambda a, b: a.astype(np.float64) - b, params, init_params)
        out[f"step_{i}"] = {"metrics": {k: _number(v) for k, v in sorted(metrics.items())},
                            "params_delta": _tree_sums(delta)}
    out["final"] = {"params": _tree_sums(jax.tree.map(np.asarray, state.params)),
                    "batch_stats": _tree_sums(jax.tree.map(np.asarray, state.batch_stats)),
                    "extra": _tree_sums(jax.tree.map(np.asarray, state.extra))}
    return out


def run_method(name: str, *extra: str) -> dict:
    return summarise(prepare(name, *extra))


def perturbed(prepared: Prepared, seed: int) -> Prepared:
    """The same run with every initial weight scaled by (1 + PERTURB_RTOL·N(0, 1)): float noise."""
    import jax

    rng = np.random.default_rng(seed)
    params = jax.tree.map(lambda x: (np.asarray(x) * (1 + PERTURB_RTOL * rng.standard_normal(np.shape(x))))
                          .astype(np.asarray(x).dtype), prepared.run.state.params)
    run = dataclasses.replace(prepared.run, state=prepared.run.state.replace(params=params))
    return dataclasses.replace(prepared, run=run)


def tolerances(base: dict, noisy: list[dict]) -> dict:
    """{quantity: rtol} for the quantities that float noise moves by more than RTOL / SENSITIVITY_FACTOR."""
    want = dict(_flatten(base))
    noisy_flat = [dict(_flatten(other)) for other in noisy]
    out = {}
    for key, old in want.items():
        if isinstance(old, str):
            continue
        scale_key = key[:-len("sum")] + "abs" if key.endswith(".sum") else key
        worst = 0.0
        for other in noisy_flat:
            new = other.get(key)
            olds, news = (old, new) if isinstance(old, list) else ([old], [new])
            scales = want[scale_key] if isinstance(want[scale_key], list) else [want[scale_key]]
            for o, n, sc in zip(olds, news, scales):
                if o is not None and n is not None and sc:
                    worst = max(worst, abs(n - o) / abs(sc))
        if SENSITIVITY_FACTOR * worst > RTOL:
            out[key] = float(f"{SENSITIVITY_FACTOR * worst:.2g}")
    return out


def record(name: str) -> dict:
    """A method's fixture entry: its summary, and the tolerances of its ill-conditioned quantities."""
    prepared = prepare(name)
    base = summarise(prepared)
    noisy = [summarise(perturbed(prepared, seed)) for seed in range(1, PERTURBATIONS + 1)]
    return {**base, "tolerance": tolerances(base, noisy)}


def _flatten(tree, prefix=""):
    if isinstance(tree, dict):
        for key, value in tree.items():
            yield from _flatten(value, f"{prefix}.{key}" if prefix else key)
    else:
        yield prefix, tree


def compare(name: str, golden: dict, got: dict, rtol: float = RTOL) -> list[str]:
    """One line per quantity that differs: method, quantity, recorded and new value, how to regenerate.
    A quantity in the entry's "tolerance" is compared at its measured tolerance instead of `rtol`."""
    golden = dict(golden)
    measured = golden.pop("tolerance", {})
    got = {k: v for k, v in got.items() if k != "tolerance"}
    want, have = dict(_flatten(golden)), dict(_flatten(got))
    problems = []

    def report(key, old, new):
        problems.append(f"{name}: {key} was {old!r}, now {new!r} (if the change is intended: {REGENERATE})")

    for key in sorted(set(want) | set(have)):
        old, new = want.get(key, "<absent>"), have.get(key, "<absent>")
        if isinstance(old, str) or isinstance(new, str) or isinstance(old, list) != isinstance(new, list):
            if old != new:
                report(key, old, new)
            continue
        olds, news = (old, new) if isinstance(old, list) else ([old], [new])
        if len(olds) != len(news):
            report(key, old, new)
            continue
        # A sum may cancel towards 0: its scale is the matching sum of magnitudes.
        scales = olds
        if key.endswith(".sum"):
            scales = [want.get(key[:-len("sum")] + "abs", o) for o in olds]
        tol = max(rtol, measured.get(key, 0.0))
        for o, n, s in zip(olds, news, scales):
            if o is None or n is None:
                if o is not n:
                    report(key, old, new)
                    break
            elif abs(n - o) > tol * abs(s if s is not None else o) + 1e-30:
                report(key, old, new)
                break
    return problems


def load() -> dict:
    with open(FIXTURE) as f:
        return json.load(f)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--write", action="store_true", help=f"rewrite {os.path.relpath(FIXTURE)}")
    parser.add_argument("methods", nargs="*", default=list(METHODS))
    args = parser.parse_args(argv)
    got = {name: (record if args.write else run_method)(name) for name in args.methods}
    if args.write:
        golden = load() if os.path.exists(FIXTURE) and set(args.methods) != set(METHODS) else {}
        golden.update(got)
        golden = {name: golden[name] for name in METHODS if name in golden}
        with open(FIXTURE, "w") as f:
            json.dump(golden, f, indent=1, sort_keys=True)
            f.write("\n")
        print(f"wrote {FIXTURE} ({', '.join(args.methods)})")
        return 0
    golden = load()
    problems = [line for name in args.methods for line in compare(name, golden.get(name, {}), got[name])]
    print("\n".join(problems) or f"{len(args.methods)} methods match {FIXTURE}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
