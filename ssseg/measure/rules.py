"""Pass/fail rules over an image's defect instances: a small grammar an inspector can write.

An image FAILS when any rule holds, and passes otherwise. Rules are separated
by ``;`` or ``,``; each is ``METRIC[:CLASS][ OP VALUE[UNIT]]``:

| rule | fails the image when |
|---|---|
| ``any`` | there is at least one defect instance (the default rule) |
| ``any:crack`` | there is at least one crack |
| ``any:blowhole>=20`` | some blowhole has an area >= 20 (a per-class minimum area) |
| ``count:crack>2`` | there are more than 2 cracks (``count>2``: defects of any class) |
| ``area>500`` | the total defect area exceeds 500 pixels (``area:uneven>500``: of one class) |
| ``max_area:break>=1.5mm2`` | the largest break is at least 1.5 mm² |

OP is one of ``> >= < <= ==``; areas are in pixels unless VALUE ends in
``mm2``, which needs the pixel size (``--pixel-size-mm``).
"""

from __future__ import annotations

import dataclasses
import operator
import re
from typing import Sequence

from ssseg.errors import ConfigError
from ssseg.measure.instances import Instance
from ssseg.measure.postprocess import defect_class_id

DEFAULT_RULES = "any"
METRICS = ("any", "count", "area", "max_area")
_OPS = {">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le, "==": operator.eq}
_RULE = re.compile(r"^(?P<metric>[a-z_]+)(?::(?P<cls>[^<>=\s]+))?\s*(?:(?P<op>>=|<=|==|>|<)\s*"
                   r"(?P<value>[0-9]*\.?[0-9]+)\s*(?P<unit>px|mm2)?)?$")


@dataclasses.dataclass(frozen=True)
class Rule:
    text: str
    metric: str
    class_id: int | None  # None: every defect class
    op: str | None = None
    value: float | None = None
    unit: str = "px"

    def holds(self, instances: Sequence[Instance]) -> bool:
        chosen = [i for i in instances if self.class_id is None or i.class_id == self.class_id]
        areas = [self._area(i) for i in chosen]
        if self.metric == "any":
            return any(_OPS[self.op](a, self.value) for a in areas) if self.op else bool(chosen)
        measured = {"count": len(chosen), "area": sum(areas), "max_area": max(areas, default=0.0)}[self.metric]
        return _OPS[self.op](measured, self.value)

    def _area(self, instance: Instance) -> float:
        return instance.area_mm2 if self.unit == "mm2" else instance.area_px


@dataclasses.dataclass(frozen=True)
class Verdict:
    passed: bool
    failed_rules: tuple[str, ...]


def parse_rules(text: str, class_names: Sequence[str], defect_classes: Sequence[int],
                pixel_size_mm: float | None = None) -> list[Rule]:
    """Rules from their text (see the module docstring); one-line ConfigError naming a bad rule."""
    rules = []
    for part in filter(None, (p.strip() for p in re.split(r"[;,]", text or ""))):
        rules.append(_parse_rule(part, tuple(class_names), tuple(defect_classes), pixel_size_mm))
    if not rules:
        raise ConfigError(f"--rules {text!r}: no rule given (e.g. {DEFAULT_RULES!r})")
    return rules


def _parse_rule(part: str, class_names, defect_classes, pixel_size_mm) -> Rule:
    where = f"--rules item {part!r}"
    match = _RULE.match(part)
    if not match or match["metric"] not in METRICS:
        raise ConfigError(f"{where}: expected METRIC[:CLASS][OP VALUE[mm2]] with METRIC one of "
                          f"{', '.join(METRICS)}, e.g. any:crack or area>500")
    metric, name, op = match["metric"], match["cls"], match["op"]
    if metric != "any" and op is None:
        raise ConfigError(f"{where}: {metric} needs a comparison, e.g. {metric}>0")
    if metric == "count" and match["unit"]:
        raise ConfigError(f"{where}: a count has no unit")
    class_id = None if name is None else defect_class_id(name, class_names, defect_classes, where)
    unit = match["unit"] or "px"
    if unit == "mm2" and pixel_size_mm is None:
        raise ConfigError(f"{where}: an area in mm2 needs --pixel-size-mm")
    value = None if op is None else float(match["value"])
    return Rule(text=part, metric=metric, class_id=class_id, op=op, value=value, unit=unit)


def judge(instances: Sequence[Instance], rules: Sequence[Rule]) -> Verdict:
    failed = tuple(r.text for r in rules if r.holds(instances))
    return Verdict(passed=not failed, failed_rules=failed)


def pass_fail_confusion(truth_passed: Sequence[bool], predicted_passed: Sequence[bool]) -> dict:
    """2x2 counts, rows = truth, columns = prediction, in the order (pass, fail)."""
    matrix = [[0, 0], [0, 0]]
    for t, p in zip(truth_passed, predicted_passed, strict=True):
        matrix[0 if t else 1][0 if p else 1] += 1
    return {"labels": ["pass", "fail"], "rows": "truth", "columns": "predicted", "matrix": matrix}
