"""torchvision-layout safetensors import: where each tensor lands, grayscale stems, deep stem, bad shapes."""

import numpy as np
import pytest
from safetensors.numpy import save_file

from ssseg.errors import CheckpointError
from ssseg.models import functional
from ssseg.models.deeplabv3plus import DeepLabV3Plus
from ssseg.models.factory import build_model, init_module
from ssseg.models.resnet import ResNet
from ssseg.models.torchvision_import import load_torchvision_resnet

WIDTHS = (4, 8, 16, 32)


def torchvision_basic_resnet(widths, blocks, in_channels, *, stem_kernel=7, deep_stem=False, seed=0):
    """A state dict in torchvision's naming and OIHW layout, written out independently of our mapping."""
    rng = np.random.default_rng(seed)
    shapes = {}

    def bn(prefix, c):
        for name in ("weight", "bias", "running_mean", "running_var"):
            shapes[f"{prefix}.{name}"] = (c,)
        shapes[f"{prefix}.num_batches_tracked"] = ()

    if deep_stem:
        w = widths[0]
        shapes["conv1.0.weight"] = (w, in_channels, 3, 3)
        bn("conv1.1", w)
        shapes["conv1.3.weight"] = (w, w, 3, 3)
        bn("conv1.4", w)
        shapes["conv1.6.weight"] = (2 * w, w, 3, 3)
        bn("bn1", 2 * w)
        inplanes = 2 * w
    else:
        shapes["conv1.weight"] = (widths[0], in_channels, stem_kernel, stem_kernel)
        bn("bn1", widths[0])
        inplanes = widths[0]
    for stage, (planes, n) in enumerate(zip(widths, blocks)):
        for b in range(n):
            p = f"layer{stage + 1}.{b}"
            shapes[f"{p}.conv1.weight"] = (planes, inplanes, 3, 3)
            bn(f"{p}.bn1", planes)
            shapes[f"{p}.conv2.weight"] = (planes, planes, 3, 3)
            bn(f"{p}.bn2", planes)
            if b == 0 and (stage > 0 or inplanes != planes):
                shapes[f"{p}.downsample.0.weight"] = (planes, inplanes, 1, 1)
                bn(f"{p}.downsample.1", planes)
            inplanes = planes
    shapes["fc.weight"], shapes["fc.bias"] = (10, widths[-1]), (10,)
    return {k: (np.array(7, np.int64) if s == () else rng.standard_normal(s).astype(np.float32))
            for k, s in shapes.items()}


def tiny_model_trees(in_channels=3, stem="small"):
    def construct(rngs):
        encoder = ResNet("basic", (1, 1, 1, 1), in_channels=in_channels, widths=WIDTHS, stem=stem, rngs=rngs)
        return DeepLabV3Plus(encoder, 3, aspp_channels=8, reduce_channels=8, fuse_channels=8, rngs=rngs)
    return functional.split_model(init_module(construct, seed=0))


def _write(tmp_path, tensors, name="weights.safetensors"):
    path = tmp_path / name
    save_file(tensors, str(path))
    return path


def test_tensors_land_in_params_and_batch_stats(tmp_path):
    tensors = torchvision_basic_resnet(WIDTHS, (1, 1, 1, 1), 3, stem_kernel=3)
    _, params, stats = tiny_model_trees()
    new_params, new_stats, report = load_torchvision_resnet(_write(tmp_path, tensors), params, stats)
    enc, enc_stats = new_params["encoder"], new_stats["encoder"]
    np.testing.assert_array_equal(enc["stem"]["conv"]["kernel"], tensors["conv1.weight"].transpose(2, 3, 1, 0))
    np.testing.assert_array_equal(enc["stem"]["bn"]["scale"], tensors["bn1.weight"])
    np.testing.assert_array_equal(enc["layer2"]["0"]["downsample_conv"]["kernel"][0, 0],
                                  tensors["layer2.0.downsample.0.weight"][:, :, 0, 0].T)
    np.testing.assert_array_equal(enc["layer4"]["0"]["downsample_bn"]["bias"], tensors["layer4.0.downsample.1.bias"])
    np.testing.assert_array_equal(enc_stats["layer3"]["0"]["bn2"]["var"], tensors["layer3.0.bn2.running_var"])
    np.testing.assert_array_equal(enc_stats["layer1"]["0"]["bn1"]["mean"], tensors["layer1.0.bn1.running_mean"])
    # the head is untouched
    np.testing.assert_array_equal(new_params["decoder"]["classifier"]["kernel"], params["decoder"]["classifier"]["kernel"])
    n_ignored = 2 + sum(k.endswith("num_batches_tracked") for k in tensors)
    assert len(report.loaded) == len(tensors) - n_ignored
    assert report.missing == [] and report.unexpected == [] and report.shape_mismatch == []
    assert "fc.weight" in report.ignored and not report.summed_rgb_stem


def test_missing_and_unexpected_keys_are_reported(tmp_path):
    tensors = torchvision_basic_resnet(WIDTHS, (1, 1, 1, 1), 3, stem_kernel=3)
    del tensors["layer4.0.bn2.running_mean"]
    tensors["layer5.0.conv1.weight"] = np.zeros((1, 1, 1, 1), np.float32)
    _, params, stats = tiny_model_trees()
    _, new_stats, report = load_torchvision_resnet(_write(tmp_path, tensors), params, stats)
    assert report.missing == ["layer4.0.bn2.running_mean"]
    assert report.unexpected == ["layer5.0.conv1.weight"]
    np.testing.assert_array_equal(new_stats["encoder"]["layer4"]["0"]["bn2"]["mean"], np.zeros(32))
    assert "missing: layer4.0.bn2.running_mean" in report.summary()


def test_grayscale_input_sums_rgb_stem_filters(tmp_path):
    tensors = torchvision_basic_resnet(WIDTHS, (1, 1, 1, 1), 3, stem_kernel=3)
    _, params, stats = tiny_model_trees(in_channels=1)
    new_params, _, report = load_torchvision_resnet(_write(tmp_path, tensors), params, stats)
    kernel = new_params["encoder"]["stem"]["conv"]["kernel"]
    assert kernel.shape == (3, 3, 1, 4)
    expected = tensors["conv1.weight"][:, 0] + tensors["conv1.weight"][:, 1] + tensors["conv1.weight"][:, 2]
    np.testing.assert_allclose(kernel[:, :, 0, :], expected.transpose(1, 2, 0), rtol=1e-6)
    assert report.summed_rgb_stem and "summed" in report.summary()


def test_deep_stem_layout(tmp_path):
    tensors = torchvision_basic_resnet(WIDTHS, (1, 1, 1, 1), 3, deep_stem=True)
    _, params, stats = tiny_model_trees(stem="deep")
    new_params, new_stats, report = load_torchvision_resnet(_write(tmp_path, tensors), params, stats)
    stem, stem_stats = new_params["encoder"]["stem"], new_stats["encoder"]["stem"]
    np.testing.assert_array_equal(stem["conv_b"]["conv"]["kernel"], tensors["conv1.3.weight"].transpose(2, 3, 1, 0))
    np.testing.assert_array_equal(stem["conv_c"]["kernel"], tensors["conv1.6.weight"].transpose(2, 3, 1, 0))
    np.testing.assert_array_equal(stem["conv_a"]["bn"]["scale"], tensors["conv1.1.weight"])
    np.testing.assert_array_equal(stem_stats["conv_b"]["bn"]["var"], tensors["conv1.4.running_var"])
    np.testing.assert_array_equal(stem_stats["bn"]["mean"], tensors["bn1.running_mean"])
    assert report.missing == [] and report.unexpected == []


def test_wrong_shape_names_the_key(tmp_path):
    tensors = torchvision_basic_resnet(WIDTHS, (1, 1, 1, 1), 3, stem_kernel=3)
    tensors["layer1.0.conv2.weight"] = np.zeros((4, 4, 5, 5), np.float32)
    _, params, stats = tiny_model_trees()
    with pytest.raises(CheckpointError, match=r"layer1\.0\.conv2\.weight: file \(4, 4, 5, 5\)"):
        load_torchvision_resnet(_write(tmp_path, tensors), params, stats)
    _, _, report = load_torchvision_resnet(tmp_path / "weights.safetensors", params, stats, strict_shapes=False)
    assert [m.split(":")[0] for m in report.shape_mismatch] == ["layer1.0.conv2.weight"]


def test_missing_file_is_checkpoint_error(tmp_path):
    _, params, stats = tiny_model_trees()
    with pytest.raises(CheckpointError, match="no such file"):
        load_torchvision_resnet(tmp_path / "absent.safetensors", params, stats)


def test_build_model_loads_full_resnet18_for_grayscale(tmp_path, capsys):
    tensors = torchvision_basic_resnet((64, 128, 256, 512), (2, 2, 2, 2), 3)
    path = _write(tmp_path, tensors, "resnet18.safetensors")
    cfg = {"arch": "deeplabv3plus", "backbone": "resnet18", "output_stride": 16, "pretrained": str(path)}
    model = build_model(cfg, num_classes=6, in_channels=1, seed=0)
    out = capsys.readouterr().out
    # torchvision resnet18: 122 tensors = 100 encoder tensors + fc.weight/bias + 20 num_batches_tracked
    assert len(tensors) == 122
    assert "loaded 100, missing 0, unexpected 0, shape-mismatched 0, ignored 22" in out
    np.testing.assert_array_equal(model.encoder.layer4[1].bn2.var[...], tensors["layer4.1.bn2.running_var"])
    np.testing.assert_allclose(model.encoder.stem.conv.kernel[...][:, :, 0, :],
                               tensors["conv1.weight"].sum(axis=1).transpose(1, 2, 0), rtol=1e-5)
