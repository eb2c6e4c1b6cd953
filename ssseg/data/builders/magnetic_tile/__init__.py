"""magnetic_tile: Huang et al. magnetic-tile surface defects (real data, 6 classes)."""
