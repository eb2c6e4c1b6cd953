"""U-Net: same interface as DeepLabV3+, any input size (ceil pooling), encode/decode split."""

import jax
import numpy as np

from ssseg.models import functional
from ssseg.models.factory import build_model

UNET = {"arch": "unet", "width": 4}


def test_unet_shapes_odd_size_and_encode_decode_split():
    model = build_model(UNET, num_classes=3, in_channels=1, seed=0)
    images = jax.random.normal(jax.random.key(0), (2, 36, 44, 1))
    features = model.encode(images, train=False)
    assert [f.shape for f in features] == [(2, 36, 44, 4), (2, 18, 22, 8), (2, 9, 11, 16),
                                           (2, 5, 6, 32), (2, 3, 3, 64)]
    logits = model(images, train=False)
    assert logits.shape == (2, 36, 44, 3)
    np.testing.assert_allclose(model.decode(features, (36, 44), train=False), logits, rtol=1e-5, atol=1e-5)


def test_unet_head_mask_marks_decoder_only():
    _, params, _ = functional.split_model(build_model(UNET, 3, 1, seed=0))
    mask = functional.head_mask(params)
    assert not any(jax.tree.leaves(mask["encoder"]))
    assert all(jax.tree.leaves(mask["decoder"]))
