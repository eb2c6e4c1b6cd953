"""U-Net (bilinear-upsampling variant) with the encode/decode interface of the other segmentation models."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx

from ssseg.errors import ConfigError
from ssseg.models.layers import Conv2d, ConvBNReLU, max_pool_2x2_ceil, resize_bilinear_align_corners


class DoubleConv(nnx.Module):
    def __init__(self, in_channels: int, out_channels: int, *, rngs: nnx.Rngs):
        self.conv1 = ConvBNReLU(in_channels, out_channels, 3, rngs=rngs)
        self.conv2 = ConvBNReLU(out_channels, out_channels, 3, rngs=rngs)

    def __call__(self, x: jax.Array, train: bool) -> jax.Array:
        return self.conv2(self.conv1(x, train), train)


class UNetEncoder(nnx.Module):
    """Five DoubleConv levels at strides 1, 2, 4, 8, 16 (widths w·(1, 2, 4, 8, 16))."""

    def __init__(self, in_channels: int, width: int, *, depth: int = 4, rngs: nnx.Rngs):
        widths = [width * 2 ** i for i in range(depth + 1)]
        self.levels = nnx.List([DoubleConv(c_in, c_out, rngs=rngs)
                                for c_in, c_out in zip([in_channels] + widths[:-1], widths)])
        self.widths = tuple(widths)

    def __call__(self, x: jax.Array, train: bool) -> tuple[jax.Array, ...]:
        features = []
        for i, level in enumerate(self.levels):
            x = level(x if i == 0 else max_pool_2x2_ceil(x), train)
            features.append(x)
        return tuple(features)


class UNetDecoder(nnx.Module):
    """Upsample (align-corners bilinear) to the skip's size, concat the skip, DoubleConv; 1×1 classifier."""

    def __init__(self, widths: tuple[int, ...], num_classes: int, *, rngs: nnx.Rngs):
        self.ups = nnx.List([DoubleConv(widths[i + 1] + widths[i], widths[i], rngs=rngs)
                             for i in reversed(range(len(widths) - 1))])
        self.classifier = Conv2d(widths[0], num_classes, (1, 1), use_bias=True, rngs=rngs)

    def embed(self, features: tuple[jax.Array, ...], train: bool) -> jax.Array:
        """The full-resolution features the classifier reads, [B, h, w, width]."""
        x = features[-1]
        for up, skip in zip(self.ups, reversed(features[:-1])):
            x = resize_bilinear_align_corners(x, skip.shape[1:3])
            x = up(jnp.concatenate([skip, x], axis=-1), train)
        return x

    def classify(self, embedding: jax.Array, out_hw: tuple[int, int]) -> jax.Array:
        return resize_bilinear_align_corners(self.classifier(embedding), out_hw)

    def __call__(self, features: tuple[jax.Array, ...], out_hw: tuple[int, int], train: bool) -> jax.Array:
        return self.classify(self.embed(features, train), out_hw)


class UNet(nnx.Module):
    """Segmentation model: `encoder` (skip features, finest first) + `decoder`."""

    def __init__(self, in_channels: int, num_classes: int, *, width: int = 16, rngs: nnx.Rngs):
        if width < 1:
            raise ConfigError(f"model.width={width!r}: expected a positive int for the U-Net")
        self.encoder = UNetEncoder(in_channels, width, rngs=rngs)
        self.decoder = UNetDecoder(self.encoder.widths, num_classes, rngs=rngs)

    def encode(self, x_bhwc: jax.Array, train: bool) -> tuple[jax.Array, ...]:
        return self.encoder(x_bhwc, train)

    def decode(self, features: tuple[jax.Array, ...], out_hw: tuple[int, int], train: bool) -> jax.Array:
        return self.decoder(features, out_hw, train)

    def decode_with_embedding(self, features: tuple[jax.Array, ...], out_hw: tuple[int, int],
                              train: bool) -> tuple[jax.Array, jax.Array]:
        embedding = self.decoder.embed(features, train)
        return self.decoder.classify(embedding, out_hw), embedding

    def __call__(self, x_bhwc: jax.Array, train: bool) -> jax.Array:
        return self.decode(self.encode(x_bhwc, train), x_bhwc.shape[1:3], train)
