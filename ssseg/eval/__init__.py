"""Evaluation: dataset-level confusion matrix, whole-image and sliding-window inference, corruptions (robustness to shift)."""
