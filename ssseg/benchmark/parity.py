"""Same weights on both sides: seeded torch-layout weights and the peer's decoder key names.

A speed ratio against the PyTorch peer (LiheYoung/UniMatch) means something
only if both sides compute the same thing. `benchmarks/peer_reference.py`
(run once beside the peer, in a torch venv) fills the peer's DeepLabV3+ with
`seeded_state_dict` and records its outputs; the test fills ssseg's model
with the same arrays (encoder through the torchvision importer, decoder
through `decoder_torch_key`) and compares. numpy only: it runs on both sides.
"""

from __future__ import annotations

import numpy as np

# Our decoder module paths -> the peer's (model/semseg/deeplabv3plus.py: nn.Sequential indices).
_DECODER_MODULES = {
    ("aspp", "pool", "conv"): "head.b4.gap.1", ("aspp", "pool", "bn"): "head.b4.gap.2",
    ("aspp", "project", "conv"): "head.project.0", ("aspp", "project", "bn"): "head.project.1",
    ("reduce", "conv"): "reduce.0", ("reduce", "bn"): "reduce.1",
    ("fuse1", "conv"): "fuse.0", ("fuse1", "bn"): "fuse.1", ("fuse2", "conv"): "fuse.3", ("fuse2", "bn"): "fuse.4",
    ("classifier",): "classifier",
    **{("aspp", f"b{i}", "conv"): f"head.b{i}.0" for i in range(4)},
    **{("aspp", f"b{i}", "bn"): f"head.b{i}.1" for i in range(4)},
}
_LEAF = {"kernel": "weight", "scale": "weight", "bias": "bias", "mean": "running_mean", "var": "running_var"}


def decoder_torch_key(path: tuple[str, ...]) -> str:
    """The peer's state-dict key of one leaf under our "decoder", e.g. ('reduce','bn','mean') -> 'reduce.1.running_mean'."""
    *module, leaf = path
    return f"{_DECODER_MODULES[tuple(module)]}.{_LEAF[leaf]}"


def seeded_state_dict(shapes: dict[str, tuple[int, ...]], seed: int = 0) -> dict[str, np.ndarray]:
    """float32 weights for a torch state dict's keys, a pure function of (sorted keys, shapes, seed).

    Convs ~ N(0, 1/fan_in) (activations stay O(1) through 50 layers), BN scale
    U(0.5, 1.5), biases and running means N(0, 0.1), running variances
    U(0.5, 2): eval-mode BN then is a real affine map, not the identity.
    """
    out = {}
    for index, key in enumerate(sorted(shapes)):
        if key.endswith("num_batches_tracked"):
            continue
        shape = tuple(shapes[key])
        rng = np.random.default_rng([seed, index])
        if len(shape) == 4:
            value = rng.normal(0.0, np.sqrt(1.0 / np.prod(shape[1:])), shape)
        elif key.endswith("running_var"):
            value = rng.uniform(0.5, 2.0, shape)
        elif key.endswith("weight"):
            value = rng.uniform(0.5, 1.5, shape)
        else:  # bias, running_mean
            value = rng.normal(0.0, 0.1, shape)
        out[key] = value.astype(np.float32)
    return out


def oihw_to_hwio(array: np.ndarray) -> np.ndarray:
    return array.transpose(2, 3, 1, 0) if array.ndim == 4 else array
