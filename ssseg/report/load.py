"""Read finished runs: result.json files under a root, their metrics.jsonl, grid coordinates."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path
from typing import Any, Sequence

from ssseg.errors import SsSegError


class ReportError(SsSegError):
    """Results cannot be read or cannot be put in one table."""


def load_results(root: str | Path) -> list[dict]:
    """Every ``<root>/**/result.json``, sorted by path: run folders and ledger records alike.

    Each dict gains ``workdir`` (str), ``name`` (workdir name), ``grid`` (the
    cell's grid coordinates from ``<root>/sweep_cells.json``, or from a ledger
    record's ``cell`` entry; ``{}`` if not a sweep), ``overrides`` (the cell's
    config overrides, from the same place) and ``order`` (position in the
    sweep, or None).
    """
    root = Path(root)
    if not root.is_dir():
        raise ReportError(f"results root {str(root)!r} is not a directory")
    cells, order = _sweep_cells(root)
    results = []
    for path in sorted(root.rglob("result.json")):
        try:
            result = json.loads(path.read_text())
        except json.JSONDecodeError as e:
            raise ReportError(f"{path}: not valid JSON ({e})") from None
        name = path.parent.name
        recorded = result.get("cell") or {}  # a ledger record carries its cell
        result["workdir"] = str(path.parent)
        result["name"] = name
        result["grid"] = dict(cells.get(name, {}).get("grid", recorded.get("grid", {})))
        result["overrides"] = dict(cells.get(name, {}).get("overrides", recorded.get("overrides", {})))
        result["order"] = order.get(name, recorded.get("order"))
        results.append(result)
    return results


def load_many(roots: Sequence[str | Path]) -> list[dict]:
    """:func:`load_results` of several roots (sweep roots, ledgers), a cell found twice with
    the same config (its run folder and its ledger record) counted once: the first root's."""
    from ssseg.sweeps.ledger import config_difference, with_root_token

    kept: list[dict] = []
    for root in roots:
        for result in load_results(root):
            config = with_root_token(result.get("config", {}), Path(result["workdir"]).parent)
            same = [k for k in kept if k["name"] == result["name"]
                    and config_difference(k["_config"], config) is None]
            if not same:
                kept.append({**result, "_config": config})
    return [{k: v for k, v in r.items() if k != "_config"} for r in kept]


def _sweep_cells(root: Path) -> tuple[dict, dict]:
    path = root / "sweep_cells.json"
    if not path.is_file():
        return {}, {}
    data = json.loads(path.read_text())
    return data.get("cells", {}), {n: i for i, n in enumerate(data.get("order", []))}


def load_metrics(workdir: str | Path) -> list[dict]:
    """The records of ``<workdir>/metrics.jsonl`` (empty if the run logged none)."""
    path = Path(workdir) / "metrics.jsonl"
    if not path.is_file():
        return []
    lines = path.read_text().splitlines()
    records = []
    for i, line in enumerate(lines, 1):
        if line.strip():
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                # A run killed mid-write leaves a partial last line; earlier lines are fine.
                if i < len(lines):
                    raise ReportError(f"{path}:{i}: not valid JSON") from None
    return records


def coordinate(result: dict, key: str) -> Any:
    """A run's value for ``key``: its grid, then result.json's top level, then its config."""
    if key in result.get("grid", {}):
        return result["grid"][key]
    if key in result:
        return result[key]
    node: Any = result.get("config", {})
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            raise ReportError(f"run {result.get('name')!r} has no {key!r} "
                              f"(not in its grid, result.json or config)")
        node = node[part]
    return node


def budget_sort_key(budget: Any) -> tuple:
    """Fractions ascending (1/16 < 1/8 < 1/2), then label counts ascending, then ``full``."""
    text = str(budget)
    if text == "full":
        return (2, 0, text)
    try:
        if "/" in text:
            return (0, Fraction(text), text)
        return (1, int(text), text)
    except (ValueError, ZeroDivisionError):
        return (3, 0, text)


MODEL_CHOICES = ("reported", "student", "val_best")
VAL_BEST_RULE = "the network with the higher val mIoU"


def select_model(results: list[dict], model: str = "reported") -> list[dict]:
    """Runs scored by one network: "reported" keeps result.json's headline (the EMA
    teacher where a run has one); "student" takes every run's student, so a
    teacher-student method meets its baseline without the teacher's weight averaging;
    "val_best" takes, per run, the network (teacher or student) with the higher val
    mIoU at the same checkpoint (the headline on a tie), a choice made without the
    test split. Runs with one network keep it."""
    if model == "reported":
        return list(results)
    if model not in MODEL_CHOICES:
        raise ReportError(f"model {model!r}: expected one of {', '.join(MODEL_CHOICES)}")
    out = []
    for r in results:
        networks = r.get("models", {})
        if model == "val_best":
            chosen = networks[_best_on_val(r)] if networks else {}
            out.append({**r, **chosen, "network_rule": VAL_BEST_RULE})
            continue
        if not networks.get(model):
            raise ReportError(f"{r['workdir']}/result.json has no {model!r} scores under 'models'")
        out.append({**r, **networks[model]})
    return out


def _best_on_val(result: dict) -> str:
    networks = result["models"]
    missing = [name for name, scores in networks.items() if "miou" not in scores.get("val", {})]
    if missing:
        raise ReportError(f"{result['workdir']}/result.json: network {missing[0]!r} has no val mIoU "
                          f"(models.{missing[0]}.val.miou) to choose by")
    headline = result.get("val", {}).get("model")
    # max() keeps the first of equals: the headline network first, so a tie keeps it.
    order = sorted(networks, key=lambda name: name != headline)
    return max(order, key=lambda name: networks[name]["val"]["miou"])


def is_zero_label(result: dict) -> bool:
    """Zero-label references (`ssseg classical`): no training, no checkpoint; rows of any table
    scored on the same data."""
    return str(result.get("regime", "")).startswith("zero-label:")


def is_pretraining(result: dict) -> bool:
    """Self-supervised pretraining runs feed other cells; they are no table rows."""
    return bool(result.get("grid", {}).get("pretrain")) or str(result.get("method", "")).startswith("pretrain")
