"""The label value every dataset, loss and metric ignores: 255 (unlabeled / void / crop padding),
as in Pascal VOC's boundaries and the torch peers' `ignore_index=255`."""

IGNORE_LABEL = 255
