"""pascal_voc: PASCAL VOC 2012 with the SBD-augmented train set (10582 train_aug / 1449 val)."""
