"""Load `experiments/<file>.py:<arg>` configs and apply `--config.a.b=v` overrides."""

from __future__ import annotations

import ast
import importlib.util
import json
import os
import re
import sys

import ml_collections

from ssseg.errors import ConfigError


def import_experiment(path: str):
    """Import an experiment file by path (experiments/ is not a package).

    The one loader of experiment files: dataset files (``experiments/<dataset>.py``)
    and study sweeps (``experiments/studies/<study>/sweep.py``) alike. The module
    name comes from the whole path, so the studies' many ``sweep.py`` stay apart.
    """
    if not os.path.isfile(path):
        raise ConfigError(f"config file {path!r} not found: expected a Python file defining get_config(arg)")
    stem = os.path.splitext(os.path.relpath(os.path.abspath(path)))[0]
    name = "ssseg_experiment_" + re.sub(r"\W", "_", stem)
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def split_spec(spec: str) -> tuple[str, str]:
    path, _, arg = spec.partition(":")
    return path, arg


def flat_keys(cfg: ml_collections.ConfigDict, prefix: str = "") -> list[str]:
    keys = []
    for k, v in cfg.items():
        if isinstance(v, ml_collections.ConfigDict):
            keys += flat_keys(v, f"{prefix}{k}.")
        else:
            keys.append(prefix + k)
    return keys


def _coerce(raw: str, current, key: str):
    """Parse `raw` to the type of the value it replaces."""
    try:
        if isinstance(current, bool):
            if raw.lower() not in ("1", "0", "true", "false", "yes", "no"):
                raise ValueError
            return raw.lower() in ("1", "true", "yes")
        if isinstance(current, int):
            return int(raw)
        if isinstance(current, float):
            return float(raw)
        if isinstance(current, str):
            return raw
        if isinstance(current, (tuple, list)):
            value = ast.literal_eval(raw)
            return tuple(value) if isinstance(value, (tuple, list)) else (value,)
        try:
            return ast.literal_eval(raw)
        except (ValueError, SyntaxError):
            return raw
    except (ValueError, SyntaxError):
        kind = type(current).__name__
        raise ConfigError(f"--config.{key}={raw!r}: expected a {kind} like {current!r}") from None


def apply_override(cfg: ml_collections.ConfigDict, key: str, raw: str) -> None:
    node = cfg
    parts = key.split(".")
    for i, part in enumerate(parts):
        is_last = i == len(parts) - 1
        if part not in node or (not is_last and not isinstance(node[part], ml_collections.ConfigDict)):
            raise ConfigError(f"--config.{key}: unknown key; valid keys: {', '.join(flat_keys(cfg))}")
        if is_last:
            with node.unlocked():
                node[part] = _coerce(raw, node[part], key)
        else:
            node = node[part]


def parse_overrides(argv: list[str]) -> list[tuple[str, str]]:
    """`--config.a.b=v` or `--config.a.b v` tokens -> [(a.b, v)]."""
    pairs, i = [], 0
    while i < len(argv):
        token = argv[i]
        if not token.startswith("--config."):
            raise ConfigError(f"unrecognised argument {token!r}: expected --config.<key>=<value>")
        key, sep, value = token[len("--config."):].partition("=")
        if not sep:
            if i + 1 >= len(argv):
                raise ConfigError(f"{token}: missing value")
            value, i = argv[i + 1], i + 1
        pairs.append((key, value))
        i += 1
    return pairs


def load_config(spec: str, overrides: list[tuple[str, str]] | list[str] = ()) -> ml_collections.ConfigDict:
    """`spec` is ``path.py[:arg]``; overrides are (key, value) pairs or raw tokens."""
    if overrides and isinstance(overrides[0], str):
        overrides = parse_overrides(list(overrides))
    path, arg = split_spec(spec)
    module = import_experiment(path)
    if not hasattr(module, "get_config"):
        raise ConfigError(f"config file {path!r} defines no get_config(arg)")
    cfg = module.get_config(arg)
    for key, raw in overrides:
        apply_override(cfg, key, raw)
    cfg.lock()
    return cfg


def config_to_json(cfg: ml_collections.ConfigDict) -> str:
    return json.dumps(to_plain(cfg), indent=2, sort_keys=True)


def to_plain(cfg) -> dict:
    """A ConfigDict as JSON-ready nested dicts (tuples become lists)."""
    return json.loads(cfg.to_json())
