"""Config loading: arg parsing, typed overrides, unknown keys listed."""

import pytest

from ssseg.config.loader import load_config
from ssseg.errors import ConfigError

SYN = "experiments/synthetic_defects.py"


def test_arg_and_overrides_are_typed():
    cfg = load_config(f"{SYN}:budget=1/4,seed=3", ["--config.train.steps=7", "--config.optim.lr", "0.5",
                                                   "--config.data.hflip=false", "--config.data.scale_range=(1.0, 2.0)"])
    assert cfg.data.budget == "1/4" and cfg.seed == 3
    assert cfg.train.steps == 7 and cfg.optim.lr == 0.5
    assert cfg.data.hflip is False and tuple(cfg.data.scale_range) == (1.0, 2.0)


def test_unknown_override_key_lists_valid_keys():
    with pytest.raises(ConfigError, match=r"--config.train.stpes: unknown key; valid keys: .*train.steps"):
        load_config(SYN, ["--config.train.stpes=3"])


def test_bad_override_value_names_key_and_type():
    with pytest.raises(ConfigError, match=r"--config.train.steps='many': expected a int"):
        load_config(SYN, ["--config.train.steps=many"])


def test_unknown_config_arg_and_method():
    with pytest.raises(ConfigError, match="config arg 'budgt' is unknown"):
        load_config(f"{SYN}:budgt=1/8")
    with pytest.raises(ConfigError, match="config.method.name='nope': no such method"):
        load_config(f"{SYN}:method=nope")


def test_missing_config_file():
    with pytest.raises(ConfigError, match="experiments/nope.py"):
        load_config("experiments/nope.py:seed=0")


def test_config_is_locked_against_new_keys():
    cfg = load_config(SYN)
    with pytest.raises(AttributeError):
        cfg.train.stpes = 3
