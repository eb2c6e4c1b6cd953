"""Dataset specs: names, classes, channels and the errors for unknown or incomplete datasets."""

import pytest

from ssseg.data.registry import DATASET_NAMES, get_spec, read_class_names
from ssseg.errors import ConfigError, DataError


def test_fixed_specs():
    mt = get_spec("magnetic_tile")
    assert mt.class_names == ("background", "blowhole", "break", "crack", "fray", "uneven")
    assert mt.defect_classes == (1, 2, 3, 4, 5) and mt.channels == 1 and mt.ignore_label == 255
    camvid = get_spec("camvid")
    assert camvid.num_classes == 11 and camvid.class_names[0] == "Sky" and camvid.channels == 3
    synthetic = get_spec("synthetic_defects")
    assert synthetic.defect_classes == (1, 2, 3) and synthetic.num_classes == 4
    assert get_spec("pascal_voc").num_classes == 21 and get_spec("cityscapes").num_classes == 19
    assert get_spec("cityscapes").splits == ("train", "val")
    for name in DATASET_NAMES:
        if name != "folder":
            spec = get_spec(name)
            assert len(spec.mean) == len(spec.std) == spec.channels
            assert "full" in spec.default_budgets


def test_unknown_dataset():
    with pytest.raises(ConfigError, match="data.name='mnist' is unknown; expected one of camvid, cityscapes"):
        get_spec("mnist")


def test_folder_needs_manual_dir_and_reads_classes(tmp_path):
    with pytest.raises(ConfigError, match="needs data.manual_dir"):
        get_spec("folder")
    (tmp_path / "classes.txt").write_text("good\n\nbad\n")
    assert read_class_names(tmp_path / "classes.txt") == ("good", "bad")
    (tmp_path / "one.txt").write_text("only\n")
    with pytest.raises(DataError, match="expected at least 2 class names"):
        read_class_names(tmp_path / "one.txt")
    with pytest.raises(DataError, match="classes.txt not found"):
        read_class_names(tmp_path / "missing" / "classes.txt")
