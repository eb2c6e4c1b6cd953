"""cityscapes: Cityscapes fine annotations, 19 train classes."""
