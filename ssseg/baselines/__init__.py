"""Zero-label references: classical segmentation with no training labels.

Each segmenter turns an image into a cluster map (segmenters.py); clusters are
matched one-to-one to classes by the Hungarian algorithm on the val split's
labels (matching.py) — the only use of labels, stated in every result — and
the same segmenter and matching are then scored on test (run.py). Command:
`ssseg classical` (ssseg/commands/classical.py).
"""
