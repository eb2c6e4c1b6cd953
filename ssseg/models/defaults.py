"""The `config.model` keys and their defaults: the models layer owns them, `base_config()` copies them."""

MODEL_DEFAULTS = {
    "arch": "deeplabv3plus",  # or "unet"
    "backbone": "small",  # resnet18|34|50|101 or small
    "deep_stem": False,
    "output_stride": 16,  # 8|16|32
    "aspp_rates": (6, 12, 18),  # at output stride 16; scaled with 16/output_stride
    "width": 16,  # small backbone / UNet base channels
    "head_channels": 0,  # DeepLabV3+ ASPP/fuse width; 0: 256, or 2·width for the small backbone
    "pretrained": "",  # torchvision-layout safetensors file
    "remat": False,  # recompute each ResNet stage's activations in the backward pass (less memory, ~1/3 more compute)
}
