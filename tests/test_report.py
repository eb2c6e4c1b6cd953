"""Report aggregation on fabricated result.json files with known mean/std; refusal to mix configs."""

import json
import math

import pytest

from ssseg.report import (ReportError, budget_sort_key, format_cell, load_results, results_table,
                          to_csv, to_latex, to_markdown)

from fabricated_runs import RUNS, write_run


@pytest.fixture
def sweep_root(tmp_path):
    for run in RUNS:
        write_run(tmp_path, *run)
    return tmp_path


def test_budget_order():
    budgets = ["full", "1/2", "366", "1/16", "92", "1/8", "1/4"]
    assert sorted(budgets, key=budget_sort_key) == ["1/16", "1/8", "1/4", "1/2", "92", "366", "full"]


def test_table_mean_and_sample_std(sweep_root):
    table = results_table(load_results(sweep_root), metric="miou")
    assert table.rows == ("supervised", "unimatch")
    assert table.cols == ("1/16", "1/8", "full")
    sup = table.get("supervised", "1/8")
    assert sup.n == 3 and sup.mean == pytest.approx(52.0) and sup.std == pytest.approx(2.0)
    uni = table.get("unimatch", "1/8")
    assert uni.mean == pytest.approx(62.0) and uni.std == pytest.approx(math.sqrt(7))
    assert table.get("supervised", "full").std == pytest.approx(math.sqrt(2))
    assert table.get("unimatch", "full") is None
    assert math.isnan(table.get("unimatch", "1/16").std)
    assert table.best_rows("1/8") == {"unimatch"}


def test_defect_miou_skips_runs_without_it(sweep_root):
    table = results_table(load_results(sweep_root), metric="defect_miou")
    assert table.get("supervised", "full").values == pytest.approx((60.0,))
    assert table.get("supervised", "1/8").std == pytest.approx(3.0)


def test_markdown_table(sweep_root):
    text = to_markdown(results_table(load_results(sweep_root)))
    assert text.splitlines() == [
        "**magnetic_tile: test mIoU (%)**",
        "",
        "| regime | 1/16 | 1/8 | full |",
        "|:---|---:|---:|---:|",
        "| supervised | – | 52.0 ± 2.0 (3) | **71.0 ± 1.4 (2)** |",
        "| unimatch | **40.0 (1)** | **62.0 ± 2.6 (3)** | – |",
        "",
        "Mean ± sample std (ddof=1) over seeds, number of seeds in parentheses; test split, "
        "checkpoint: last; best per column in bold; – = no finished run. Code: unknown (9 runs).",
    ]


def test_latex_table(sweep_root):
    text = to_latex(results_table(load_results(sweep_root)))
    lines = text.splitlines()
    assert r"\begin{tabular}{lrrr}" in lines
    assert r"regime & 1/16 & 1/8 & full \\" in lines
    assert r"supervised & -- & 52.0 $\pm$ 2.0 (3) & \textbf{71.0 $\pm$ 1.4 (2)} \\" in lines
    assert r"unimatch & \textbf{40.0 (1)} & \textbf{62.0 $\pm$ 2.6 (3)} & -- \\" in lines
    assert any("checkpoint: last" in line and r"\caption{" in line for line in lines)


def test_csv_long_format(sweep_root):
    lines = to_csv(results_table(load_results(sweep_root))).splitlines()
    assert lines == [
        "regime,budget,metric,split,checkpoint,n,mean,std_ddof1,values",
        "supervised,1/8,miou,test,last,3,52.0000,2.0000,50.0000;52.0000;54.0000",
        "supervised,full,miou,test,last,2,71.0000,1.4142,70.0000;72.0000",
        "unimatch,1/16,miou,test,last,1,40.0000,,40.0000",
        "unimatch,1/8,miou,test,last,3,62.0000,2.6458,60.0000;61.0000;65.0000",
    ]


def test_format_cell_missing():
    assert format_cell(None) == "–"


def test_refuses_runs_whose_configs_differ_outside_grid_keys(tmp_path):
    write_run(tmp_path, "supervised", "1/8", 0, 0.5, 0.3)
    write_run(tmp_path, "unimatch", "1/8", 0, 0.6, 0.4, config_patch={"optim.lr": 0.02})
    with pytest.raises(ReportError) as err:
        results_table(load_results(tmp_path))
    assert str(err.value) == (
        f"refusing to put them in one table: runs {tmp_path}/supervised__b1_8__s0 and "
        f"{tmp_path}/unimatch__b1_8__s0 differ in config key 'optim.lr' (0.01 vs 0.02)")


def test_refuses_to_average_runs_with_different_method_settings(tmp_path):
    write_run(tmp_path, "unimatch", "1/8", 0, 0.6, 0.4)
    write_run(tmp_path, "unimatch", "1/8", 1, 0.6, 0.4, config_patch={"method.conf_thresh": 0.9})
    with pytest.raises(ReportError, match=r"average them in cell \('unimatch', '1/8'\).*"
                                          r"'method.conf_thresh' \(0.95 vs 0.9\)"):
        results_table(load_results(tmp_path))


def test_a_key_added_later_compares_as_its_default(tmp_path):
    # Seed 0 predates method.unlabeled_loss; seed 1 has its default, seed 2 another value.
    write_run(tmp_path, "unimatch", "1/8", 0, 0.6, 0.4)
    write_run(tmp_path, "unimatch", "1/8", 1, 0.7, 0.4, config_patch={"method.unlabeled_loss": "ce"})
    assert results_table(load_results(tmp_path)).get("unimatch", "1/8").n == 2
    write_run(tmp_path, "unimatch", "1/8", 2, 0.7, 0.4, config_patch={"method.unlabeled_loss": "dice"})
    with pytest.raises(ReportError, match=r"'method.unlabeled_loss' \('ce' vs 'dice'\)"):
        results_table(load_results(tmp_path))


def test_bookkeeping_keys_and_pretraining_runs_do_not_block(tmp_path):
    write_run(tmp_path, "supervised", "1/8", 0, 0.5, 0.3)
    write_run(tmp_path, "supervised", "1/8", 1, 0.7, 0.3,
              config_patch={"train.log_every": 5, "data.manual_dir": "/elsewhere"})
    write_run(tmp_path, "pretrain_densecl", "full", 0, 0.0, None, config_patch={"train.steps": 999})
    table = results_table(load_results(tmp_path))
    assert table.rows == ("supervised",) and table.cols == ("1/8",)
    assert table.get("supervised", "1/8").mean == pytest.approx(60.0)


def test_refuses_to_mix_checkpoints(tmp_path):
    write_run(tmp_path, "supervised", "1/8", 0, 0.5, 0.3)
    write_run(tmp_path, "supervised", "1/8", 1, 0.5, 0.3, checkpoint="best")
    with pytest.raises(ReportError, match="refusing to mix checkpoints.*'checkpoint' \\('last' vs 'best'\\)"):
        results_table(load_results(tmp_path))


def test_zero_label_rows_join_a_table_scored_on_the_same_data(tmp_path):
    write_run(tmp_path, "supervised", "1/8", 0, 0.5, 0.3)
    write_run(tmp_path, "zero-label:otsu", "0", 0, 0.1, 0.01, checkpoint=None,
              config_patch={"train.steps": 0, "optim.lr": 0.0, "data.scale_range": [1.0, 1.0]})
    table = results_table(load_results(tmp_path))
    assert table.rows == ("supervised", "zero-label:otsu") and table.checkpoint == "last"
    assert table.get("zero-label:otsu", "0").mean == pytest.approx(10.0)
    # Scored at another resolution: not the same test labels, so not the same table.
    write_run(tmp_path, "zero-label:kmeans", "0", 0, 0.1, 0.01, checkpoint=None,
              config_patch={"data.base_size": 512})
    with pytest.raises(ReportError, match=r"zero-label:kmeans__b0__s0 differ in config key 'data.base_size' "
                                          r"\(96 vs 512\)"):
        results_table(load_results(tmp_path))


def test_ablation_rows_follow_sweep_order(tmp_path):
    order = []
    cells = {}
    for variant, cutmix, miou in [("full", 0.5, 0.6), ("cutmix_off", 0.0, 0.55)]:
        workdir = write_run(tmp_path, "unimatch", "1/8", 0, miou, 0.4,
                            config_patch={"method.cutmix_prob": cutmix})
        name = f"abl__{variant}__b1_8__s0"
        workdir.rename(tmp_path / name)
        order.append(name)
        cells[name] = {"grid": {"variant": variant, "budget": "1/8", "seed": 0}}
    (tmp_path / "sweep_cells.json").write_text(json.dumps({"cells": cells, "order": order}))
    table = results_table(load_results(tmp_path))
    assert table.row_key == "variant"
    assert table.rows == ("full", "cutmix_off")
    assert table.get("cutmix_off", "1/8").mean == pytest.approx(55.0)


def scored(miou, model):
    return {"model": model, "miou": miou, "defect_miou": miou / 2, "pixel_acc": 0.9, "per_class_iou": {}}


def test_student_table_scores_every_run_by_its_student(tmp_path):
    from ssseg.report import select_model

    write_run(tmp_path, "supervised", "1/8", 0, 0.5, 0.25, test=scored(0.5, "student"),
              models={"student": {"val": scored(0.5, "student"), "test": scored(0.5, "student")}})
    write_run(tmp_path, "unimatch", "1/8", 0, 0.6, 0.3, test=scored(0.6, "teacher"),
              models={"teacher": {"val": scored(0.6, "teacher"), "test": scored(0.6, "teacher")},
                      "student": {"val": scored(0.4, "student"), "test": scored(0.4, "student")}})
    reported = results_table(load_results(tmp_path))
    assert reported.get("unimatch", "1/8").mean == pytest.approx(60.0)
    assert "checkpoint: last (teacher where there is one, else student)" in reported.note
    students = results_table(select_model(load_results(tmp_path), "student"))
    assert students.get("unimatch", "1/8").mean == pytest.approx(40.0)
    assert students.get("supervised", "1/8").mean == pytest.approx(50.0)
    assert "checkpoint: last (student)" in students.note
    write_run(tmp_path, "supervised", "1/8", 1, 0.5, 0.25)  # a result.json without per-network scores
    with pytest.raises(ReportError, match=r"supervised__b1_8__s1/result.json has no 'student' scores"):
        select_model(load_results(tmp_path), "student")


def test_val_best_picks_each_runs_network_by_val_and_says_so(tmp_path):
    from ssseg.report import select_model

    def networks(teacher_val, student_val):
        return {"teacher": {"val": scored(teacher_val, "teacher"), "test": scored(0.30, "teacher")},
                "student": {"val": scored(student_val, "student"), "test": scored(0.40, "student")}}

    write_run(tmp_path, "supervised", "1/8", 0, 0.5, 0.25, test=scored(0.5, "student"),
              models={"student": {"val": scored(0.5, "student"), "test": scored(0.5, "student")}})
    write_run(tmp_path, "fixmatch", "1/8", 0, 0.3, 0.15, test=scored(0.30, "teacher"),
              val=scored(0.2, "teacher"), models=networks(0.2, 0.25))  # student better on val
    write_run(tmp_path, "fixmatch", "1/8", 1, 0.3, 0.15, test=scored(0.30, "teacher"),
              val=scored(0.2, "teacher"),  # a tie keeps the headline (teacher), whatever the order in models
              models=dict(reversed(networks(0.2, 0.2).items())))
    picked = {(r["regime"], r["seed"]): r["test"]["model"] for r in select_model(load_results(tmp_path), "val_best")}
    assert picked == {("supervised", 0): "student", ("fixmatch", 0): "student", ("fixmatch", 1): "teacher"}
    table = results_table(select_model(load_results(tmp_path), "val_best"))
    assert table.get("fixmatch", "1/8").mean == pytest.approx(35.0)
    assert "checkpoint: last (the network with the higher val mIoU)" in table.note
    write_run(tmp_path, "fixmatch", "1/8", 2, 0.3, 0.15, models={"teacher": {"test": scored(0.3, "teacher")},
                                                                 "student": networks(0.2, 0.2)["student"]})
    with pytest.raises(ReportError, match=r"fixmatch__b1_8__s2/result.json: network 'teacher' has no val mIoU"):
        select_model(load_results(tmp_path), "val_best")


def _variant_run(root, variant, seed, miou, loss, overrides, config_patch=None):
    cell = {"grid": {"variant": variant, "budget": "1/8", "seed": seed}, "overrides": overrides}
    return write_run(root / variant, "supervised", "1/8", seed, miou, 0.3, cell=cell,
                     config_patch={"loss": loss, **(config_patch or {})})


def test_a_grid_of_named_variants_may_differ_in_the_keys_its_variants_set(tmp_path):
    reference = {"train.steps": 100}
    ohem = {**reference, "loss.name": "ohem", "loss.ohem_min_kept": 20000}
    for seed in (0, 1):
        _variant_run(tmp_path, "ce_dice", seed, 0.5, {"name": "ce_dice"}, reference)
        _variant_run(tmp_path, "ohem", seed, 0.4 + seed / 10, {"name": "ohem", "ohem_min_kept": 20000}, ohem)
    table = results_table(load_results(tmp_path), row_key="variant")
    assert set(table.rows) == {"ce_dice", "ohem"} and table.get("ohem", "1/8").mean == pytest.approx(45.0)
    # A key no variant sets still has to agree...
    _variant_run(tmp_path, "focal", 0, 0.5, {"name": "focal"}, {**reference, "loss.name": "focal"},
                 config_patch={"optim.lr": 0.02})
    with pytest.raises(ReportError, match="differ in config key 'optim.lr'"):
        results_table(load_results(tmp_path), row_key="variant")


def test_runs_of_one_variant_must_agree_on_the_keys_the_variants_set(tmp_path):
    ohem = {"loss.name": "ohem"}
    _variant_run(tmp_path, "ce_dice", 0, 0.5, {"name": "ce_dice"}, {})
    _variant_run(tmp_path, "ohem", 0, 0.4, {"name": "ohem"}, ohem)
    _variant_run(tmp_path, "ohem", 1, 0.4, {"name": "focal"}, ohem)   # a record that is not what its cell says
    with pytest.raises(ReportError, match=r"average them in cell \('ohem', '1/8'\).*'loss.name'"):
        results_table(load_results(tmp_path), row_key="variant")
    # Without named variants a loss difference is refused as before.
    other = tmp_path / "plain"
    write_run(other, "supervised", "1/8", 0, 0.5, 0.3, config_patch={"loss": {"name": "ce"}})
    write_run(other, "unimatch", "1/8", 0, 0.5, 0.3, config_patch={"loss": {"name": "dice"}})
    with pytest.raises(ReportError, match="differ in config key 'loss.name'"):
        results_table(load_results(other))
