# Quick start: `make demo` (set up, run the main job on embedded data), `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
# Two host "devices" on CPU: faster on 2 cores, and exercises the sharding code.
export XLA_FLAGS ?= --xla_force_host_platform_device_count=2
export TFDS_DATA_DIR ?= $(CURDIR)/runs/tensorflow_datasets
# Persistent XLA cache: a re-run (demo, tests) skips the 3-5 s compiles it has seen.
export JAX_COMPILATION_CACHE_DIR ?= $(CURDIR)/runs/jax_cache
export JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS ?= 0.5

.PHONY: setup browser demo test test-slow bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[dev]"
	touch $(STAMP)

demo: setup
	$(PY) -m ssseg sweep experiments/synthetic_defects.py:demo --root runs/demo
	$(PY) -m ssseg report runs/demo --out runs/demo/report
	@echo "demo: the three regimes at 1/8 and the full-label reference, one seed, demo preset (64-px crops, 500 steps: a tour, not a result)"
	@echo "demo: table runs/demo/report/miou.md, plot runs/demo/report/defect_miou_vs_budget.png, all figures in runs/demo/report/report.md"

# The review page is tested in a real headless browser: Chromium and its driver from Debian's packages.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
browser:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || \
	  { $(SUDO) apt-get update -qq && $(SUDO) DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; }

test: setup browser
	$(PY) -m pytest -q -n 2 --durations=20

test-slow: setup browser
	$(PY) -m pytest -q -m slow

bench: setup
	$(PY) -m ssseg bench --config experiments/magnetic_tile.py:method=supervised

clean:
	rm -rf runs .pytest_cache
