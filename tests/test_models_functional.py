"""Functional boundary: pure-dict params/batch_stats through jax.jit, head mask, transplanting weights."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ssseg.models import functional
from ssseg.models.factory import build_model

SMALL = {"arch": "deeplabv3plus", "backbone": "small", "width": 8, "output_stride": 16}
jit_apply = jax.jit(functional.apply_model, static_argnums=0, static_argnames="train")


@pytest.fixture(scope="module")
def images():
    return jax.random.normal(jax.random.key(3), (2, 32, 32, 3))


@pytest.fixture(scope="module")
def split():
    return functional.split_model(build_model(SMALL, 5, 3, seed=0))


def test_params_are_string_keyed_plain_dicts(split):
    _, params, batch_stats = split
    assert set(params) == {"encoder", "decoder"}
    assert set(params["encoder"]["layer1"]) == {"0"}
    assert set(params["encoder"]["stem"]["bn"]) == {"scale", "bias"}
    assert set(batch_stats["encoder"]["stem"]["bn"]) == {"mean", "var"}
    assert all(isinstance(leaf, jax.Array) for leaf in jax.tree.leaves((params, batch_stats)))


@pytest.mark.parametrize("train", [False, True])
def test_jitted_apply_matches_eager_module(split, images, train):
    graphdef, params, batch_stats = split
    logits, new_stats = jit_apply(graphdef, params, batch_stats, images, train=train)
    module = functional.merge_model(graphdef, params, batch_stats)
    np.testing.assert_allclose(logits, module(images, train), rtol=1e-4, atol=1e-5)
    _, _, module_stats = functional.split_model(module)
    for got, want in zip(jax.tree.leaves(new_stats), jax.tree.leaves(module_stats)):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    # the inputs are never mutated; eval returns the running stats unchanged
    np.testing.assert_array_equal(batch_stats["encoder"]["stem"]["bn"]["mean"], np.zeros(8))
    stem_mean = new_stats["encoder"]["stem"]["bn"]["mean"]
    assert np.any(stem_mean != 0) if train else np.all(stem_mean == 0)


def test_functional_encode_perturb_decode_matches_apply(split, images):
    graphdef, params, batch_stats = split
    features, stats_enc = functional.encode(graphdef, params, batch_stats, images, train=False)
    logits, _ = functional.decode(graphdef, params, stats_enc, features, (32, 32), train=False)
    reference, _ = jit_apply(graphdef, params, batch_stats, images, train=False)
    np.testing.assert_allclose(logits, reference, rtol=1e-4, atol=1e-5)
    # UniMatch-style channel dropout between encode and decode changes the prediction
    keep = jnp.ones((2, 1, 1, 64)).at[:, :, :, :32].set(0.0) * 2.0
    dropped, _ = functional.decode(graphdef, params, stats_enc, (features[0], features[1] * keep), (32, 32),
                                   train=False)
    assert not np.allclose(dropped, reference, atol=1e-4)


def test_gradients_flow_to_every_param(split, images):
    graphdef, params, batch_stats = split

    def loss(p):
        return jnp.mean(functional.apply_model(graphdef, p, batch_stats, images, train=True)[0] ** 2)

    grads = jax.jit(jax.grad(loss))(params)
    assert jax.tree.structure(grads) == jax.tree.structure(params)
    assert all(float(jnp.abs(g).sum()) > 0 for g in jax.tree.leaves(grads))


def test_head_mask_splits_encoder_and_decoder(split):
    _, params, _ = split
    mask = functional.head_mask(params)
    paths = functional.tree_paths(mask)
    assert paths[("encoder", "layer1", "0", "conv1", "kernel")] is False
    assert paths[("decoder", "classifier", "kernel")] is True
    assert paths[("decoder", "aspp", "b0", "bn", "scale")] is True
    assert sum(paths.values()) == len(jax.tree.leaves(params["decoder"]))


def test_transplant_loads_encoder_and_matching_decoder(split):
    _, source, _ = split
    _, target, _ = functional.split_model(build_model(SMALL, 3, 3, seed=1))
    merged, report = functional.transplant(target, source)
    np.testing.assert_array_equal(merged["encoder"]["stem"]["conv"]["kernel"],
                                  source["encoder"]["stem"]["conv"]["kernel"])
    np.testing.assert_array_equal(merged["decoder"]["fuse1"]["conv"]["kernel"],
                                  source["decoder"]["fuse1"]["conv"]["kernel"])
    # 5-class classifier does not fit a 3-class model: kept as initialised, and reported
    np.testing.assert_array_equal(merged["decoder"]["classifier"]["kernel"], target["decoder"]["classifier"]["kernel"])
    assert sorted(r.split(":")[0] for r in report["shape_mismatch"]) == ["decoder.classifier.bias",
                                                                          "decoder.classifier.kernel"]
    assert not report["missing"] and not report["unused"]
    encoder_only, report = functional.transplant(target, source, include_head=False)
    assert all(name.startswith("encoder.") for name in report["loaded"])
    np.testing.assert_array_equal(encoder_only["decoder"]["fuse1"]["conv"]["kernel"],
                                  target["decoder"]["fuse1"]["conv"]["kernel"])
    assert functional.encoder_subtree(encoder_only).keys() == source["encoder"].keys()
