"""Datasets (TFDS builders), fixed label budgets, and the host input pipeline."""
