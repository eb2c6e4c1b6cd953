"""Inference on new images with a saved run: probabilities, masks, colour overlays (`predict`)."""
