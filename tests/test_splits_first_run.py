"""Split files a first run lacks are written as `splits generate` writes them; published
UniMatch/CPS lists are imported into ssseg's layout and checked."""

import argparse

import pytest

from ssseg.commands import splits as splits_command
from ssseg.data import splits
from ssseg.data.ensure_splits import ensure_budget
from ssseg.data.import_splits import find_published, import_splits
from ssseg.errors import DataError


def test_missing_budget_is_written_as_splits_generate_writes_it(tmp_path, synthetic_sources):
    (generated,) = splits.generate_splits(synthetic_sources, ["1/8"], [1], tmp_path / "generate")
    message = ensure_budget("synthetic_defects", "1/8", 1, str(tmp_path / "first_run"), synthetic_sources)
    ensured = splits.budget_dir(tmp_path / "first_run", "synthetic_defects", "1/8", 1)
    assert message.startswith(f"{ensured}: no split files for synthetic_defects budget 1/8 seed 1; wrote ")
    assert message.endswith("as `ssseg splits generate --dataset synthetic_defects --budgets 1/8 --seeds 1` would")
    for name in (splits.LABELED_FILE, splits.UNLABELED_FILE):
        assert (tmp_path / "first_run" / "synthetic_defects/1_8/seed1" / name).read_bytes() == \
            (tmp_path / "generate" / "synthetic_defects/1_8/seed1" / name).read_bytes()
    # Present: nothing is written, sources are not even loaded.
    assert ensure_budget("synthetic_defects", "1/8", 1, str(tmp_path / "first_run"), lambda: 1 / 0) is None


def test_a_present_file_is_never_overwritten(tmp_path, synthetic_sources):
    directory = tmp_path / "synthetic_defects" / "1_8" / "seed0"
    directory.mkdir(parents=True)
    (directory / "labeled.txt").write_text("train_0001\n")
    assert ensure_budget("synthetic_defects", "1/8", 0, str(tmp_path), synthetic_sources) is None
    assert (directory / "labeled.txt").read_text() == "train_0001\n"
    assert not (directory / "unlabeled.txt").exists()


def _unimatch_lines(ids):
    return "".join(f"JPEGImages/{i}.jpg SegmentationClass/{i}.png\n" for i in ids)


def test_import_unimatch_and_cps_layouts(tmp_path, synthetic_sources, synthetic_data_dir, capsys):
    train = list(synthetic_sources.ids("train"))
    source = tmp_path / "splits" / "synthetic"
    (source / "1_8").mkdir(parents=True)
    (source / "1_8" / "labeled.txt").write_text(_unimatch_lines(train[3:1:-1]))
    (source / "1_8" / "unlabeled.txt").write_text(_unimatch_lines(train[4:]))
    (source / "5").mkdir()
    (source / "5" / "labeled.txt").write_text(_unimatch_lines(train[:5]))
    (source / "5" / "unlabeled.txt").write_text(_unimatch_lines(train[5:]))
    (source / "train_aug_labeled_1-16.txt").write_text(_unimatch_lines(train[:1]))
    (source / "train_aug_unlabeled_1-16.txt").write_text(_unimatch_lines(train[1:]))
    assert sorted(find_published(source)) == ["1/16", "1/8", "5"]

    args = argparse.Namespace(action="import", source=str(source), dataset="synthetic_defects", seed=2,
                              manual_dir="", data_dir=synthetic_data_dir,
                              splits_dir=str(tmp_path / "ours"))
    assert splits_command.run(args) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == (f"{tmp_path}/ours/synthetic_defects/1_8/seed2: synthetic_defects 1/8 seed2: checked "
                      f"(2 labeled, {len(train) - 4} unlabeled)")
    labeled = tmp_path / "ours" / "synthetic_defects" / "1_8" / "seed2" / "labeled.txt"
    assert labeled.read_text() == f"{train[2]}\n{train[3]}\n"
    assert splits.load_budget("synthetic_defects", "5", 2, tmp_path / "ours")[0] == train[:5]
    assert splits.load_budget("synthetic_defects", "1/16", 2, tmp_path / "ours")[0] == train[:1]
    # Importing the same lists again is fine; other lists under the same seed are refused.
    assert splits_command.run(args) == 0
    (source / "5" / "labeled.txt").write_text(_unimatch_lines(train[:4]))
    (source / "5" / "unlabeled.txt").write_text(_unimatch_lines(train[4:]))
    with pytest.raises(DataError, match="seed2/labeled.txt exists and lists other ids"):
        import_splits(source, synthetic_sources, 2, tmp_path / "ours")


def test_import_runs_the_overlap_checker(tmp_path, synthetic_sources):
    train, val = synthetic_sources.ids("train"), synthetic_sources.ids("val")
    (tmp_path / "src" / "1_8").mkdir(parents=True)
    (tmp_path / "src" / "1_8" / "labeled.txt").write_text(_unimatch_lines([train[0], val[0]]))
    (tmp_path / "src" / "1_8" / "unlabeled.txt").write_text(_unimatch_lines(train[1:]))
    with pytest.raises(DataError, match=f"labeled id '{val[0]}' belongs to the val split"):
        import_splits(tmp_path / "src", synthetic_sources, 0, tmp_path / "ours")
    assert not (tmp_path / "ours").exists()
    with pytest.raises(DataError, match="split folder 'best': expected a budget like 1_16"):
        (tmp_path / "src" / "best").mkdir()
        (tmp_path / "src" / "best" / "labeled.txt").write_text("x\n")
        (tmp_path / "src" / "best" / "unlabeled.txt").write_text("y\n")
        find_published(tmp_path / "src")


def test_cityscapes_lines_give_cityscapes_ids(tmp_path):
    path = tmp_path / "labeled.txt"
    path.write_text("leftImg8bit/train/aachen/aachen_000000_000019_leftImg8bit.png "
                    "gtFine/train/aachen/aachen_000000_000019_gtFine_labelTrainIds.png\n")
    assert splits.read_ids(path) == ["aachen_000000_000019"]
