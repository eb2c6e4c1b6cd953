"""benchmarks/conv_forms.py times the 3×3 convs the model really runs: its shape tables equal the convs
traced through `conv2d_nhwc` by the configs they name (after dropping the taps that read only padding)."""

import collections
import sys

import jax
import jax.numpy as jnp
import pytest
from flax import nnx

from ssseg.config.loader import load_config
from ssseg.data.registry import get_spec
from ssseg.models import layers
from ssseg.models.factory import construct_model

sys.path.insert(0, "benchmarks")
import conv_forms  # noqa: E402

R50 = ("--config.model.backbone=resnet50", "--config.data.crop_size=129", "--config.data.batch_size=4")
CONFIGS = {  # the table's name: the config (and overrides) it stands for
    "r50": ("experiments/magnetic_tile.py:method=supervised,preset=paper", R50),
    "cpu": ("experiments/magnetic_tile.py:method=supervised", ()),
}


def traced_3x3_convs(config, overrides, monkeypatch):
    """Counter of (input size, c_in, c_out, stride, dilation) over the model's 3×3 convs, one forward."""
    cfg = load_config(config, list(overrides))
    spec = get_spec(cfg.data.name, cfg.data.manual_dir)
    abstract = nnx.eval_shape(lambda: construct_model(cfg.model, len(spec.class_names), spec.channels, nnx.Rngs(0)))
    graphdef, state = nnx.split(abstract)
    seen = collections.Counter()
    real = layers.conv2d_nhwc

    def recording(x, kernel, *, stride=1, dilation=1):
        (top, bottom), (left, right) = layers._valid_taps(3, dilation, x.shape[1]), layers._valid_taps(3, dilation, x.shape[2])
        if kernel.shape[:2] == (3, 3) and (bottom - top, right - left) == (3, 3):
            assert x.shape[1] == x.shape[2]
            seen[x.shape[1], x.shape[3], kernel.shape[3], stride, dilation] += 1
        return real(x, kernel, stride=stride, dilation=dilation)

    image = jax.ShapeDtypeStruct((2, cfg.data.crop_size, cfg.data.crop_size, spec.channels), jnp.float32)
    monkeypatch.setattr(layers, "conv2d_nhwc", recording)
    jax.eval_shape(lambda st, x: nnx.merge(graphdef, st)(x, train=False), state, image)
    return seen


@pytest.mark.parametrize("table", sorted(CONFIGS))
def test_conv_forms_shape_table_is_the_models(table, monkeypatch):
    want = collections.Counter()
    for _name, size, c_in, c_out, stride, dilation, count in conv_forms.SHAPES[table]:
        want[size, c_in, c_out, stride, dilation] += count
    assert traced_3x3_convs(*CONFIGS[table], monkeypatch) == want
