"""ResNet encoders (torchvision layout, NHWC) returning stride-4 and stride-`output_stride` features."""

from __future__ import annotations

from typing import Sequence

import jax
from flax import nnx

from ssseg.errors import ConfigError
from ssseg.models.layers import ConvBNReLU, batch_norm, conv2d, max_pool_3x3_s2

# name -> (block kind, blocks per stage); torchvision's definitions.
RESNET_SPECS: dict[str, tuple[str, tuple[int, int, int, int]]] = {
    "resnet18": ("basic", (2, 2, 2, 2)),
    "resnet34": ("basic", (3, 4, 6, 3)),
    "resnet50": ("bottleneck", (3, 4, 6, 3)),
    "resnet101": ("bottleneck", (3, 4, 23, 3)),
}
EXPANSION = {"basic": 1, "bottleneck": 4}
# Which of layer2..layer4 trade their stride for dilation (torchvision's replace_stride_with_dilation).
DILATE_STAGES = {32: (False, False, False), 16: (False, False, True), 8: (False, True, True)}


class BasicBlock(nnx.Module):
    """Two 3×3 convs + identity. Dilation applies to both convs (torchvision refuses dilation here)."""

    def __init__(self, in_channels: int, planes: int, *, stride: int, dilation: int, rngs: nnx.Rngs):
        self.conv1 = conv2d(in_channels, planes, 3, stride=stride, dilation=dilation, rngs=rngs)
        self.bn1 = batch_norm(planes, rngs=rngs)
        self.conv2 = conv2d(planes, planes, 3, dilation=dilation, rngs=rngs)
        self.bn2 = batch_norm(planes, rngs=rngs)
        self.has_downsample = stride != 1 or in_channels != planes
        if self.has_downsample:
            self.downsample_conv = conv2d(in_channels, planes, 1, stride=stride, rngs=rngs)
            self.downsample_bn = batch_norm(planes, rngs=rngs)

    def __call__(self, x: jax.Array, train: bool) -> jax.Array:
        frozen = not train
        out = self.bn1(self.conv1(x), use_running_average=frozen, relu=True)
        if self.has_downsample:
            x = self.downsample_bn(self.downsample_conv(x), use_running_average=frozen)
        return self.bn2(self.conv2(out), use_running_average=frozen, residual=x, relu=True)


class Bottleneck(nnx.Module):
    """1×1 → 3×3 (stride/dilation here, ResNet v1.5) → 1×1 (×4) + identity."""

    def __init__(self, in_channels: int, planes: int, *, stride: int, dilation: int, rngs: nnx.Rngs):
        out_channels = planes * EXPANSION["bottleneck"]
        self.conv1 = conv2d(in_channels, planes, 1, rngs=rngs)
        self.bn1 = batch_norm(planes, rngs=rngs)
        self.conv2 = conv2d(planes, planes, 3, stride=stride, dilation=dilation, rngs=rngs)
        self.bn2 = batch_norm(planes, rngs=rngs)
        self.conv3 = conv2d(planes, out_channels, 1, rngs=rngs)
        self.bn3 = batch_norm(out_channels, rngs=rngs)
        self.has_downsample = stride != 1 or in_channels != out_channels
        if self.has_downsample:
            self.downsample_conv = conv2d(in_channels, out_channels, 1, stride=stride, rngs=rngs)
            self.downsample_bn = batch_norm(out_channels, rngs=rngs)

    def __call__(self, x: jax.Array, train: bool) -> jax.Array:
        frozen = not train
        out = self.bn1(self.conv1(x), use_running_average=frozen, relu=True)
        out = self.bn2(self.conv2(out), use_running_average=frozen, relu=True)
        if self.has_downsample:
            x = self.downsample_bn(self.downsample_conv(x), use_running_average=frozen)
        return self.bn3(self.conv3(out), use_running_average=frozen, residual=x, relu=True)


class Stem(nnx.Module):
    """torchvision stem: 7×7/2 conv → BN → ReLU → 3×3/2 max pool (stride 4)."""

    def __init__(self, in_channels: int, width: int, *, kernel: int = 7, rngs: nnx.Rngs):
        self.conv = conv2d(in_channels, width, kernel, stride=2, rngs=rngs)
        self.bn = batch_norm(width, rngs=rngs)

    def __call__(self, x: jax.Array, train: bool) -> jax.Array:
        return max_pool_3x3_s2(self.bn(self.conv(x), use_running_average=not train, relu=True))


class DeepStem(nnx.Module):
    """UniMatch's deep stem: 3×3/2 (64) → 3×3 (64) → 3×3 (2·64) convs, BN/ReLU between, then max pool."""

    def __init__(self, in_channels: int, width: int, *, rngs: nnx.Rngs):
        self.conv_a = ConvBNReLU(in_channels, width, 3, stride=2, rngs=rngs)
        self.conv_b = ConvBNReLU(width, width, 3, rngs=rngs)
        self.conv_c = conv2d(width, 2 * width, 3, rngs=rngs)
        self.bn = batch_norm(2 * width, rngs=rngs)

    def __call__(self, x: jax.Array, train: bool) -> jax.Array:
        x = self.conv_b(self.conv_a(x, train), train)
        return max_pool_3x3_s2(self.bn(self.conv_c(x), use_running_average=not train, relu=True))


class ResNet(nnx.Module):
    """ResNet trunk without the classifier. `__call__` returns (low stride 4, high stride `output_stride`)."""

    def __init__(self, block: str, blocks_per_stage: Sequence[int], *, in_channels: int = 3,
                 widths: Sequence[int] = (64, 128, 256, 512), stem: str = "standard",
                 output_stride: int = 32, rngs: nnx.Rngs):
        if output_stride not in DILATE_STAGES:
            raise ConfigError(f"model.output_stride={output_stride!r}: expected one of 8, 16, 32")
        if block not in EXPANSION:
            raise ConfigError(f"ResNet block {block!r}: expected 'basic' or 'bottleneck'")
        if stem == "standard":
            self.stem = Stem(in_channels, widths[0], rngs=rngs)
            channels = widths[0]
        elif stem == "deep":
            self.stem = DeepStem(in_channels, widths[0], rngs=rngs)
            channels = 2 * widths[0]
        elif stem == "small":  # one cheap 3×3/2 conv: the CPU preset spends its FLOPs later
            self.stem = Stem(in_channels, widths[0], kernel=3, rngs=rngs)
            channels = widths[0]
        else:
            raise ConfigError(f"ResNet stem {stem!r}: expected 'standard', 'deep' or 'small'")
        block_cls = BasicBlock if block == "basic" else Bottleneck
        dilation = 1
        stages = []
        for stage, (planes, num_blocks) in enumerate(zip(widths, blocks_per_stage)):
            stride = 1 if stage == 0 else 2
            first_dilation = dilation
            if stage > 0 and DILATE_STAGES[output_stride][stage - 1]:
                dilation *= stride
                stride = 1
            layer = [block_cls(channels, planes, stride=stride, dilation=first_dilation, rngs=rngs)]
            channels = planes * EXPANSION[block]
            layer += [block_cls(channels, planes, stride=1, dilation=dilation, rngs=rngs)
                      for _ in range(num_blocks - 1)]
            stages.append(nnx.List(layer))
        self.layer1, self.layer2, self.layer3, self.layer4 = stages
        self.low_channels = widths[0] * EXPANSION[block]
        self.high_channels = channels
        self.output_stride = output_stride
        self.remat = False  # model.remat (set by models/factory.py): recompute stages in the backward pass

    def __call__(self, x: jax.Array, train: bool) -> tuple[jax.Array, jax.Array]:
        x = self.stem(x, train)
        run_stage = _run_stage_remat if self.remat else _run_stage
        low = x = run_stage(self.layer1, x, train)
        for layer in (self.layer2, self.layer3, self.layer4):
            x = run_stage(layer, x, train)
        return low, x


def _run_stage(blocks: nnx.List, x: jax.Array, train: bool) -> jax.Array:
    for blk in blocks:
        x = blk(x, train)
    return x


# The stage's activations are recomputed from its input in the backward pass (batch-norm
# updates happen once, in the forward pass); `train` is a Python bool, hence static.
_run_stage_remat = nnx.remat(_run_stage, static_argnums=(2,))


def build_resnet(name: str, *, in_channels: int, deep_stem: bool, output_stride: int,
                 rngs: nnx.Rngs) -> ResNet:
    """A torchvision-architecture ResNet (`resnet18/34/50/101`)."""
    if name not in RESNET_SPECS:
        raise ConfigError(f"model.backbone={name!r}: expected one of {sorted(RESNET_SPECS)} or 'small'")
    block, blocks_per_stage = RESNET_SPECS[name]
    return ResNet(block, blocks_per_stage, in_channels=in_channels, stem="deep" if deep_stem else "standard",
                  output_stride=output_stride, rngs=rngs)


def build_small_resnet(*, width: int, in_channels: int, output_stride: int, rngs: nnx.Rngs,
                       blocks_per_stage: Sequence[int] = (1, 1, 1, 1)) -> ResNet:
    """CPU-friendly ResNet: one BasicBlock per stage, widths (w, 2w, 4w, 8w), 3×3 stem."""
    if width < 4:
        raise ConfigError(f"model.width={width!r}: expected an int >= 4 for the small backbone")
    widths = (width, 2 * width, 4 * width, 8 * width)
    return ResNet("basic", blocks_per_stage, in_channels=in_channels, widths=widths, stem="small",
                  output_stride=output_stride, rngs=rngs)
