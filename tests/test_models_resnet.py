"""ResNet encoders: torchvision parameter counts, feature strides, dilation placement, deep stem."""

import jax
import jax.numpy as jnp
import pytest
from flax import nnx

from ssseg.errors import ConfigError
from ssseg.models.resnet import build_resnet, build_small_resnet


def _abstract_resnet(name, *, output_stride=32, deep_stem=False, in_channels=3):
    return nnx.eval_shape(lambda: build_resnet(name, in_channels=in_channels, deep_stem=deep_stem,
                                               output_stride=output_stride, rngs=nnx.Rngs(0)))


def _param_count(module):
    return sum(int(jnp.size(x)) for x in jax.tree.leaves(nnx.state(module, nnx.Param)))


@pytest.mark.parametrize("name, expected", [
    # torchvision totals minus the ImageNet fc layer (in_features * 1000 + 1000)
    ("resnet18", 11_689_512 - 513_000),
    ("resnet34", 21_797_672 - 513_000),
    ("resnet50", 25_557_032 - 2_049_000),
    ("resnet101", 44_549_160 - 2_049_000),
])
def test_param_count_matches_torchvision_without_fc(name, expected):
    assert _param_count(_abstract_resnet(name)) == expected


def _feature_shapes(encoder, hw=64, channels=3):
    x = jax.ShapeDtypeStruct((2, hw, hw, channels), jnp.float32)
    graphdef, state = nnx.split(encoder)
    low, high = jax.eval_shape(lambda s, x: nnx.merge(graphdef, s)(x, False), state, x)
    return low.shape, high.shape


@pytest.mark.parametrize("name, low_c, high_c", [("resnet18", 64, 512), ("resnet50", 256, 2048),
                                                 ("resnet101", 256, 2048)])
@pytest.mark.parametrize("output_stride", [8, 16])
def test_feature_strides_for_output_stride(name, low_c, high_c, output_stride):
    low, high = _feature_shapes(_abstract_resnet(name, output_stride=output_stride), hw=64)
    assert low == (2, 16, 16, low_c)
    assert high == (2, 64 // output_stride, 64 // output_stride, high_c)


def test_small_backbone_widths_and_strides():
    encoder = nnx.eval_shape(lambda: build_small_resnet(width=8, in_channels=1, output_stride=8,
                                                          rngs=nnx.Rngs(0)))
    assert (encoder.low_channels, encoder.high_channels) == (8, 64)
    assert _feature_shapes(encoder, hw=32, channels=1) == ((2, 8, 8, 8), (2, 4, 4, 64))


def test_dilation_replaces_stride_like_torchvision_os8():
    enc = _abstract_resnet("resnet50", output_stride=8)
    # first block of a dilated stage keeps the previous dilation, later blocks use the new one
    assert enc.layer2[0].conv2.strides == 2
    assert enc.layer3[0].conv2.strides == 1 and enc.layer3[0].conv2.kernel_dilation == 1
    assert enc.layer3[1].conv2.kernel_dilation == 2
    assert enc.layer4[0].conv2.kernel_dilation == 2
    assert enc.layer4[2].conv2.kernel_dilation == 4
    assert enc.layer4[0].downsample_conv.strides == 1


def test_deep_stem_is_unimatch_layout():
    enc = _abstract_resnet("resnet50", deep_stem=True, in_channels=1)
    assert enc.stem.conv_a.conv.kernel.shape == (3, 3, 1, 64)
    assert enc.stem.conv_b.conv.kernel.shape == (3, 3, 64, 64)
    assert enc.stem.conv_c.kernel.shape == (3, 3, 64, 128)
    assert enc.layer1[0].downsample_conv.kernel.shape == (1, 1, 128, 256)


def test_bad_output_stride_and_backbone_are_config_errors():
    with pytest.raises(ConfigError, match="output_stride=4"):
        build_small_resnet(width=8, in_channels=3, output_stride=4, rngs=nnx.Rngs(0))
    with pytest.raises(ConfigError, match="resnet152"):
        build_resnet("resnet152", in_channels=3, deep_stem=False, output_stride=16, rngs=nnx.Rngs(0))
