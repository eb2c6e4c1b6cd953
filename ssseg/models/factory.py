"""build_model: a segmentation nnx.Module from the `config.model` section."""

from __future__ import annotations

from typing import Any, Callable

import jax
import jax.numpy as jnp
from flax import nnx

from ssseg.errors import ConfigError
from ssseg.models import functional, host_init
from ssseg.models.defaults import MODEL_DEFAULTS
from ssseg.models.deeplabv3plus import DeepLabV3Plus
from ssseg.models.resnet import RESNET_SPECS, ResNet, build_resnet, build_small_resnet
from ssseg.models.torchvision_import import load_torchvision_resnet
from ssseg.models.unet import UNet

ARCHS = ("deeplabv3plus", "unet")
BACKBONES = tuple(RESNET_SPECS) + ("small",)
COMPUTE_DTYPES = {"float32": jnp.float32, "bfloat16": jnp.bfloat16}
# The layers whose `dtype` is their computation dtype (their `param_dtype` stays float32).
_DTYPE_LAYERS = (nnx.Conv, nnx.ConvTranspose, nnx.Linear, nnx.BatchNorm, nnx.LayerNorm, nnx.GroupNorm)


def _get(model_cfg: Any, key: str) -> Any:
    """`model_cfg[key]`, or MODEL_DEFAULTS' value where a partial dict (tests, tools) leaves it out."""
    if key not in MODEL_DEFAULTS:
        raise ConfigError(f"model.{key} is not a model key; expected one of {', '.join(sorted(MODEL_DEFAULTS))}")
    value = model_cfg[key] if key in model_cfg else None
    return MODEL_DEFAULTS[key] if value is None else value


def scaled_aspp_rates(rates: Any, output_stride: int) -> tuple[int, int, int]:
    """`model.aspp_rates` are given at output stride 16 (DeepLab's 6/12/18) and scale with 16/output_stride."""
    try:
        rates = tuple(int(r) for r in rates)
    except (TypeError, ValueError):
        raise ConfigError(f"model.aspp_rates={rates!r}: expected three ints, e.g. (6, 12, 18)") from None
    if len(rates) != 3 or any(r < 1 for r in rates):
        raise ConfigError(f"model.aspp_rates={rates!r}: expected three positive ints, e.g. (6, 12, 18)")
    scaled = tuple(max(1, r * 16 // output_stride) for r in rates)
    return scaled  # type: ignore[return-value]


def build_model(model_cfg: Any, num_classes: int, in_channels: int, seed: int, *,
                compute_dtype: str = "float32") -> nnx.Module:
    """A freshly initialised (and, with `model.pretrained`, ImageNet-initialised) segmentation model.

    Keys: arch ("deeplabv3plus"|"unet"), backbone ("resnet18|34|50|101"|"small"),
    deep_stem, output_stride (8|16|32), aspp_rates (at OS16), width (small/unet
    base channels), pretrained (torchvision-layout .safetensors path or "").
    head_channels (DeepLabV3+ ASPP/fuse width; 0: 256, or 2·width for small), remat (recompute
    the ResNet stages in the backward pass). Keys a partial dict leaves out take MODEL_DEFAULTS.
    `compute_dtype` ("float32"|"bfloat16", the config's `train.compute_dtype`): see set_compute_options.
    Parameters are drawn on the host from `seed` (see host_init), so the same
    seed gives the same model on every backend.
    """
    if num_classes < 1 or in_channels < 1:
        raise ConfigError(f"num_classes={num_classes!r}, in_channels={in_channels!r}: expected positive ints")
    model = init_module(lambda rngs: construct_model(model_cfg, num_classes, in_channels, rngs), seed)
    pretrained = str(_get(model_cfg, "pretrained") or "")
    if pretrained:
        model = load_pretrained_encoder(model, pretrained)
    set_compute_options(model, compute_dtype, remat=bool(_get(model_cfg, "remat")))
    return model


def set_compute_options(model: nnx.Module, compute_dtype: str, *, remat: bool) -> None:
    """Set, in place, how `model` computes (the graphdef carries both; parameters are untouched).

    compute_dtype "bfloat16": every conv/linear/norm layer casts its inputs and
    float32 parameters to bf16 and returns bf16 (flax's `dtype`), while its
    parameters stay float32 (`param_dtype`); BatchNorm computes its batch
    statistics and running averages in float32 (flax promotes them). The model's
    outputs are cast back to float32 (models/functional.py), so softmax and the
    losses are float32 too. remat: the ResNet encoder recomputes each stage's
    activations in the backward pass instead of keeping them (jax.checkpoint).
    """
    if compute_dtype not in COMPUTE_DTYPES:
        raise ConfigError(f"train.compute_dtype={compute_dtype!r}: expected one of {', '.join(COMPUTE_DTYPES)}")
    if compute_dtype != "float32":
        model.set_attributes(*_DTYPE_LAYERS, dtype=COMPUTE_DTYPES[compute_dtype], raise_if_not_found=False)
    if remat:
        if not isinstance(getattr(model, "encoder", None), ResNet):
            raise ConfigError("model.remat=True: rematerialisation is for the ResNet encoders of "
                              "arch='deeplabv3plus'; set model.remat=False")
        model.encoder.remat = True


def init_module(constructor: Callable[[nnx.Rngs], nnx.Module], seed: int) -> nnx.Module:
    """Trace `constructor` abstractly (no device work), then fill its variables on the host from `seed`."""
    abstract = nnx.eval_shape(lambda: constructor(nnx.Rngs(params=0)))
    graphdef, abstract_params, abstract_stats = functional.split_model(abstract)
    params = jax.tree.map(jnp.asarray, host_init.init_tree(abstract_params, seed))
    batch_stats = jax.tree.map(jnp.asarray, host_init.init_tree(abstract_stats, seed))
    return functional.merge_model(graphdef, params, batch_stats)


def construct_model(model_cfg: Any, num_classes: int, in_channels: int, rngs: nnx.Rngs) -> nnx.Module:
    """The module structure for `model_cfg`, initialised with flax initialisers from `rngs`."""
    arch = _get(model_cfg, "arch")
    backbone = _get(model_cfg, "backbone")
    output_stride = int(_get(model_cfg, "output_stride"))
    width = int(_get(model_cfg, "width"))
    pretrained = str(_get(model_cfg, "pretrained") or "")

    if arch == "unet":
        if pretrained:
            raise ConfigError(f"model.pretrained={pretrained!r}: the U-Net has no torchvision layout; "
                              "use arch='deeplabv3plus' with a ResNet backbone")
        return UNet(in_channels, num_classes, width=width, rngs=rngs)
    if arch != "deeplabv3plus":
        raise ConfigError(f"model.arch={arch!r}: expected one of {ARCHS}")

    if backbone == "small":
        if pretrained:
            raise ConfigError(f"model.pretrained={pretrained!r}: the 'small' backbone has no pretrained "
                              "weights; use backbone resnet18/34/50/101")
        encoder = build_small_resnet(width=width, in_channels=in_channels, output_stride=output_stride,
                                     rngs=rngs)
        # 2·width keeps the stride-4 fuse convs (most of the FLOPs) cheap enough for CPU training.
        head = int(_get(model_cfg, "head_channels")) or 2 * width
        reduce_channels = max(8, width)
    elif backbone in RESNET_SPECS:
        encoder = build_resnet(backbone, in_channels=in_channels, deep_stem=bool(_get(model_cfg, "deep_stem")),
                               output_stride=output_stride, rngs=rngs)
        head = int(_get(model_cfg, "head_channels")) or 256
        reduce_channels = 48
    else:
        raise ConfigError(f"model.backbone={backbone!r}: expected one of {BACKBONES}")

    rates = scaled_aspp_rates(_get(model_cfg, "aspp_rates"), output_stride)
    return DeepLabV3Plus(encoder, num_classes, rates=rates, aspp_channels=head,
                         reduce_channels=reduce_channels, fuse_channels=head, rngs=rngs)


def load_pretrained_encoder(model: nnx.Module, path: str) -> nnx.Module:
    """`model` with its encoder replaced by torchvision weights from `path`; prints the import report."""
    graphdef, params, batch_stats = functional.split_model(model)
    params, batch_stats, report = load_torchvision_resnet(path, params, batch_stats)
    print(report.summary(), flush=True)
    return functional.merge_model(graphdef, params, batch_stats)
