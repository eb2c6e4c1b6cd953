"""TFDS builder of synthetic_defects: 400/100/100 procedurally rendered 96x96 grey surfaces."""

from __future__ import annotations

import tensorflow_datasets as tfds

from ssseg.data.builders.records import SegmentationBuilder, encode_png
from ssseg.data.builders.synthetic_defects import render
from ssseg.data.registry import SYNTHETIC_DEFECTS

# The dataset is a function of this seed; changing it (or render.py) needs a new VERSION.
GENERATION_SEED = 0


class Builder(SegmentationBuilder, skip_registration=True):
    """Textured grey surfaces with scratches, pits and stains; labels per pixel."""

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "First release."}
    CLASS_NAMES = SYNTHETIC_DEFECTS.class_names
    CHANNELS = 1
    DESCRIPTION = __doc__

    def _split_generators(self, dl_manager):
        del dl_manager  # nothing to download
        return {split: self._generate_examples(split) for split in render.SPLIT_SIZES}

    def _generate_examples(self, split: str):
        for index in range(render.SPLIT_SIZES[split]):
            image, label = render.render_example(GENERATION_SEED, split, index)
            yield self._example(split, render.example_id(split, index), encode_png(image), label)
