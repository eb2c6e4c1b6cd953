"""Flax NNX segmentation models (DeepLabV3+ / U-Net), their pure-function boundary and weight import."""

from ssseg.models.factory import build_model

__all__ = ["build_model"]
