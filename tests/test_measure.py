"""Post-processing, defect instances, IoU matching and pass/fail rules on hand-drawn masks (exact values)."""

import types

import numpy as np
import pytest

from ssseg.data.registry import SYNTHETIC_DEFECTS as SPEC
from ssseg.errors import ConfigError
from ssseg.measure.instances import Instance, extract_instances, match_counts
from ssseg.measure.postprocess import parse_postprocess, single_options
from ssseg.measure.report import Measurer
from ssseg.measure.rules import judge, parse_rules, pass_fail_confusion
from ssseg.measure.split_eval import evaluate_split

NAMES, DEFECTS = SPEC.class_names, SPEC.defect_classes  # background, scratch, pit, stain


def _map(rows: str) -> np.ndarray:
    """A label map drawn as text: '.' background, digits class ids, 'x' ignored (255)."""
    return np.asarray([[255 if ch == "x" else 0 if ch == "." else int(ch) for ch in row.split()[0]]
                       for row in rows.strip().splitlines()], np.int32)


def _post(spec, pred):
    return parse_postprocess(spec, NAMES, DEFECTS)(pred, DEFECTS)


def test_min_area_removes_small_components_per_class():
    pred = _map("""
        11...
        11..1
        .....
        22..3
        """)
    assert _post("min_area=2", pred).tolist() == _map("""
        11...
        11...
        .....
        22...
        """).tolist()
    # A per-class bar overrides the general one for that class only.
    assert _post("min_area=2,min_area:scratch=5", pred).tolist() == _map("""
        .....
        .....
        .....
        22...
        """).tolist()


def test_opening_removes_specks_and_thin_lines_but_keeps_the_disk():
    pred = _map("""
        .......
        ..1....
        .111..1
        ..1....
        .......
        2.222..
        """)
    assert _post("open=1", pred).tolist() == _map("""
        .......
        ..1....
        .111...
        ..1....
        .......
        .......
        """).tolist()


def test_closing_and_hole_filling_close_a_ring_without_overwriting_another_class():
    ring = _map("""
        .......
        .111...
        .1.1...
        .111...
        .......
        """)
    filled = _map("""
        .......
        .111...
        .111...
        .111...
        .......
        """)
    assert _post("close=1", ring).tolist() == filled.tolist()
    assert _post("fill_holes", ring).tolist() == filled.tolist()
    ring_around_pit = ring.copy()
    ring_around_pit[2, 2] = 2
    assert _post("fill_holes", ring_around_pit).tolist() == ring_around_pit.tolist()


@pytest.mark.parametrize("parse, text, message", [
    (parse_postprocess, "min_area:background=3",
     r"'min_area:background=3'.*not a defect class; expected one of scratch"),
    (parse_postprocess, "open=-1", r"'open=-1'.*expected a whole number >= 0"),
    (parse_postprocess, "erode=1", r"'erode=1': expected open=R, close=R, fill_holes"),
    (parse_rules, "area>2mm2", r"'area>2mm2': an area in mm2 needs --pixel-size-mm"),
    (parse_rules, "any:crack", r"'any:crack'.*'crack' is not a defect class"),
    (parse_rules, "count:pit", r"'count:pit': count needs a comparison"),
    (parse_rules, "biggest>3", r"'biggest>3': expected METRIC"),
])
def test_a_bad_postprocess_item_or_rule_is_named(parse, text, message):
    with pytest.raises(ConfigError, match=message):
        parse(text, NAMES, DEFECTS)


def test_single_options_split_a_spec():
    assert [p.spec for p in single_options("min_area=20, open=1,fill_holes", NAMES, DEFECTS)] == [
        "min_area=20", "open=1", "fill_holes"]
    assert parse_postprocess("none", NAMES, DEFECTS).is_identity


def test_instances_have_class_area_bbox_and_mean_confidence():
    label = _map("""
        1....3
        11..3.
        ......
        ..2...
        """)
    probs = np.zeros(label.shape + (4,), np.float32)
    probs[..., 1] = np.arange(24).reshape(4, 6) / 100.0
    probs[..., 3] = 0.5
    got = extract_instances(label, NAMES, DEFECTS, probs, pixel_size_mm=0.5)
    assert got == [
        Instance(1, "scratch", 3, (0, 0, 2, 2), pytest.approx((0 + 6 + 7) / 300), 0.75),
        Instance(2, "pit", 1, (3, 2, 4, 3), 0.0, 0.25),
        Instance(3, "stain", 2, (0, 4, 2, 6), 0.5, 0.5),  # diagonal pixels: one 8-connected component
    ]


def test_matching_at_iou_half_counts_tp_fp_fn():
    truth = _map("""
        11......
        11......
        ........
        ........
        ....11..
        ........
        ........
        111.....
        """)
    pred = _map("""
        111.....
        111.....
        ........
        ........
        .....1..
        ........
        .......1
        1...x...
        """)
    # top-left IoU 4/6 -> TP; right pair IoU 1/2 -> TP (at the bar); bottom-left IoU 1/3 -> FP + FN;
    # the lone pixel at the right edge -> FP.
    assert match_counts(pred, truth, 1) == (2, 2, 1)
    assert match_counts(pred, truth, 2) == (0, 0, 0)
    # A prediction only on ignored pixels is not counted.
    assert match_counts(_map("1x\n.."), _map("xx\n.."), 1) == (0, 0, 0)


def _inst(cls, area):
    return Instance(cls, NAMES[cls], area, (0, 0, 1, 1), None, area * 0.01)


def test_rules_fail_an_image_when_any_holds():
    instances = [_inst(1, 30), _inst(2, 5), _inst(2, 12)]
    rules = parse_rules("any:stain; count:pit>=2, area>50; max_area:pit>0.1mm2", NAMES, DEFECTS, pixel_size_mm=0.1)
    assert judge(instances, rules).failed_rules == ("count:pit>=2", "max_area:pit>0.1mm2")
    assert judge(instances, parse_rules("any:pit>=13", NAMES, DEFECTS)).passed
    assert not judge(instances, parse_rules("any:pit>=12", NAMES, DEFECTS)).passed
    assert not judge(instances, parse_rules("any", NAMES, DEFECTS)).passed
    assert judge([], parse_rules("any", NAMES, DEFECTS)).passed
    assert judge(instances, parse_rules("area>47", NAMES, DEFECTS)).failed_rules == ()
    assert judge(instances, parse_rules("area:scratch==30", NAMES, DEFECTS)).failed_rules == ("area:scratch==30",)


def test_pass_fail_confusion_rows_truth_columns_prediction():
    got = pass_fail_confusion([True, True, False, False, False], [True, False, False, True, False])
    assert got["matrix"] == [[1, 1], [1, 2]]


def test_split_evaluation_scores_postprocessing_instances_and_verdicts():
    """Two images through a fake predictor whose probabilities are the drawn predictions."""
    truths = [_map("11...\n11...\n.....\n....."), _map(".....\n.....\n.....\n.....")]
    preds = [_map("11...\n11...\n.....\n....3"), _map("2....\n.....\n.....\n.....")]
    source = [{"id": f"im{i}", "image": i, "label": t.astype(np.uint8)} for i, t in enumerate(truths)]
    predictor = types.SimpleNamespace(
        run=types.SimpleNamespace(spec=SPEC), model_name="student",
        probabilities=lambda index: np.eye(4, dtype=np.float32)[preds[index]])
    measurer = Measurer(SPEC, "min_area=2", rules="any")
    result = evaluate_split(predictor, source, measurer, [measurer.postprocess], instances=True)
    none, cleaned = result["postprocess"]
    # Without: background IoU 34/36, scratch 1, pit 0/1, stain 0/1; with min_area=2 both specks go.
    assert none["miou"] == pytest.approx((34 / 36 + 1 + 0 + 0) / 4)
    assert cleaned["spec"] == "min_area=2" and cleaned["miou"] == pytest.approx(1.0)
    inst = result["instances"]
    assert inst["per_class"]["scratch"] == {"tp": 1, "fp": 0, "fn": 0, "precision": 1.0, "recall": 1.0}
    assert inst["per_class"]["all"]["tp"] == 1 and inst["per_class"]["pit"]["precision"] is None
    assert inst["pass_fail"]["matrix"] == [[1, 0], [0, 1]]  # im1 passes (speck removed), im0 fails
    assert [r.verdict.passed for r in measurer.reports] == [False, True]


def test_measurer_needs_defect_classes_and_a_positive_pixel_size():
    from ssseg.data.registry import CAMVID

    with pytest.raises(ConfigError, match=r"dataset 'camvid' has no defect classes"):
        Measurer(CAMVID)
    with pytest.raises(ConfigError, match=r"--pixel-size-mm 0.0: expected a positive size"):
        Measurer(SPEC, pixel_size_mm=0.0)
