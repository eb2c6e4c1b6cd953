"""TFDS builders, one package per dataset (`<name>/<name>_dataset_builder.py`, class `Builder`)."""
