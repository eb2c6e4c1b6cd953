"""The experiment files' sweeps: every cell's config loads, and the report can tabulate them."""

import pytest

from ssseg.config.loader import load_config, to_plain
from ssseg.report.compare import check_comparable, first_difference
from ssseg.sweeps.grid import load_sweep
from ssseg.sweeps.runner import format_override, resolve_overrides

SEMI = "experiments/studies/semi/sweep.py:"
SEMI_LR = "experiments/studies/semi_lr/sweep.py:semi_lr"
SEMI_LR_M99 = "experiments/studies/semi_lr_m99/sweep.py:semi_lr_m99"
PRETRAIN_LR = "experiments/studies/pretrain_lr/sweep.py:pretrain_lr"


def configs(spec):
    path, cells = load_sweep(spec)
    out = {}
    for cell in cells:
        overrides = [format_override(k, v) for k, v in resolve_overrides(cell, "runs/x").items()]
        out[cell.name] = (cell, to_plain(load_config(f"{path}:{cell.config_arg}", overrides)))
    return out


def _one_table(cells):
    runs = [{"workdir": name, "checkpoint": "last", "config": config}
            for name, (cell, config) in cells.items() if "regime" in cell.grid and "budget" in cell.grid]
    check_comparable(runs, cell_of=lambda r: tuple(cells[r["workdir"]][0].grid[k] for k in ("regime", "budget")))


def test_camvid_main_grid_is_one_comparable_table():
    cells = configs("experiments/camvid.py:main")
    assert len(cells) == 3 + 7 * 5 * 3
    cell, config = cells["pretrained+unimatch__b1_8__s2"]
    assert config["init_from"] == "runs/x/pretrain_dense__s2" and cell.after == ("pretrain_dense__s2",)
    assert cells["pretrain_dense__s1"][1]["method"]["name"] == "pretrain_pixpro"
    _one_table(cells)


def test_magnetic_tile_main_grid_is_semi_lr_m99_with_steps_scaled_to_the_labeled_set():
    cells = configs("experiments/magnetic_tile.py:main")
    assert len(cells) == 3 + 7 * 3 * 3 + 2 * 3
    assert {name.split("__")[0] for name in cells if "__bfull__" in name} == {"supervised", "pretrained+supervised"}
    steps = {budget: {config["train"]["steps"] for name, (cell, config) in cells.items()
                      if cell.grid.get("budget") == budget} for budget in ("1/16", "1/8", "1/4", "full")}
    assert steps == {"1/16": {1500}, "1/8": {1500}, "1/4": {3000}, "full": {12000}}
    # Equal epochs over the labeled set: 1500 x 8 / 117 at 1/8; 3000 x 8 / 235; 12000 x 8 / 941.
    with open("experiments/splits/magnetic_tile/full/seed0/labeled.txt") as f:
        assert len(f.read().split()) == 941
    # At 1/16 and 1/8 the cells are semi_lr_m99's and pretrain_lr's, key for key.
    studies = {**configs(SEMI_LR_M99), **configs(PRETRAIN_LR)}
    for name, (_, config) in studies.items():
        if name in cells:
            assert first_difference(studies[name][1], cells[name][1], allowed=()) is None, name
    # supervised, FixMatch, UniMatch x 2 budgets x 3 seeds; 3 pretrainings; pretrained+supervised
    # x 2 budgets and pretrained+UniMatch at 1/16, x 3 seeds.
    assert sum(name in cells for name in studies) == 3 * 2 * 3 + 3 + 2 * 3 + 3
    for method in ("mean_teacher", "cps"):
        assert cells[f"{method}__b1_4__s1"][1]["method"]["teacher"] == "ema"
        assert cells[f"{method}__b1_4__s1"][1]["method"]["ema_momentum"] == 0.99
    cell, config = cells["pretrained+unimatch__b1_8__s2"]
    assert config["init_from"] == "runs/x/pretrain_mim__s2" and cell.after == ("pretrain_mim__s2",)
    _one_table(cells)


def test_ablation_flips_one_unimatch_switch_per_variant():
    cells = configs("experiments/magnetic_tile.py:ablation")
    assert len(cells) == 6 * 3
    reference = cells["abl__unimatch__b1_8__s0"][1]
    expected = {"single_strong": ("method.dual_strong", True, False),
                "no_feature_perturb": ("method.feature_perturb", True, False),
                "no_cutmix": ("method.cutmix_prob", 0.5, 0.0),
                "class_adaptive": ("method.class_adaptive", False, True),
                "no_ema_teacher": ("method.teacher", "ema", "self")}
    for variant, diff in expected.items():
        config = cells[f"abl__{variant}__b1_8__s0"][1]
        assert first_difference(reference, config, allowed=()) == diff
        assert first_difference(reference, config, allowed=(diff[0],)) is None
    # The reference is the main grid's UniMatch cell at 1/8.
    main = configs("experiments/magnetic_tile.py:main")
    assert first_difference(reference, main["unimatch__b1_8__s0"][1], allowed=()) is None


def test_semi_grid_gives_only_the_pseudo_labellers_an_ema_teacher():
    cells = configs(SEMI + "semi")
    assert len(cells) == 3 * 2 * 5
    assert all(config["train"]["steps"] == 1500 for _, config in cells.values())
    assert "teacher" not in cells["supervised__b1_8__s0"][1]["method"]
    assert {cells[f"{m}__b1_16__s2"][1]["method"]["teacher"] for m in ("fixmatch", "unimatch")} == {"ema"}
    runs = [{"workdir": name, "checkpoint": "last", "config": config} for name, (_, config) in cells.items()]
    check_comparable(runs, cell_of=lambda r: tuple(cells[r["workdir"]][0].grid[k] for k in ("regime", "budget")))
    # The teacher=self ablation differs from the `semi` cell of the same name in the teacher alone.
    selfs = configs(SEMI + "semi_self")
    for name, (_, config) in selfs.items():
        assert first_difference(cells[name][1], config, allowed=()) == ("method.teacher", "ema", "self")
    # semi_bg: semi_self with a stricter background threshold, nothing else.
    for name, (_, config) in configs(SEMI + "semi_bg").items():
        assert first_difference(selfs[name][1], config, allowed=()) == ("method.background_thresh", None, 0.99)
    # The EMA-teacher variants and semi_long: one key off the `semi` cell of the same name.
    flips = {"semi_ca": ("method.class_adaptive", False, True),
             "semi_cw": ("method.class_weight_power", 0.0, 0.25),
             "semi_da": ("method.distribution_alignment", False, True),
             "semi_ebg": ("method.background_thresh", None, 0.99),
             "semi_cp": ("method.copy_paste_prob", 0.0, 0.5)}  # every regime, supervised too
    for sweep, diff in flips.items():
        for name, (_, config) in configs(SEMI + sweep).items():
            assert first_difference(cells[name][1], config, allowed=()) == diff
    # semi_lr: the encoder's learning rate and the decoder's multiplier, nothing else.
    for name, (_, config) in configs(SEMI_LR).items():
        assert first_difference(cells[name][1], config, allowed=("optim.lr",)) == ("optim.head_lr_mult", 1.0, 4.0)
        assert (cells[name][1]["optim"]["lr"], config["optim"]["lr"]) == (4e-3, 1e-3)
    # semi_lr_m99: semi_lr's supervised cells unchanged, the teachers' momentum 0.996 -> 0.99.
    lr_cells = configs(SEMI_LR)
    for name, (_, config) in configs(SEMI_LR_M99).items():
        diff = None if name.startswith("supervised") else ("method.ema_momentum", 0.996, 0.99)
        assert first_difference(lr_cells[name][1], config, allowed=()) == diff
    for name, (_, config) in configs(SEMI + "semi_long").items():
        assert first_difference(cells[name][1], config, allowed=()) == ("train.steps", 1500, 3000)


def test_pretrain_lr_compares_init_alone_against_the_semi_lr_supervised_cells():
    cells = configs(PRETRAIN_LR)
    assert len(cells) == 3 + 2 * 2 * 3 + 2 * 3
    pretrain = cells["pretrain_mim__s1"][1]
    assert (pretrain["method"]["name"], pretrain["seed"], pretrain["train"]["steps"]) == ("pretrain_mim", 1, 3000)
    semi_lr = configs(SEMI_LR)
    for budget in ("b1_16", "b1_8"):
        for seed in range(3):
            random = cells[f"supervised__{budget}__s{seed}"][1]
            cell, pretrained = cells[f"pretrained+supervised__{budget}__s{seed}"]
            assert first_difference(semi_lr[f"supervised__{budget}__s{seed}"][1], random, allowed=()) is None
            assert first_difference(random, pretrained, allowed=()) == (
                "init_from", "", f"runs/x/pretrain_mim__s{seed}")
            assert cell.after == (f"pretrain_mim__s{seed}",)
    # The combined regime: semi_lr_m99's UniMatch cells, and the same from the seed's pretraining.
    m99 = configs(SEMI_LR_M99)
    for seed in range(3):
        random = cells[f"unimatch__b1_16__s{seed}"][1]
        assert first_difference(m99[f"unimatch__b1_16__s{seed}"][1], random, allowed=()) is None
        assert first_difference(random, cells[f"pretrained+unimatch__b1_16__s{seed}"][1], allowed=()) == (
            "init_from", "", f"runs/x/pretrain_mim__s{seed}")


def test_pretrain_study_fine_tunes_semi_lr_cells_and_its_pretrainings_differ_as_described():
    cells = configs("experiments/studies/pretrain/sweep.py:pretrain")
    assert len(cells) == 7 + 1 + 1 + 1 + 3
    semi_lr = configs(SEMI_LR)
    assert first_difference(semi_lr["supervised__b1_16__s0"][1], cells["random+supervised__b1_16__s0"][1],
                            allowed=()) is None
    # Each fine-tuning is semi_lr's supervised cell of its split with init_from as the only change.
    for source, seed in (("pixpro_l0", 0), ("pixpro_geo", 0), ("mim", 0), ("mim", 1), ("mim", 2)):
        cell, config = cells[f"{source}+supervised__b1_16__s{seed}"]
        assert cell.after == (f"{source}__s0",)
        assert first_difference(semi_lr[f"supervised__b1_16__s{seed}"][1], config, allowed=()) == (
            "init_from", "", f"runs/x/{source}__s0")
    l0 = cells["pixpro_l0__s0"][1]
    assert l0["method"]["feature_levels"] == [0, -1] and l0["train"]["steps"] == 1500
    assert first_difference(cells["pixpro_deep__s0"][1], l0, allowed=()) == ("method.feature_levels", (-1,), (0, -1))
    geo = cells["pixpro_geo__s0"][1]["method"]
    assert (geo["p_jitter"], geo["p_grayscale"], geo["blur_prob"]) == (0.0, 0.0, 0.0)
    assert first_difference(cells["pixpro_spread__s0"][1], cells["pixcontrast__s0"][1], allowed=()) == (
        "method.dense_loss", "pixpro", "pixcontrast")
    assert cells["mim__s0"][1]["method"]["name"] == "pretrain_mim"
