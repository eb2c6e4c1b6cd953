"""Golden steps: two train steps of every method give the committed numbers.

Loss, every metric the step reports, and checksums (sum, sum of magnitudes, sum of
squares; whole tree and each top-level part) of the parameter change after each step
and of the parameters, batch statistics and extra state at the end, for each method on
one fixed batch and key (tests/golden_steps.py builds them as the trainer does). A
refactor or a speed change that alters the numerics fails here, naming the method, the
quantity and the recorded and new values. If the change is meant, regenerate and say
why in the commit:

    python -m tests.golden_steps --write

Recorded on 2 host devices (XLA_FLAGS=--xla_force_host_platform_device_count=2, as
`make test` and tests/conftest.py set), float32 on CPU, relative tolerance 1e-5 — except
the quantities that float noise moves more (measured when the fixture is written, by
perturbing the initial weights by 1e-7), which are compared at 10x their measured
sensitivity (the fixture's "tolerance"). UniMatch's and CPS's steps from random weights are
the ill-conditioned ones (CPS's first network has a step-1 gradient norm of ~57 that float
noise moves by ~5%, so its second step is chaotic and checked only loosely); every method's
initial weights and step-1 loss stay at 1e-5.
"""

import golden_steps as g
import pytest

from ssseg.methods.contract import available


@pytest.fixture(scope="module")
def golden():
    return g.load()


@pytest.fixture(scope="module")
def prepared():
    cache = {}

    def get(name, *extra):
        if (name, extra) not in cache:
            cache[name, extra] = g.prepare(name, *extra)
        return cache[name, extra]

    return get


def test_every_method_has_golden_values(golden):
    assert set(available()) == set(g.METHODS) == set(golden)


@pytest.mark.parametrize("name", list(g.METHODS))
def test_two_steps_give_the_golden_values(golden, prepared, name):
    problems = g.compare(name, golden[name], g.summarise(prepared(name)))
    assert not problems, "\n".join(problems)


def test_one_changed_label_pixel_is_reported(golden, prepared):
    run = prepared("supervised")
    batch = {k: dict(v) for k, v in run.host_batch.items()}
    label = batch["labeled"]["label"].copy()
    label[0, 5, 7] = 1 if label[0, 5, 7] != 1 else 2
    batch["labeled"]["label"] = label
    problems = g.compare("supervised", golden["supervised"], g.summarise(run, batch))
    assert any(p.startswith("supervised: step_1.metrics.loss was ") for p in problems), problems
    assert all(p.endswith(f"(if the change is intended: {g.REGENERATE})") for p in problems)


def test_a_changed_loss_weight_is_reported(golden, prepared):
    # 1% off the Dice term's weight in ce_dice: the loss, the gradients and so every checksum move.
    problems = g.compare("supervised", golden["supervised"],
                         g.summarise(prepared("supervised", "--config.loss.dice_weight=0.99")))
    reported = {p.split(" was ")[0] for p in problems}
    assert {"supervised: step_1.metrics.loss", "supervised: step_1.metrics.grad_norm",
            "supervised: step_1.params_delta.all.sq"} <= reported, problems
    assert "supervised: init.params.all.sum" not in reported  # the initial weights do not depend on it


def test_measured_tolerances_widen_only_their_own_quantity():
    golden = {"step_2": {"metrics": {"loss": 1.0, "grad_norm": 2.0}}, "tolerance": {"step_2.metrics.grad_norm": 1e-2}}
    assert g.compare("m", golden, {"step_2": {"metrics": {"loss": 1.0, "grad_norm": 2.01}}}) == []
    problems = g.compare("m", golden, {"step_2": {"metrics": {"loss": 1.0 + 1e-4, "grad_norm": 2.03}}})
    assert [p.split(" was ")[0] for p in problems] == ["m: step_2.metrics.grad_norm", "m: step_2.metrics.loss"]
    base = {"a": 1.0, "b": {"abs": 10.0, "sum": 0.5}, "c": [1.0, 2.0]}
    noisy = [{"a": 1.0 + 1e-7, "b": {"abs": 10.0, "sum": 0.51}, "c": [1.0, 2.2]}]
    assert g.tolerances(base, noisy) == {"b.sum": 1e-2, "c": 1.0}  # b.sum: 0.01 / abs 10 x 10


def test_only_ill_conditioned_quantities_have_a_measured_tolerance(golden):
    # supervised: only the parameter-change checksums, whose float32 rounding is ~1e-5 of a step.
    assert all(t <= 1e-4 for t in golden["supervised"].get("tolerance", {}).values())
    for name, entry in golden.items():
        loosened = entry.get("tolerance", {})
        assert not [k for k in loosened if k.startswith("init.") or k == "step_1.metrics.loss"], name


def test_compare_names_every_kind_of_difference():
    old = {"step_1": {"metrics": {"loss": 1.0, "pseudo_acc": None, "counts": [1.0, 2.0]},
                      "params_delta": {"all": {"sum": 0.0, "abs": 10.0}}}}
    same = {"step_1": {"metrics": {"loss": 1.0 + 5e-6, "pseudo_acc": None, "counts": [1.0, 2.0]},
                       "params_delta": {"all": {"sum": 5e-5, "abs": 10.0}}}}  # a sum is judged against its abs
    assert g.compare("m", old, same) == []
    new = {"step_1": {"metrics": {"loss": 1.0 + 2e-5, "pseudo_acc": 0.5, "counts": [1.0, 3.0], "extra": 1.0},
                      "params_delta": {"all": {"sum": 2e-4, "abs": 10.0}}}}
    problems = g.compare("m", old, new)
    assert [p.split(" (")[0] for p in problems] == [
        "m: step_1.metrics.counts was [1.0, 2.0], now [1.0, 3.0]",
        "m: step_1.metrics.extra was '<absent>', now 1.0",
        f"m: step_1.metrics.loss was 1.0, now {1.0 + 2e-5!r}",
        "m: step_1.metrics.pseudo_acc was None, now 0.5",
        "m: step_1.params_delta.all.sum was 0.0, now 0.0002",
    ]
