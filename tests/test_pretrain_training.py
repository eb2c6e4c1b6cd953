"""Pretraining runs through the shared step, and init_from moves exactly the intended weights."""

import json
import os

import jax
import numpy as np
import pytest

from ssseg.config.loader import load_config, to_plain
from ssseg.errors import CheckpointError
from ssseg.train import checkpoint
from ssseg.train.init_from import initial_weights, resolve_source, transfer
from ssseg.train.setup import build_run
from ssseg.train.step import train_step

SMOKE = "experiments/synthetic_defects.py:method={},smoke"


def _unlabeled_batch(cfg, seed=0):
    rng = np.random.default_rng(seed)
    b, s = cfg.data.unlabeled_batch_size, cfg.data.crop_size
    images = rng.integers(40, 200, (b, s, s, 1)).astype(np.uint8)
    images[:, s // 4 : s // 2, s // 4 : s // 2] //= 3  # a dark "defect" gives the views structure
    valid = np.ones((b, s, s), bool)
    valid[0, :, -4:] = False  # some crop padding
    return {"image": images, "valid": valid, "label": np.zeros((b, s, s), np.int32)}


@pytest.fixture(scope="module")
def pixpro_run():
    # The smoke schedule ends at step 4; a longer one keeps the lr up.
    return build_run(load_config(SMOKE.format("pretrain_pixpro"), ["--config.train.steps=100"]))


def _run_steps(run, n):
    step = jax.jit(lambda s, b, r: train_step(s, b, r, ctx=run.ctx))
    batch = {"unlabeled": _unlabeled_batch(run.cfg)}
    state, losses = run.state, []
    for _ in range(n):
        state, metrics = step(state, batch, jax.random.key(0))
        losses.append(float(metrics["loss"]))
    return state, losses, metrics


def test_pixpro_steps_decrease_the_loss_and_move_the_target(pixpro_run):
    state, losses, metrics = _run_steps(pixpro_run, 6)
    assert all(np.isfinite(losses))
    assert np.mean(losses[-2:]) < 0.8 * losses[0], losses
    assert float(metrics["pos_pairs_1"]) > 0
    assert 0.05 < float(metrics["target_spread_within_1"]) <= float(metrics["target_spread_1"]) + 0.05
    enc0 = jax.tree.leaves(pixpro_run.state.params["encoder"])[0]
    enc = jax.tree.leaves(state.params["encoder"])[0]
    tgt = jax.tree.leaves(state.extra["target"]["encoder"])[0]
    # The target moved 1 − 0.99^k of the way: strictly between the start and the student.
    assert 0 < float(np.abs(tgt - enc0).max()) < float(np.abs(enc - enc0).max())


def test_byol_steps_decrease_the_loss():
    run = build_run(load_config(SMOKE.format("pretrain_byol"), ["--config.train.steps=100"]))
    _, losses, metrics = _run_steps(run, 6)
    assert np.mean(losses[-2:]) < 0.8 * losses[0], losses
    assert float(metrics["target_spread"]) > 0.1  # not collapsed


def test_pixcontrast_steps_decrease_the_loss_without_collapse():
    cfg = load_config(SMOKE.format("pretrain_pixpro"), ["--config.train.steps=100",
                                                         "--config.method.dense_loss=pixcontrast"])
    _, losses, metrics = _run_steps(build_run(cfg), 12)
    # Noisier than the regression (the EMA target's keys move under it): compare thirds.
    assert np.mean(losses[-3:]) < 0.9 * np.mean(losses[:3]), losses
    assert float(metrics["target_spread_within_1"]) > 0.1


@pytest.fixture(scope="module")
def pretrained_workdir(pixpro_run, tmp_path_factory):
    """A pixpro workdir with checkpoints at steps 0 and 1 (weights perturbed so they differ from any init)."""
    workdir = str(tmp_path_factory.mktemp("pretrained"))
    with open(os.path.join(workdir, "config.json"), "w") as f:
        json.dump(to_plain(pixpro_run.cfg), f)
    manager = checkpoint.make_manager(workdir)
    checkpoint.save(manager, pixpro_run.state)
    perturbed = jax.tree.map(lambda x: np.asarray(x) + 0.5, pixpro_run.state.params)
    checkpoint.save(manager, pixpro_run.state.replace(step=pixpro_run.state.step + 1, params=perturbed))
    return workdir


def test_init_from_loads_exactly_the_pretrained_encoder(pretrained_workdir, pixpro_run):
    target = build_run(load_config(SMOKE.format("supervised"), ["--config.seed=1"])).state
    params, stats, report = initial_weights(target.params, target.batch_stats, pretrained_workdir)
    source = pixpro_run.state.params
    for got, want in zip(jax.tree.leaves(params["encoder"]), jax.tree.leaves(source["encoder"])):
        np.testing.assert_array_equal(got, np.asarray(want) + 0.5)  # the latest checkpoint (step 1)
    for got, fresh in zip(jax.tree.leaves(params["decoder"]), jax.tree.leaves(target.params["decoder"])):
        np.testing.assert_array_equal(got, fresh)  # pretraining did not train the decoder: left fresh
    for got, want in zip(jax.tree.leaves(stats["encoder"]), jax.tree.leaves(pixpro_run.state.batch_stats["encoder"])):
        np.testing.assert_array_equal(got, want)
    assert "ssl_heads" not in params
    assert any(line.startswith("loaded params encoder") for line in report)
    assert any(line.startswith("fresh  params decoder") and "not trained by the source" in line for line in report)

    # A checkpoint folder selects that step.
    step0, _, _ = initial_weights(target.params, target.batch_stats, os.path.join(pretrained_workdir, "checkpoints", "0"))
    for got, want in zip(jax.tree.leaves(step0["encoder"]), jax.tree.leaves(source["encoder"])):
        np.testing.assert_array_equal(got, want)


def test_init_from_refuses_a_different_encoder(pretrained_workdir, tmp_path):
    wider = build_run(load_config(SMOKE.format("supervised"), ["--config.model.width=12"])).state
    with pytest.raises(CheckpointError, match="encoder does not match.*model.arch/backbone/width"):
        initial_weights(wider.params, wider.batch_stats, pretrained_workdir)
    with pytest.raises(CheckpointError, match="checkpoints/7' does not exist"):
        resolve_source(os.path.join(pretrained_workdir, "checkpoints", "7"))
    fake = tmp_path / "run"
    (fake / "checkpoints" / "9").mkdir(parents=True)
    (fake / "config.json").write_text("{}")
    assert resolve_source(str(fake / "checkpoints" / "9")) == (str(fake), 9)
    assert resolve_source(str(fake)) == (str(fake), None)


def test_transfer_loads_decoder_arrays_that_match_and_lists_the_rest():
    target = {"encoder": {"conv": np.zeros((3, 3))},
              "decoder": {"fuse": np.zeros(4), "classifier": {"kernel": np.zeros((4, 6))}}}
    source = {"encoder": {"conv": np.ones((3, 3))},
              "decoder": {"fuse": np.full(4, 2.0), "classifier": {"kernel": np.ones((4, 4))}}}
    out, report = transfer(target, source, "params")
    np.testing.assert_array_equal(out["encoder"]["conv"], np.ones((3, 3)))
    np.testing.assert_array_equal(out["decoder"]["fuse"], np.full(4, 2.0))
    np.testing.assert_array_equal(out["decoder"]["classifier"]["kernel"], np.zeros((4, 6)))
    assert report[1] == ("loaded params decoder (1 of 2 arrays); fresh: "
                         "decoder['classifier']['kernel'] (shape (4, 4) there, (4, 6) here)")
    renamed = {"encoder": {"conv2": np.ones((3, 3))}, "decoder": {}}
    with pytest.raises(CheckpointError, match=r"encoder\['conv'\] is missing there"):
        transfer(target, renamed, "params")


def test_init_from_fills_every_network_of_a_two_network_method(pretrained_workdir, pixpro_run):
    cps = build_run(load_config(SMOKE.format("cps"))).state
    params, stats, report = initial_weights(cps.params, cps.batch_stats, pretrained_workdir)
    want = jax.tree.leaves(pixpro_run.state.params["encoder"])
    for name in ("a", "b"):
        for got, src in zip(jax.tree.leaves(params[name]["encoder"]), want):
            np.testing.assert_array_equal(got, np.asarray(src) + 0.5)
        for got, fresh in zip(jax.tree.leaves(params[name]["decoder"]), jax.tree.leaves(cps.params[name]["decoder"])):
            np.testing.assert_array_equal(got, fresh)
    assert "loaded params[b] encoder (36 arrays)" in " ".join(report)
