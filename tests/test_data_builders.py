"""Builders of magnetic_tile, camvid and folder on tiny fixtures in their layouts, and their errors."""

import os

import numpy as np
import pytest
from PIL import Image

from conftest import data_config
from ssseg.data.builders.magnetic_tile import magnetic_tile_dataset_builder as mt
from ssseg.data.sources import load_sources
from ssseg.errors import DataError


def _save(path, array):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    Image.fromarray(array).save(path)


def make_magnetic_tile(root, per_folder=5):
    """MT_<Defect>/Imgs/NAME.jpg + NAME.png; masks anti-aliased (one pixel at 127, one at 128)."""
    rng = np.random.default_rng(0)
    for folder in mt.FOLDER_CLASS:
        for k in range(per_folder):
            name = f"exp{k}_num_{folder[3:].lower()}{k}"
            h, w = 20 + k, 24
            _save(f"{root}/{folder}/Imgs/{name}.jpg", rng.integers(0, 256, (h, w), dtype=np.uint8))
            mask = np.zeros((h, w), np.uint8)
            if folder != "MT_Free":
                mask[2:6, 3:8] = 255
                mask[10, 10], mask[11, 11] = 127, 128
            _save(f"{root}/{folder}/Imgs/{name}.png", mask)
    return str(root)


def make_camvid(root, sizes=(("train", 3), ("val", 1), ("test", 1))):
    rng = np.random.default_rng(1)
    for split, n in sizes:
        for k in range(n):
            _save(f"{root}/{split}/{split}{k:03d}.png", rng.integers(0, 256, (12, 16, 3), dtype=np.uint8))
            annot = (np.arange(12 * 16).reshape(12, 16) % 12).astype(np.uint8)  # ids 0..11 (11 = void)
            _save(f"{root}/{split}annot/{split}{k:03d}.png", annot)
    return str(root)


def make_folder(root, labeled=10, unlabeled=2, classes=("ok", "dent", "scratch")):
    rng = np.random.default_rng(2)
    os.makedirs(root, exist_ok=True)
    with open(f"{root}/classes.txt", "w") as f:
        f.write("\n".join(classes) + "\n")
    for k in range(labeled + unlabeled):
        _save(f"{root}/images/img{k:02d}.png", rng.integers(0, 256, (10, 14), dtype=np.uint8))
        if k < labeled:
            mask = np.zeros((10, 14), np.uint8)
            mask[1:3, 1:3] = 1 + k % (len(classes) - 1)
            mask[0, 13] = 255
            _save(f"{root}/masks/img{k:02d}.png", mask)
    return str(root)


def _load(name, manual_dir, data_dir):
    return load_sources(data_config(name=name, manual_dir=manual_dir, data_dir=str(data_dir)))


@pytest.fixture(scope="module")
def magnetic_tile_sources(tmp_path_factory):
    root = make_magnetic_tile(tmp_path_factory.mktemp("mt_raw"))
    return _load("magnetic_tile", root, tmp_path_factory.mktemp("mt_tfds"))


def test_magnetic_tile_classes_threshold_and_stratified_split(magnetic_tile_sources):
    sources = magnetic_tile_sources
    # 5 images per folder -> train 3, val 1, test 1 in every folder (70/10/20, at least one each).
    assert {k: len(v) for k, v in sources.splits.items()} == {"train": 18, "val": 6, "test": 6}
    for split in ("val", "test"):
        assert sorted(max(sources.class_presence[i]) for i in sources.ids(split)) == [0, 1, 2, 3, 4, 5]
    record = sources.record("exp1_num_crack1")
    assert record["image"].shape == (21, 24, 1) and record["label"].shape == (21, 24)
    assert record["label"][2:6, 3:8].tolist() == [[3] * 5] * 4
    assert record["label"][10, 10] == 0 and record["label"][11, 11] == 3  # threshold at 128
    assert int((record["label"] == 3).sum()) == 21


def test_magnetic_tile_split_is_fixed():
    names = {f: [(f"{f}{k}", None, None) for k in range(10)] for f in mt.FOLDER_CLASS}
    first, second = mt.split_ids(names), mt.split_ids(names)
    assert first == second
    assert [len(first[s]) for s in ("train", "val", "test")] == [42, 6, 12]


def test_camvid_void_becomes_ignore_and_own_splits(tmp_path):
    sources = _load("camvid", make_camvid(tmp_path / "raw"), tmp_path / "tfds")
    assert {k: len(v) for k, v in sources.splits.items()} == {"train": 3, "val": 1, "test": 1}
    record = sources.record("val000")
    assert record["image"].shape == (12, 16, 3)
    expected = (np.arange(12 * 16).reshape(12, 16) % 12).astype(np.uint8)
    expected[expected == 11] = 255
    np.testing.assert_array_equal(record["label"], expected)
    assert sources.class_presence["val000"] == tuple(range(11))


def test_folder_splits_labeled_and_keeps_unlabeled_only_images_apart(tmp_path):
    root = make_folder(tmp_path / "mine")
    sources = _load("folder", root, tmp_path / "tfds")
    assert sources.spec.class_names == ("ok", "dent", "scratch") and sources.spec.channels == 1
    assert {k: len(v) for k, v in sources.splits.items()} == {"train": 7, "val": 1, "test": 2, "unlabeled": 2}
    assert sources.ids("unlabeled") == ("img10", "img11")
    assert (sources.record("img10")["label"] == 255).all()
    assert sources.record("img03")["label"][1, 1] == 2


@pytest.mark.parametrize("name,layout_word", [("camvid", "trainannot"), ("folder", "classes.txt")])
def test_missing_or_empty_manual_dir_says_where_and_what(tmp_path, name, layout_word):
    with pytest.raises(DataError, match=f"not set.*{layout_word}"):
        _load(name, "", tmp_path / "tfds")
    with pytest.raises(DataError, match=f"nowhere.*does not exist.*{layout_word}"):
        _load(name, str(tmp_path / "nowhere"), tmp_path / "tfds")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match=f"empty.*is empty.*{layout_word}"):
        _load(name, str(tmp_path / "empty"), tmp_path / "tfds")


def test_wrong_magnetic_tile_manual_dir_is_an_error_not_a_download(tmp_path):
    with pytest.raises(DataError, match="nowhere: magnetic_tile manual_dir does not exist; expected a folder laid out as MT_Blowhole"):
        _load("magnetic_tile", str(tmp_path / "nowhere"), tmp_path / "tfds")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "readme.txt").write_text("not the data")
    with pytest.raises(DataError, match="other: no MT_\\* folders found"):
        _load("magnetic_tile", str(tmp_path / "other"), tmp_path / "tfds")


def test_corrupt_image_is_named(tmp_path):
    root = make_camvid(tmp_path / "raw")
    with open(f"{root}/train/train001.png", "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\nnot really")
    with pytest.raises(DataError, match=r"train001\.png: corrupt or unreadable image"):
        _load("camvid", root, tmp_path / "tfds")


def test_image_mask_size_mismatch_is_named(tmp_path):
    root = make_magnetic_tile(tmp_path / "raw", per_folder=3)
    _save(f"{root}/MT_Crack/Imgs/exp0_num_crack0.png", np.zeros((5, 5), np.uint8))
    with pytest.raises(DataError, match=r"exp0_num_crack0\.png: mask size 5x5 .* image size 20x24"):
        _load("magnetic_tile", root, tmp_path / "tfds")


def test_mask_class_outside_the_dataset_is_named(tmp_path):
    root = make_folder(tmp_path / "mine", labeled=4, unlabeled=0)
    bad = np.zeros((10, 14), np.uint8)
    bad[4, 4] = 7
    _save(f"{root}/masks/img02.png", bad)
    with pytest.raises(DataError, match=r"img02\.png: mask value 7 is not a class id; expected 0\.\.2 or 255"):
        _load("folder", root, tmp_path / "tfds")


def test_unknown_dataset_is_a_config_error():
    from ssseg.errors import ConfigError

    with pytest.raises(ConfigError, match="data.name='nope' is unknown"):
        load_sources(data_config(name="nope"))


@pytest.mark.slow
def test_real_magnetic_tile_builds_with_the_documented_split(tmp_path):
    root = "/work/shared/data/magnetic_tile"
    if not os.path.isdir(root):
        pytest.skip("real magnetic_tile data not present")
    sources = _load("magnetic_tile", root, tmp_path / "tfds")
    assert {k: len(v) for k, v in sources.splits.items()} == {"train": 941, "val": 135, "test": 268}
    assert sources.record(sources.ids("test")[0])["image"].dtype == np.uint8


def make_pascal_voc(root):
    """VOCdevkit/VOC2012 with JPEGImages, SegmentationClassAug and the two lists (one in DeepLab format)."""
    voc = f"{root}/VOCdevkit/VOC2012"
    rng = np.random.default_rng(3)
    train, val = ["2007_000001", "2007_000002", "2008_000003"], ["2007_000009"]
    for k, name in enumerate(train + val):
        _save(f"{voc}/JPEGImages/{name}.jpg", rng.integers(0, 256, (9, 11, 3), dtype=np.uint8))
        label = np.full((9, 11), k, np.uint8)
        label[0] = 255  # object boundary
        label[4, 4] = 20
        _save(f"{voc}/SegmentationClassAug/{name}.png", label)
    os.makedirs(f"{voc}/ImageSets/SegmentationAug")
    os.makedirs(f"{voc}/ImageSets/Segmentation")
    with open(f"{voc}/ImageSets/SegmentationAug/train_aug.txt", "w") as f:
        f.writelines(f"/JPEGImages/{n}.jpg /SegmentationClassAug/{n}.png\n" for n in train)
    with open(f"{voc}/ImageSets/Segmentation/val.txt", "w") as f:
        f.writelines(f"{n}\n" for n in val)
    return str(root)


def test_pascal_voc_reads_the_official_layout(tmp_path):
    sources = _load("pascal_voc", make_pascal_voc(tmp_path / "raw"), tmp_path / "tfds")
    assert {k: len(v) for k, v in sources.splits.items()} == {"train": 3, "val": 1}
    record = sources.record("2008_000003")
    assert record["image"].shape == (9, 11, 3)
    assert record["label"][0].tolist() == [255] * 11 and record["label"][4, 4] == 20 and record["label"][5, 5] == 2
    assert sources.class_presence["2008_000003"] == (2, 20)


def test_pascal_voc_label_out_of_range_is_named(tmp_path):
    root = make_pascal_voc(tmp_path / "raw")
    _save(f"{root}/VOCdevkit/VOC2012/SegmentationClassAug/2007_000002.png", np.full((9, 11), 21, np.uint8))
    with pytest.raises(DataError, match=r"2007_000002\.png: mask value 21 is not a class id; expected 0\.\.20"):
        _load("pascal_voc", root, tmp_path / "tfds")


def make_cityscapes(root):
    """Two train cities and one val city; one train frame has only labelIds (mapped here)."""
    rng = np.random.default_rng(4)
    frames = {"train": ["aachen_000000_000019", "bremen_000001_000019"], "val": ["lindau_000000_000019"]}
    for split, ids in frames.items():
        for k, example_id in enumerate(ids):
            city = example_id.split("_")[0]
            _save(f"{root}/leftImg8bit/{split}/{city}/{example_id}_leftImg8bit.png",
                  rng.integers(0, 256, (8, 16, 3), dtype=np.uint8))
            if example_id.startswith("bremen"):
                label_ids = np.full((8, 16), 26, np.uint8)  # car
                label_ids[0, :4] = [0, 7, 33, 30]  # unlabeled, road, bicycle, trailer (ignored)
                _save(f"{root}/gtFine/{split}/{city}/{example_id}_gtFine_labelIds.png", label_ids)
            else:
                _save(f"{root}/gtFine/{split}/{city}/{example_id}_gtFine_labelTrainIds.png", np.full((8, 16), 10 + k, np.uint8))
    return str(root)


def test_cityscapes_reads_train_ids_and_maps_label_ids(tmp_path):
    sources = _load("cityscapes", make_cityscapes(tmp_path / "raw"), tmp_path / "tfds")
    assert {k: len(v) for k, v in sources.splits.items()} == {"train": 2, "val": 1}
    assert (sources.record("aachen_000000_000019")["label"] == 10).all()
    mapped = sources.record("bremen_000001_000019")["label"]
    assert mapped[0, :4].tolist() == [255, 0, 18, 255] and mapped[5, 5] == 13
    assert sources.record("lindau_000000_000019")["image"].shape == (8, 16, 3)


def test_cityscapes_missing_label_is_named(tmp_path):
    root = make_cityscapes(tmp_path / "raw")
    os.remove(f"{root}/gtFine/val/lindau/lindau_000000_000019_gtFine_labelTrainIds.png")
    with pytest.raises(DataError, match=r"lindau_000000_000019_leftImg8bit\.png: no lindau_000000_000019_gtFine_labelTrainIds\.png"):
        _load("cityscapes", root, tmp_path / "tfds")


def test_data_dir_overrides_tfds_data_dir(tmp_path, monkeypatch):
    raw = make_camvid(tmp_path / "raw", sizes=(("train", 1), ("val", 1), ("test", 1)))
    monkeypatch.setenv("TFDS_DATA_DIR", str(tmp_path / "from_env"))
    from_env = _load("camvid", raw, "")
    assert from_env.data_dir.startswith(str(tmp_path / "from_env"))
    explicit = _load("camvid", raw, tmp_path / "explicit")
    assert explicit.data_dir.startswith(str(tmp_path / "explicit"))
