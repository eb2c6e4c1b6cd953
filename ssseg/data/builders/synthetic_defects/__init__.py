"""synthetic_defects: the embedded default dataset (procedural, no download)."""
