"""Shared test set-up. Owners ADD fixtures here; keep them session-scoped and tiny."""

import os

# Two CPU "devices" (before JAX is imported anywhere): exercises the sharding code.
os.environ.setdefault("XLA_FLAGS", "--xla_force_host_platform_device_count=2")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
os.chdir(REPO_ROOT)  # configs name experiments/... relative to the repo root


@pytest.fixture(scope="session")
def smoke_config():
    """The tiny synthetic_defects config that core step tests share (one compile)."""
    from ssseg.config.loader import load_config

    return load_config("experiments/synthetic_defects.py:method=supervised,smoke")


def fabricated_labeled_batch(cfg, num_classes: int, seed: int = 0) -> dict:
    """A fixed labeled batch in the host→device format (uint8 images, int32 labels)."""
    rng = np.random.default_rng(seed)
    b, s = cfg.data.batch_size, cfg.data.crop_size
    labels = np.zeros((b, s, s), np.int32)
    labels[:, s // 4 : s // 2, s // 4 : s // 2] = 1
    labels[:, -4:, :] = num_classes - 1
    labels[:, 0, 0] = 255
    images = (rng.integers(60, 90, (b, s, s, 1)) + 80 * (labels[..., None] % 255 > 0)).astype(np.uint8)
    return {"image": images, "label": labels}


# --- data owner fixtures -----------------------------------------------------


def data_config(**overrides):
    """The schema's config.data (base_config) with test-sized defaults; tests override what they need."""
    from ssseg.config.schema import base_config

    cfg = base_config().data
    cfg.update(dict(name="synthetic_defects", base_size=96, crop_size=64, scale_range=(0.5, 2.0), hflip=True,
                    vflip=False, batch_size=4, unlabeled_batch_size=4, eval_mode="whole", eval_batch_size=8))
    cfg.update(overrides)
    return cfg


@pytest.fixture(scope="session")
def synthetic_data_dir(tmp_path_factory):
    """A TFDS data dir holding the built synthetic_defects dataset (built once, ~5 s)."""
    from ssseg.data.sources import make_builder, prepare

    data_dir = str(tmp_path_factory.mktemp("tfds_synthetic"))
    prepare(make_builder("synthetic_defects", data_dir=data_dir))
    return data_dir


@pytest.fixture(scope="session")
def synthetic_sources(synthetic_data_dir):
    """`DataSources` of the built synthetic_defects dataset."""
    from ssseg.data.sources import load_sources

    return load_sources(data_config(data_dir=synthetic_data_dir))


# --- core owner fixtures -------------------------------------------------------


@pytest.fixture(scope="session", autouse=True)
def _compilation_cache(tmp_path_factory):
    """Reuse identical XLA compilations across tests (and xdist workers of one run)."""
    import jax

    cache = os.environ.get("SSSEG_TEST_JAX_CACHE") or str(tmp_path_factory.getbasetemp().parent / "jax_cache")
    jax.config.update("jax_compilation_cache_dir", cache)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.2)


def smoke_train_config(data_dir: str, *extra: str):
    from ssseg.config.loader import load_config

    return load_config("experiments/synthetic_defects.py:method=supervised,smoke", [f"--config.data.data_dir={data_dir}", *extra])


@pytest.fixture(scope="session")
def smoke_run_dir(tmp_path_factory, synthetic_data_dir):
    """A finished 4-step supervised run on synthetic_defects (result.json, checkpoints)."""
    from ssseg.train.loop import run_training

    workdir = str(tmp_path_factory.mktemp("smoke_run"))
    run_training(smoke_train_config(synthetic_data_dir), workdir, show_progress=False)
    return workdir


# --- sweep/report owner fixtures ------------------------------------------------


@pytest.fixture(scope="session")
def synthetic_splits_dir(tmp_path_factory, synthetic_sources):
    """A temporary splits_dir with synthetic_defects budget 1/8, seed 0 (independent of committed splits)."""
    from ssseg.data.splits import generate_splits

    splits_dir = str(tmp_path_factory.mktemp("synthetic_splits"))
    generate_splits(synthetic_sources, ["1/8"], [0], splits_dir)
    return splits_dir


@pytest.fixture(scope="session")
def fixmatch_smoke_run_dir(tmp_path_factory, synthetic_data_dir, synthetic_splits_dir):
    """A finished 4-step FixMatch run on synthetic_defects at 1/8 (has unlabeled images and
    pseudo-labels), with the class-weighted unlabeled CE and distribution alignment, so the trainer's class
    counts are used."""
    from ssseg.config.loader import load_config
    from ssseg.train.loop import run_training

    splits_dir = synthetic_splits_dir
    cfg = load_config("experiments/synthetic_defects.py:method=fixmatch,budget=1/8,smoke",
                      [f"--config.data.data_dir={synthetic_data_dir}", f"--config.data.splits_dir={splits_dir}",
                        "--config.method.class_weight_power=0.25", "--config.method.distribution_alignment=True"])
    workdir = str(tmp_path_factory.mktemp("fixmatch_smoke_run"))
    run_training(cfg, workdir, show_progress=False)
    return workdir
