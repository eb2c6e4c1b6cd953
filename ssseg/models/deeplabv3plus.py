"""DeepLabV3+ as in UniMatch: ResNet encoder, ASPP on stride-16/8 features, fused with stride-4 features."""

from __future__ import annotations

from typing import Sequence

import jax
import jax.numpy as jnp
from flax import nnx

from ssseg.models.layers import Conv2d, ConvBNReLU, resize_bilinear_align_corners
from ssseg.models.resnet import ResNet

Features = tuple[jax.Array, jax.Array]  # (low_bhwc at stride 4, high_bhwc at the output stride)


class ASPP(nnx.Module):
    """1×1 branch, three dilated 3×3 branches, an image-pooling branch, then a 1×1 projection."""

    def __init__(self, in_channels: int, channels: int, rates: Sequence[int], *, rngs: nnx.Rngs):
        self.b0 = ConvBNReLU(in_channels, channels, 1, rngs=rngs)
        self.b1 = ConvBNReLU(in_channels, channels, 3, dilation=rates[0], rngs=rngs)
        self.b2 = ConvBNReLU(in_channels, channels, 3, dilation=rates[1], rngs=rngs)
        self.b3 = ConvBNReLU(in_channels, channels, 3, dilation=rates[2], rngs=rngs)
        self.pool = ConvBNReLU(in_channels, channels, 1, rngs=rngs)
        self.project = ConvBNReLU(5 * channels, channels, 1, rngs=rngs)

    def __call__(self, x: jax.Array, train: bool) -> jax.Array:
        pooled = self.pool(jnp.mean(x, axis=(1, 2), keepdims=True), train)
        pooled = jnp.broadcast_to(pooled, x.shape[:3] + pooled.shape[3:])
        branches = [self.b0(x, train), self.b1(x, train), self.b2(x, train), self.b3(x, train), pooled]
        return self.project(jnp.concatenate(branches, axis=-1), train)


class DeepLabV3PlusDecoder(nnx.Module):
    """ASPP(high) upsampled to stride 4, concat reduce(low), two 3×3 convs, 1×1 classifier."""

    def __init__(self, low_channels: int, high_channels: int, num_classes: int, *, rates: Sequence[int],
                 aspp_channels: int, reduce_channels: int, fuse_channels: int, rngs: nnx.Rngs):
        self.aspp = ASPP(high_channels, aspp_channels, rates, rngs=rngs)
        self.reduce = ConvBNReLU(low_channels, reduce_channels, 1, rngs=rngs)
        self.fuse1 = ConvBNReLU(aspp_channels + reduce_channels, fuse_channels, 3, rngs=rngs)
        self.fuse2 = ConvBNReLU(fuse_channels, fuse_channels, 3, rngs=rngs)
        self.classifier = Conv2d(fuse_channels, num_classes, (1, 1), use_bias=True, rngs=rngs)

    def embed(self, features: Features, train: bool) -> jax.Array:
        """The fused stride-4 features the classifier reads, [B, h/4, w/4, fuse_channels]."""
        low, high = features
        high = resize_bilinear_align_corners(self.aspp(high, train), low.shape[1:3])
        fused = jnp.concatenate([self.reduce(low, train), high], axis=-1)
        return self.fuse2(self.fuse1(fused, train), train)

    def classify(self, embedding: jax.Array, out_hw: tuple[int, int]) -> jax.Array:
        return resize_bilinear_align_corners(self.classifier(embedding), out_hw)

    def __call__(self, features: Features, out_hw: tuple[int, int], train: bool) -> jax.Array:
        return self.classify(self.embed(features, train), out_hw)


class DeepLabV3Plus(nnx.Module):
    """Segmentation model: `encoder` (ResNet) + `decoder`; encode/decode split for feature perturbation."""

    def __init__(self, encoder: ResNet, num_classes: int, *, rates: Sequence[int] = (6, 12, 18),
                 aspp_channels: int = 256, reduce_channels: int = 48, fuse_channels: int = 256,
                 rngs: nnx.Rngs):
        self.encoder = encoder
        self.decoder = DeepLabV3PlusDecoder(
            encoder.low_channels, encoder.high_channels, num_classes, rates=rates,
            aspp_channels=aspp_channels, reduce_channels=reduce_channels,
            fuse_channels=fuse_channels, rngs=rngs)

    def encode(self, x_bhwc: jax.Array, train: bool) -> Features:
        return self.encoder(x_bhwc, train)

    def decode(self, features: Features, out_hw: tuple[int, int], train: bool) -> jax.Array:
        return self.decoder(features, out_hw, train)

    def decode_with_embedding(self, features: Features, out_hw: tuple[int, int],
                              train: bool) -> tuple[jax.Array, jax.Array]:
        embedding = self.decoder.embed(features, train)
        return self.decoder.classify(embedding, out_hw), embedding

    def __call__(self, x_bhwc: jax.Array, train: bool) -> jax.Array:
        return self.decode(self.encode(x_bhwc, train), x_bhwc.shape[1:3], train)
