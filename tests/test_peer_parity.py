"""ssseg computes what the official UniMatch code computes: its DeepLabV3+ R50 forward with the same
weights, and its loss formula on one fixed batch. The reference arrays come from the peer itself
(benchmarks/peer_reference.py, torch 2.13 CPU, run once), so this test needs no torch."""

import os

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from ssseg.augment import cutmix
from ssseg.benchmark.parity import decoder_torch_key, oihw_to_hwio, seeded_state_dict
from ssseg.train.losses import make_pixel_loss
from ssseg.methods import _pseudo
from ssseg.methods.unimatch import combine_losses
from ssseg.models import functional
from ssseg.models.factory import build_model
from ssseg.models.torchvision_import import load_torchvision_resnet

FIXTURE = os.path.join(os.path.dirname(__file__), "fixtures", "peer_reference.npz")
# float32 on both sides through ~60 layers: the logits agree to this fraction of their largest magnitude.
# Train mode is looser: batch statistics over tiny maps (ASPP's pooled branch normalises 2 values) amplify
# rounding; measured 6e-4 of the range there, 1e-4 in eval mode.
FORWARD_TOL = {"eval": 1e-4, "train": 1e-3}


@pytest.fixture(scope="module")
def reference():
    return dict(np.load(FIXTURE))


@pytest.fixture(scope="module")
def peer_weighted_model(reference, tmp_path_factory):
    from safetensors.numpy import save_file

    shapes = {str(k): tuple(int(d) for d in str(s).split(",") if d) for k, s in zip(reference["keys"], reference["shapes"])}
    weights = seeded_state_dict(shapes, seed=0)
    model_cfg = {"arch": "deeplabv3plus", "backbone": "resnet50", "deep_stem": True, "output_stride": 16,
                 "aspp_rates": (6, 12, 18)}
    graphdef, params, batch_stats = functional.split_model(build_model(model_cfg, 4, 3, seed=1))
    path = str(tmp_path_factory.mktemp("peer_weights") / "backbone.safetensors")
    save_file({k[len("backbone."):]: v for k, v in weights.items() if k.startswith("backbone.")}, path)
    params, batch_stats, report = load_torchvision_resnet(path, params, batch_stats)
    assert not report.missing and not report.unexpected and not report.shape_mismatch

    def fill_decoder(tree):
        leaves = functional.tree_paths(tree["decoder"])
        filled = {p: jnp.asarray(oihw_to_hwio(weights.pop(decoder_torch_key(p)))) for p in leaves}
        for p, leaf in leaves.items():
            assert filled[p].shape == leaf.shape, p
        return {**tree, "decoder": jax.tree_util.tree_map_with_path(
            lambda kp, _: filled[tuple(functional._key_name(e) for e in kp)], tree["decoder"])}

    params, batch_stats = fill_decoder(params), fill_decoder(batch_stats)
    # Every peer tensor outside the backbone went into the decoder.
    assert not [k for k in weights if not k.startswith("backbone.")]
    return graphdef, params, batch_stats


@pytest.mark.parametrize("mode", ["eval", "train"])
def test_deeplabv3plus_r50_matches_the_peer_forward(reference, peer_weighted_model, mode):
    graphdef, params, batch_stats = peer_weighted_model
    x = jnp.asarray(reference[f"x_{mode}"].transpose(0, 2, 3, 1))
    logits, _ = jax.jit(functional.apply_model, static_argnums=0, static_argnames="train")(
        graphdef, params, batch_stats, x, train=mode == "train")
    expected = reference[f"logits_{mode}"].transpose(0, 2, 3, 1)
    assert logits.shape == expected.shape == (x.shape[0], 65, 65, 4)
    scale = np.abs(expected).max()
    assert scale > 0.1  # a real signal, not a collapsed network
    np.testing.assert_allclose(np.asarray(logits), expected, rtol=0, atol=FORWARD_TOL[mode] * scale)
    assert np.mean(np.argmax(logits, -1) == np.argmax(expected, -1)) > 0.999


def test_unimatch_loss_matches_the_official_formula(reference):
    r = {k[len("loss_in_"):]: v for k, v in reference.items() if k.startswith("loss_in_")}
    nhwc = {k: jnp.asarray(r[k].transpose(0, 2, 3, 1)) for k in ("pred_x", "pred_u_w", "pred_u_w_fp",
                                                                  "pred_u_s1", "pred_u_s2")}
    cfg = ml_collections.ConfigDict()
    _pseudo.add_defaults(cfg)  # conf_thresh 0.95, CE over confident valid pixels / #valid
    valid = jnp.asarray(r["ignore_mask"] != 255)
    probs = jax.nn.softmax(nhwc["pred_u_w"], axis=-1)
    labels, _, confident, _, _ = _pseudo.pseudo_labels(cfg, {}, probs, valid)
    # The same pieces ssseg's UniMatch loss applies (methods/unimatch.py), with the peer's fixed boxes.
    strong = []
    for view, box in (("pred_u_s1", r["box1"]), ("pred_u_s2", r["box2"])):
        mixed = cutmix.paste_from_partner(jnp.asarray(box == 1), labels, confident, valid)
        strong.append(_pseudo.unlabeled_loss(cfg, nhwc[view], *mixed))
    loss_fp = _pseudo.unlabeled_loss(cfg, nhwc["pred_u_w_fp"], labels, confident, valid)
    loss_x = make_pixel_loss(ml_collections.ConfigDict({"name": "ce"}))(nhwc["pred_x"], jnp.asarray(r["mask_x"]))
    total = combine_losses(loss_x, strong, loss_fp)
    expected = {k[len("loss_out_"):]: float(v) for k, v in reference.items() if k.startswith("loss_out_")}
    got = {"loss": total, "loss_x": loss_x, "loss_s1": strong[0], "loss_s2": strong[1], "loss_fp": loss_fp}
    for name, value in got.items():
        assert float(value) == pytest.approx(expected[name], rel=1e-5), name
    assert 0 < expected["loss_s1"] < expected["loss_x"]  # some, not all, pixels were confident
