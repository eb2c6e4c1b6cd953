"""Building blocks for the Python configs in `experiments/`.

An experiment file defines `get_config(arg)` where `arg` is a comma-separated
list such as ``"method=unimatch,budget=1/8,seed=0,smoke"``. `parse_arg` turns it
into a dict with typed defaults; `base_config` gives the full schema that every
run has, so a typo in an override is an error rather than a silently new key.
"""

from __future__ import annotations

import ml_collections

from ssseg.errors import ConfigError
from ssseg.methods.contract import get_method
from ssseg.models.defaults import MODEL_DEFAULTS


def parse_arg(arg: str | None, **defaults) -> ml_collections.ConfigDict:
    """Parse ``"k=v,flag"`` into a ConfigDict typed after `defaults`.

    A bare word sets a boolean default to True (``smoke``). Unknown keys are an
    error that lists the valid ones.
    """
    values = dict(defaults)
    for item in filter(None, (s.strip() for s in (arg or "").split(","))):
        key, sep, raw = item.partition("=")
        if key not in defaults:
            raise ConfigError(f"config arg {key!r} is unknown; valid: {', '.join(sorted(defaults))}")
        default = defaults[key]
        if not sep:
            if not isinstance(default, bool):
                raise ConfigError(f"config arg {key!r} needs a value ({key}=...)")
            values[key] = True
        elif isinstance(default, bool):
            values[key] = raw.lower() in ("1", "true", "yes", "on")
        elif isinstance(default, int):
            try:
                values[key] = int(raw)
            except ValueError:
                raise ConfigError(f"config arg {key}={raw!r}: expected an integer") from None
        else:
            values[key] = raw
    return ml_collections.ConfigDict(values)


def method_defaults(name: str) -> ml_collections.ConfigDict:
    """The `config.method` sub-dict: `name` plus the method module's defaults()."""
    cfg = get_method(name).defaults()
    cfg.name = name
    return cfg


def base_config() -> ml_collections.ConfigDict:
    """Every key a run can have, with neutral defaults; experiments override."""
    c = ml_collections.ConfigDict()
    c.seed = 0
    c.init_from = ""  # workdir or checkpoint dir to initialise weights from

    c.data = ml_collections.ConfigDict()
    c.data.name = "synthetic_defects"
    c.data.manual_dir = ""
    c.data.data_dir = ""  # "" -> $TFDS_DATA_DIR or ~/tensorflow_datasets
    c.data.budget = "1/8"
    c.data.splits_dir = "experiments/splits"
    c.data.base_size = 96  # long side after resize, train and eval
    c.data.crop_size = 96
    c.data.scale_range = (0.5, 2.0)
    c.data.hflip = True
    c.data.vflip = False
    c.data.batch_size = 8
    c.data.unlabeled_batch_size = 8
    c.data.repeat_factor_thresh = 0.0  # >0: repeat rare-class labeled images (LVIS repeat-factor sampling)
    c.data.foreground_crop_prob = 0.0  # labeled crops moved onto a defect pixel with this probability (nnU-Net)
    c.data.eval_mode = "whole"  # or "sliding"
    c.data.eval_batch_size = 8
    c.data.worker_count = 0
    c.data.prefetch_threads = 2  # threads loading batches ahead of the step (each holds up to 2 batches)
    c.data.eval_canvas = 0  # side of the square eval canvas; 0: base_size

    c.model = ml_collections.ConfigDict(dict(MODEL_DEFAULTS))  # keys and defaults: ssseg/models/defaults.py

    c.optim = ml_collections.ConfigDict()
    c.optim.name = "adamw"
    c.optim.lr = 1e-3
    c.optim.momentum = 0.9
    c.optim.weight_decay = 1e-4
    c.optim.schedule = "poly"
    c.optim.warmup_steps = 0
    c.optim.power = 0.9
    c.optim.head_lr_mult = 1.0

    c.loss = ml_collections.ConfigDict()
    c.loss.name = "ce"
    c.loss.class_weight_power = 0.5  # wce: weight ∝ frequency^-power
    c.loss.focal_gamma = 2.0
    c.loss.dice_weight = 1.0
    # ohem: UniMatch's Cityscapes setting (configs/cityscapes.yaml); min_kept counts pixels per labeled batch
    c.loss.ohem_thresh = 0.7
    c.loss.ohem_min_kept = 200000

    c.method = method_defaults("supervised")

    c.train = ml_collections.ConfigDict()
    c.train.steps = 1000
    c.train.log_every = 20
    c.train.eval_every = 250
    c.train.checkpoint_every = 250
    c.train.keep_checkpoints = 2
    # "bfloat16": activations, convolutions and matmuls in bf16; parameters, optimizer state,
    # batch-norm statistics and losses stay float32 (models/factory.py: set_compute_options).
    c.train.compute_dtype = "float32"
    return c


def set_budget_and_method(c: ml_collections.ConfigDict, args: ml_collections.ConfigDict) -> None:
    """Apply the common `method=`, `budget=`, `seed=` config args."""
    c.method = method_defaults(args.method)
    c.data.budget = args.budget
    c.seed = args.seed


def shrink_for_smoke(c: ml_collections.ConfigDict, *, base_size: int = 48, crop_size: int = 32) -> None:
    """A few steps on tiny crops with a tiny model: for tests and quick checks
    of a config's plumbing (like big_vision's `runlocal`)."""
    c.data.base_size = base_size
    c.data.crop_size = crop_size
    c.data.batch_size = 2
    c.data.unlabeled_batch_size = 2
    c.data.eval_batch_size = 4
    c.model.width = 8
    c.optim.warmup_steps = 0
    c.train.steps = 4
    c.train.log_every = 2
    c.train.eval_every = 2
    c.train.checkpoint_every = 2


def fill_defaults(config: dict) -> dict:
    """A plain (JSON) config with the keys it lacks taken from today's defaults for its
    method: a run written before a key existed reads as having that key's default, which
    by the rule for adding keys reproduces the old behaviour. Unknown methods get the
    base defaults only."""
    import json

    def merge(base: dict, over: dict) -> dict:
        out = dict(base)
        for key, value in over.items():
            out[key] = merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
        return out

    defaults = base_config().to_dict()
    method = (config.get("method") or {}).get("name")
    if method:
        try:
            defaults["method"] = method_defaults(str(method)).to_dict()
        except (ConfigError, ImportError):
            pass
    # JSON round trip: tuples in the defaults compare equal to the lists of a config.json.
    return json.loads(json.dumps(merge(defaults, config)))
