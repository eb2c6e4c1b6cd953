"""The method contract: every method module registers a checked Method; the defaults hold; decoder features."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ssseg.errors import ConfigError
from ssseg.methods import contract
from ssseg.methods.contract import Method, available, get_method
from ssseg.models import functional as model_fns
from ssseg.models.factory import build_model
from ssseg.config.loader import load_config


def test_every_method_module_registers_its_method():
    names = available()
    assert {"supervised", "fixmatch", "unimatch", "cps", "mean_teacher",
            "pretrain_mim", "pretrain_byol", "pretrain_pixpro"} <= set(names)
    for name in names:
        method = get_method(name)
        assert method.name == name
        assert method.streams == (("unlabeled",) if method.pretrain else
                                  ("labeled", "unlabeled") if method.uses_unlabeled else ("labeled",))
        if method.pretrain:  # init_from must know which parts pretraining trained
            assert method.pretrained_parts == (model_fns.ENCODER_KEY,)
            assert method.evaluate is not None


def test_unknown_method_is_a_named_config_error():
    with pytest.raises(ConfigError, match=r"config.method.name='unimatchh'.*unimatch"):
        get_method("unimatchh")


def test_contract_checks_its_fields():
    with pytest.raises(TypeError, match="loss must be callable"):
        Method(name="broken", defaults=dict, loss=None)
    with pytest.raises(TypeError, match="pretrain=True reads the unlabeled stream"):
        Method(name="broken", defaults=dict, loss=lambda *a: None, pretrain=True)


def test_optional_parts_default_to_a_plain_segmentation_method():
    m = Method(name="plain", defaults=dict, loss=lambda *a: None)
    assert m.streams == ("labeled",)
    assert m.init_params(None, None, {"p": 1}, {"s": 2}) == ({"p": 1}, {"s": 2})
    assert m.init_extra(None, None, None, None) == {}
    assert m.after_update(None, "state") == "state"
    assert m.evaluate is None and m.pretrained_parts is None
    assert m.head_mask({"encoder": {"w": 0}, "decoder": {"w": 0}}) == {"encoder": {"w": False}, "decoder": {"w": True}}
    assert m.eval_models is contract.student_only


@pytest.mark.parametrize("model", ["deeplabv3plus", "unet"])
def test_decoder_embedding_is_what_the_classifier_reads(model):
    overrides = ["--config.model.arch=unet", "--config.model.width=4"] if model == "unet" else []
    cfg = load_config("experiments/synthetic_defects.py:method=supervised,smoke", overrides)
    net = build_model(cfg.model, 3, 3, seed=0)
    graphdef, params, batch_stats = model_fns.split_model(net)
    images = jax.random.normal(jax.random.key(0), (2, 32, 32, 3))
    logits, _ = model_fns.apply_model(graphdef, params, batch_stats, images, train=False)
    logits_e, embedding, _ = model_fns.apply_with_embedding(graphdef, params, batch_stats, images, train=False)
    np.testing.assert_array_equal(np.asarray(logits), np.asarray(logits_e))
    assert embedding.ndim == 4 and embedding.shape[0] == 2 and embedding.shape[1] in (8, 32)
    # A 1x1 classifier: the logits are a linear map of the embedding, resized.
    assert not jnp.allclose(embedding, 0.0)
