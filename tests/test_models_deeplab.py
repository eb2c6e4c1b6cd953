"""DeepLabV3+ (small backbone, 2×32×32): shapes, encode/decode split, determinism, BatchNorm modes."""

import jax
import numpy as np
import pytest

from ssseg.errors import ConfigError
from ssseg.models import functional
from ssseg.models.factory import build_model

SMALL = {"arch": "deeplabv3plus", "backbone": "small", "width": 8, "output_stride": 16}


@pytest.fixture(scope="module")
def images():
    return jax.random.normal(jax.random.key(1), (2, 32, 32, 3))


@pytest.fixture(scope="module")
def model():
    return build_model(SMALL, num_classes=5, in_channels=3, seed=0)


def test_logits_at_input_resolution_and_feature_strides(model, images):
    low, high = model.encode(images, train=False)
    assert low.shape == (2, 8, 8, 8) and high.shape == (2, 2, 2, 64)
    assert model(images, train=False).shape == (2, 32, 32, 5)


def test_decode_of_encode_equals_call(model, images):
    features = model.encode(images, train=False)
    np.testing.assert_allclose(model.decode(features, (32, 32), train=False),
                               model(images, train=False), rtol=1e-5, atol=1e-5)


def test_decode_to_other_size(model, images):
    features = model.encode(images, train=False)
    assert model.decode(features, (20, 28), train=False).shape == (2, 20, 28, 5)


def test_same_seed_same_params_other_seed_differs():
    _, params_a, stats_a = functional.split_model(build_model(SMALL, 5, 3, seed=7))
    _, params_b, _ = functional.split_model(build_model(SMALL, 5, 3, seed=7))
    _, params_c, _ = functional.split_model(build_model(SMALL, 5, 3, seed=8))
    for a, b in zip(jax.tree.leaves(params_a), jax.tree.leaves(params_b)):
        np.testing.assert_array_equal(a, b)
    kernel_a = params_a["encoder"]["layer1"]["0"]["conv1"]["kernel"]
    kernel_c = params_c["encoder"]["layer1"]["0"]["conv1"]["kernel"]
    assert not np.allclose(kernel_a, kernel_c)
    # fresh BatchNorm: scale 1, bias 0, running mean 0, var 1
    np.testing.assert_array_equal(params_a["encoder"]["stem"]["bn"]["scale"], np.ones(8))
    np.testing.assert_array_equal(stats_a["encoder"]["stem"]["bn"]["var"], np.ones(8))


def test_conv_init_std_follows_kaiming_fan_out():
    _, params, _ = functional.split_model(build_model(SMALL, 5, 3, seed=0))
    kernel = np.asarray(params["encoder"]["layer4"]["0"]["conv1"]["kernel"])  # 3×3×32×64
    assert kernel.shape == (3, 3, 32, 64)
    assert abs(kernel.std() - np.sqrt(2.0 / (9 * 64))) < 0.1 * np.sqrt(2.0 / (9 * 64))


def test_train_updates_running_stats_with_pytorch_momentum(images):
    net = build_model(SMALL, 5, 3, seed=0)
    stem = net.encoder.stem
    conv_out = stem.conv(images)
    net(images, train=True)
    # PyTorch momentum 0.1: running = 0.9 * running + 0.1 * batch (batch variance unbiased=False here)
    np.testing.assert_allclose(stem.bn.mean[...], 0.1 * conv_out.mean(axis=(0, 1, 2)), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(stem.bn.var[...], 0.9 + 0.1 * conv_out.var(axis=(0, 1, 2)), rtol=1e-4, atol=1e-6)


def test_eval_uses_running_stats_train_uses_batch_stats(model, images):
    # eval: a sample's logits do not depend on the rest of the batch; train: they do
    alone_eval = model(images[:1], train=False)
    np.testing.assert_allclose(alone_eval[0], model(images, train=False)[0], rtol=1e-4, atol=1e-5)
    probe = build_model(SMALL, 5, 3, seed=0)
    alone_train = probe(images[:1], train=True)
    batch_train = probe(images, train=True)
    assert not np.allclose(alone_train[0], batch_train[0], atol=1e-3)


def test_eval_leaves_running_stats_untouched(images):
    net = build_model(SMALL, 5, 3, seed=0)
    net(images, train=False)
    np.testing.assert_array_equal(net.encoder.stem.bn.mean[...], np.zeros(8))


def test_aspp_rates_scale_with_output_stride():
    os8 = build_model({**SMALL, "output_stride": 8}, 5, 3, seed=0)
    os16 = build_model({**SMALL, "aspp_rates": (3, 6, 9)}, 5, 3, seed=0)
    assert [b.conv.kernel_dilation for b in (os8.decoder.aspp.b1, os8.decoder.aspp.b2, os8.decoder.aspp.b3)] \
        == [12, 24, 36]
    assert os16.decoder.aspp.b3.conv.kernel_dilation == 9


@pytest.mark.parametrize("override, match", [
    ({"arch": "pspnet"}, "model.arch='pspnet'"),
    ({"backbone": "vgg16"}, "model.backbone='vgg16'"),
    ({"output_stride": 4}, "output_stride=4"),
    ({"aspp_rates": (6, 12)}, "aspp_rates"),
    ({"pretrained": "/nonexistent.safetensors"}, "small"),
])
def test_bad_model_config_is_one_line_config_error(override, match):
    with pytest.raises(ConfigError, match=match):
        build_model({**SMALL, **override}, 5, 3, seed=0)
