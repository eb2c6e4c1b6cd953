"""Fixed label budgets: nested, class-covering, seeded, reproducible, and checked for leaks."""

import argparse
import filecmp
import os

import pytest

from ssseg.commands import splits as splits_command
from ssseg.data import splits
from ssseg.errors import DataError

# A 12-image pool: class 3 only in "g", class 2 in "c" and "h", class 1 in half.
PRESENCE = {
    "a": (0, 1), "b": (0,), "c": (0, 2), "d": (0, 1), "e": (0,), "f": (0, 1),
    "g": (0, 3), "h": (0, 1, 2), "i": (0,), "j": (0, 1), "k": (0,), "l": (0,),
}
POOL = sorted(PRESENCE)


def test_parse_budget_and_dirnames():
    assert splits.budget_dirname("1/16") == "1_16"
    assert splits.budget_dirname("40") == "40"
    assert splits.budget_dirname("full") == "full"
    assert splits.budget_size("1/8", 941) == 117
    assert splits.budget_size("1/16", 400) == 25
    assert splits.budget_size("40", 400) == 40
    for bad in ("0", "-3", "3/2", "abc", "1/0", ""):
        with pytest.raises(DataError, match="expected a fraction"):
            splits.parse_budget(bad)
    with pytest.raises(DataError, match="asks for 500 labeled images but the labeled pool has 400"):
        splits.budget_size("500", 400)


def test_draw_order_puts_one_image_of_every_class_first():
    order = splits.draw_order(POOL, PRESENCE, seed=0)
    assert sorted(order) == POOL
    assert order[0] == "g"  # the only holder of the rarest class
    assert splits.min_budget_for_classes(order, PRESENCE) <= 3
    covered = set().union(*(PRESENCE[i] for i in order[:3]))
    assert covered == {0, 1, 2, 3}


def test_budgets_are_nested_cover_every_class_and_differ_by_seed():
    budgets = ["1/4", "1/2", "full"]
    draws = {seed: splits.draw_budgets(POOL, PRESENCE, budgets, seed) for seed in (0, 1, 2)}
    for seed, result in draws.items():
        sizes = [len(result[b][0]) for b in budgets]
        assert sizes == [3, 6, 12]
        assert set(result["1/4"][0]) < set(result["1/2"][0]) < set(result["full"][0])
        for labeled, unlabeled in result.values():
            assert set().union(*(PRESENCE[i] for i in labeled)) == {0, 1, 2, 3}
            assert sorted(labeled + unlabeled) == POOL
    assert len({tuple(draws[s]["1/2"][0]) for s in draws}) == 3  # three seeds, three different draws


def test_budget_too_small_for_every_class_is_refused():
    with pytest.raises(DataError, match="budget '1' gives 1 labeled images but 3 are needed"):
        splits.draw_budgets(POOL, PRESENCE, ["1"], seed=0)
    with pytest.raises(DataError, match="labeled pool .* is empty"):
        splits.draw_budgets([], {}, ["full"], seed=0)


def test_unlabeled_only_images_join_every_unlabeled_list():
    result = splits.draw_budgets(POOL, PRESENCE, ["1/2", "full"], seed=0, extra_unlabeled=["z1", "z2"])
    assert result["full"][1] == ["z1", "z2"]
    assert {"z1", "z2"} < set(result["1/2"][1])


def _generate(tmp_path, synthetic_data_dir, splits_dir, budgets=("1/16", "1/8", "full"), seeds=(0, 1)):
    args = argparse.Namespace(
        action="generate", dataset="synthetic_defects", manual_dir="", data_dir=synthetic_data_dir,
        splits_dir=str(splits_dir), budgets=list(budgets), seeds=list(seeds),
    )
    assert splits_command.run(args) == 0


def test_generate_writes_identical_files_twice_and_check_passes(tmp_path, synthetic_data_dir, capsys):
    _generate(tmp_path, synthetic_data_dir, tmp_path / "a")
    _generate(tmp_path, synthetic_data_dir, tmp_path / "b")
    base = tmp_path / "a" / "synthetic_defects"
    assert sorted(os.listdir(base)) == ["1_16", "1_8", "full"]
    for budget in ("1_16", "1_8", "full"):
        for seed in ("seed0", "seed1"):
            for name in ("labeled.txt", "unlabeled.txt"):
                assert filecmp.cmp(base / budget / seed / name, tmp_path / "b" / "synthetic_defects" / budget / seed / name, shallow=False)
    labeled, unlabeled = splits.load_budget("synthetic_defects", "1/16", 0, tmp_path / "a")
    assert len(labeled) == 25 and len(unlabeled) == 375
    big_labeled, _ = splits.load_budget("synthetic_defects", "1/8", 0, tmp_path / "a")
    assert set(labeled) < set(big_labeled)
    args = argparse.Namespace(
        action="check", dataset="synthetic_defects", manual_dir="", data_dir=synthetic_data_dir,
        splits_dir=str(tmp_path / "a"), budgets=["1/16", "1/8", "full"], seeds=[0, 1], labeled="", unlabeled="",
    )
    assert splits_command.run(args) == 0
    assert "synthetic_defects 1/16 seed0: ok (25 labeled, 375 unlabeled)" in capsys.readouterr().out


def test_load_budget_errors(tmp_path):
    with pytest.raises(DataError, match="no split files for toy budget 1/8 seed 0; create them with `ssseg splits generate"):
        splits.load_budget("toy", "1/8", 0, tmp_path)
    splits.write_budget(tmp_path, "toy", "full", 0, ["a", "b", "c"], [])
    splits.write_budget(tmp_path, "toy", "2", 0, [], ["a", "b"])
    with pytest.raises(DataError, match="budget '5': toy has only 3 labeled train images"):
        splits.load_budget("toy", "5", 0, tmp_path)
    with pytest.raises(DataError, match=r"2/seed0/labeled.txt: empty"):
        splits.load_budget("toy", "2", 0, tmp_path)
    assert splits.load_budget("toy", "full", 0, tmp_path) == (["a", "b", "c"], [])


def test_check_catches_leaks_and_unknown_ids(synthetic_sources):
    train = synthetic_sources.ids("train")
    splits.check_disjoint(synthetic_sources, train[:3], train[3:6])
    with pytest.raises(DataError, match="labeled id 'val_0001' belongs to the val split"):
        splits.check_disjoint(synthetic_sources, [train[0], "val_0001"], [])
    with pytest.raises(DataError, match="unlabeled id 'test_0002' belongs to the test split"):
        splits.check_disjoint(synthetic_sources, [train[0]], ["test_0002"])
    with pytest.raises(DataError, match=f"id '{train[1]}' is both labeled and unlabeled"):
        splits.check_disjoint(synthetic_sources, train[:2], train[1:3])
    with pytest.raises(DataError, match="labeled id 'nope' does not exist in synthetic_defects"):
        splits.check_disjoint(synthetic_sources, ["nope"], [])


def test_reads_unimatch_split_files(tmp_path, synthetic_sources):
    (tmp_path / "labeled.txt").write_text("JPEGImages/train_0001.jpg SegmentationClass/train_0001.png\n")
    (tmp_path / "unlabeled.txt").write_text(
        "JPEGImages/train_0002.jpg SegmentationClass/train_0002.png\n"
        "JPEGImages/val_0003.jpg SegmentationClass/val_0003.png\n"
    )
    assert splits.read_ids(tmp_path / "labeled.txt") == ["train_0001"]
    with pytest.raises(DataError, match="unlabeled id 'val_0003' belongs to the val split"):
        splits.check_disjoint(
            synthetic_sources, splits.read_ids(tmp_path / "labeled.txt"), splits.read_ids(tmp_path / "unlabeled.txt")
        )


def test_committed_split_files_are_what_generation_gives(tmp_path, synthetic_data_dir):
    committed = os.path.join("experiments", "splits", "synthetic_defects")
    if not os.path.isdir(committed):
        pytest.skip("split files not generated yet")
    _generate(tmp_path, synthetic_data_dir, tmp_path, budgets=("1/16", "1/8", "1/4", "1/2", "full"), seeds=(0, 1, 2))
    comparison = filecmp.dircmp(committed, tmp_path / "synthetic_defects")
    assert sorted(comparison.common_dirs) == ["1_16", "1_2", "1_4", "1_8", "full"]
    for budget in comparison.common_dirs:
        for seed in ("seed0", "seed1", "seed2"):
            for name in ("labeled.txt", "unlabeled.txt"):
                assert filecmp.cmp(
                    os.path.join(committed, budget, seed, name), tmp_path / "synthetic_defects" / budget / seed / name,
                    shallow=False,
                ), f"{budget}/{seed}/{name} differs from a fresh generation"
