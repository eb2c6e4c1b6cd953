"""Uncertainty, human review and calibration: which predictions a person should look at,
and how far to trust a predicted probability."""
