"""Copy-paste of labeled rare-class pixels onto other images, on device.

Simple Copy-Paste (Ghiasi et al., CVPR 2021) as AEL (Hu et al., NeurIPS 2021)
uses it for semi-supervised segmentation: the pixels of chosen classes in a
labeled image, with their true labels, are pasted onto an unlabeled image
before its strong view is made. Each target takes a source drawn uniformly
from the labeled batch and, with probability `prob`, receives every source
pixel whose label is a paste class (ignore-labelled pixels never move).
Departure from AEL: no per-class confidence bank choosing what to paste; the
caller names the classes (ssseg pastes every class but the budget's dominant
one, i.e. every defect class on inspection data).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from ssseg.data.labels import IGNORE_LABEL



def paste_masks(key: jax.Array, source_labels_bhw: jax.Array, paste_class_k: jax.Array, num_targets: int,
                prob: float) -> tuple[jax.Array, jax.Array]:
    """(source index [T], bool [T,H,W] True where target t takes its source's pixel)."""
    k_source, k_on = jax.random.split(key)
    source = jax.random.randint(k_source, (num_targets,), 0, source_labels_bhw.shape[0])
    labels = source_labels_bhw[source]
    num_classes = paste_class_k.shape[0]
    pasted = paste_class_k[jnp.clip(labels, 0, num_classes - 1)] & (labels != IGNORE_LABEL) & (labels < num_classes)
    on = jax.random.uniform(k_on, (num_targets,)) < prob
    return source, pasted & on[:, None, None]


def paste(mask_thw: jax.Array, source_index_t: jax.Array, targets: jax.Array, sources: jax.Array) -> jax.Array:
    """`targets` ([T,H,W] or [T,H,W,...]) with `sources[source_index]`'s values where the mask is True."""
    mask = mask_thw.reshape(mask_thw.shape + (1,) * (targets.ndim - 3))
    return jnp.where(mask, sources[source_index_t].astype(targets.dtype), targets)
