"""Sweep expansion: cell names, arguments, dependency order, commands."""


import pytest

from ssseg.sweeps.grid import (Cell, SweepError, ablation_grid, budget_slug, grid, load_sweep, ordered,
                         pretrain_cells, resolve_overrides, switch_variants)
from ssseg.sweeps.runner import cell_command, format_override, select


def test_budget_slug():
    assert [budget_slug(b) for b in ("1/8", "92", "full")] == ["b1_8", "b92", "bfull"]


def test_grid_names_args_and_grid_keys():
    cells = grid(["supervised", "unimatch"], ["1/8", "full"], [0, 1])
    assert [c.name for c in cells] == [
        "supervised__b1_8__s0", "supervised__b1_8__s1", "supervised__bfull__s0", "supervised__bfull__s1",
        "unimatch__b1_8__s0", "unimatch__b1_8__s1", "unimatch__bfull__s0", "unimatch__bfull__s1"]
    assert cells[4].config_arg == "method=unimatch,budget=1/8,seed=0"
    assert cells[4].grid == {"regime": "unimatch", "budget": "1/8", "seed": 0}
    assert cells[4].after == () and cells[4].overrides == {}


def test_pretrained_regime_depends_on_pretrain_cell_of_same_seed():
    cells = grid(["pretrained+unimatch"], ["1/8"], [2], extra_arg="smoke")
    (cell,) = cells
    assert cell.name == "pretrained+unimatch__b1_8__s2"
    assert cell.config_arg == "method=unimatch,budget=1/8,seed=2,smoke"
    assert cell.after == ("pretrain_dense__s2",)
    assert resolve_overrides(cell, "runs/mt") == {"init_from": "runs/mt/pretrain_dense__s2"}


def test_ordered_puts_dependencies_first_and_keeps_order_otherwise():
    cells = grid(["supervised", "pretrained+supervised"], ["1/8"], [0, 1]) + pretrain_cells([0, 1])
    names = [c.name for c in ordered(cells)]
    assert names == ["supervised__b1_8__s0", "supervised__b1_8__s1", "pretrain_dense__s0",
                     "pretrained+supervised__b1_8__s0", "pretrain_dense__s1",
                     "pretrained+supervised__b1_8__s1"]


def test_ordered_rejects_unknown_dependency_cycle_and_duplicates():
    with pytest.raises(SweepError, match="unknown cell 'pretrain_dense__s0'"):
        ordered(grid(["pretrained+supervised"], ["1/8"], [0]))
    a = Cell("a", "seed=0", after=("b",))
    b = Cell("b", "seed=0", after=("a",))
    with pytest.raises(SweepError, match="cycle among cells a, b"):
        ordered([a, b])
    with pytest.raises(SweepError, match="duplicate cell name 'a'"):
        ordered([Cell("a", ""), Cell("a", "")])
    with pytest.raises(SweepError, match="not workdir-safe"):
        ordered([Cell("a/b", "")])
    with pytest.raises(SweepError, match="uses cell 'x' not listed in 'after'"):
        ordered([Cell("a", "", overrides={"init_from": "{root}/x"})])


def test_ablation_grid_with_switch_variants():
    variants = switch_variants({
        "no_cutmix": ({"method.cutmix_prob": 0.5}, {"method.cutmix_prob": 0.0}),
        "ema_teacher": ({"method.teacher": "self"}, {"method.teacher": "ema"}),
    })
    assert variants == {
        "full": {"method.cutmix_prob": 0.5, "method.teacher": "self"},
        "no_cutmix": {"method.cutmix_prob": 0.0, "method.teacher": "self"},
        "ema_teacher": {"method.cutmix_prob": 0.5, "method.teacher": "ema"},
    }
    cells = ablation_grid("method=unimatch", variants, [0], budget="1/8")
    assert [c.name for c in cells] == ["abl__full__b1_8__s0", "abl__no_cutmix__b1_8__s0",
                                       "abl__ema_teacher__b1_8__s0"]
    assert cells[1].config_arg == "method=unimatch,budget=1/8,seed=0"
    assert cells[1].grid == {"variant": "no_cutmix", "seed": 0, "budget": "1/8"}


def test_cell_command_formats_overrides():
    cell = Cell("pretrained+x__b1_8__s0", "method=x,budget=1/8,seed=0", after=("p",),
                overrides={"init_from": "{root}/p", "method.dual_strong": False,
                           "method.cutmix_prob": 0.25, "data.scale_range": (0.5, 2.0)})
    argv = cell_command(cell, "experiments/mt.py", "runs/r", train_argv=("py", "-m", "ssseg", "train"))
    assert argv == ["py", "-m", "ssseg", "train", "--config", "experiments/mt.py:method=x,budget=1/8,seed=0",
                    "--workdir", "runs/r/pretrained+x__b1_8__s0", "--config.init_from=runs/r/p",
                    "--config.method.dual_strong=false", "--config.method.cutmix_prob=0.25",
                    "--config.data.scale_range=(0.5, 2.0)"]
    assert format_override("seed", 3) == "--config.seed=3"


def test_select_glob_and_substring():
    cells = grid(["supervised", "unimatch"], ["1/8"], [0, 1])
    assert [c.name for c in select(cells, "unimatch")] == ["unimatch__b1_8__s0", "unimatch__b1_8__s1"]
    assert [c.name for c in select(cells, "*__s1")] == ["supervised__b1_8__s1", "unimatch__b1_8__s1"]


def test_load_sweep_from_file(tmp_path):
    file = tmp_path / "exp.py"
    file.write_text(
        "from ssseg.sweeps.grid import grid, pretrain_cells\n"
        "def get_config(arg):\n    raise AssertionError('not called')\n"
        "def get_sweep(name):\n"
        "    if name != 'main':\n        raise ValueError(f'unknown sweep {name!r}')\n"
        "    return grid(['pretrained+supervised'], ['1/8'], [0]) + pretrain_cells([0])\n")
    path, cells = load_sweep(str(file))
    assert path == str(file)
    assert [c.name for c in cells] == ["pretrain_dense__s0", "pretrained+supervised__b1_8__s0"]
    with pytest.raises(SweepError, match="unknown sweep 'other'"):
        load_sweep(f"{file}:other")
    with pytest.raises(SweepError, match="does not exist"):
        load_sweep(str(tmp_path / "missing.py"))
