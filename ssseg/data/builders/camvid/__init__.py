"""camvid: CamVid road scenes in the SegNet layout (11 classes + void)."""
