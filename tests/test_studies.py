"""The studies under experiments/studies/: their sweeps load and build, the commands
their READMEs quote run, and the links of every README resolve."""

import fnmatch
import re
import shlex
from pathlib import Path

import pytest

from ssseg.config.loader import import_experiment, load_config
from ssseg.sweeps.grid import SweepError, load_sweep
from ssseg.sweeps.runner import format_override, resolve_overrides

STUDIES = Path("experiments/studies")
SWEEP_FILES = sorted(STUDIES.glob("*/sweep.py"))
READMES = [Path("README.md"), *sorted(Path("experiments").rglob("README.md"))]
MARKDOWN = [Path("README.md"), *sorted(Path("experiments").rglob("*.md"))]


def test_every_study_has_a_readme_and_the_sweeps_are_found():
    folders = sorted(p for p in STUDIES.iterdir() if p.is_dir() and p.name != "__pycache__")
    assert {p.name for p in folders} >= {"semi", "semi_lr", "semi_lr_m99", "pretrain_lr", "pretrain",
                                         "active_magnetic_tile"}
    assert all((p / "README.md").is_file() for p in folders)
    assert {p.parent.name for p in SWEEP_FILES} == {"semi", "semi_lr", "semi_lr_m99", "pretrain_lr", "pretrain"}


@pytest.mark.parametrize("path", SWEEP_FILES, ids=lambda p: p.parent.name)
def test_study_sweeps_load_and_every_cell_config_builds(path):
    names = import_experiment(str(path)).SWEEPS
    assert path.parent.name in names
    for name in names:
        config_file, cells = load_sweep(f"{path}:{name}")
        assert config_file == str(path) and cells
        for cell in cells:
            overrides = [format_override(k, v) for k, v in resolve_overrides(cell, "runs/x").items()]
            cfg = load_config(f"{config_file}:{cell.config_arg}", overrides)
            assert cfg.data.name == "magnetic_tile" and cfg.seed == cell.grid["seed"]
    with pytest.raises(SweepError, match=f"studies/{path.parent.name}/sweep.py"):
        load_sweep(f"{path}:main")


def test_magnetic_tile_exposes_only_main_ablation_and_losses():
    assert len(load_sweep("experiments/magnetic_tile.py:main")[1]) == 3 + 7 * 3 * 3 + 2 * 3
    assert len(load_sweep("experiments/magnetic_tile.py:ablation")[1]) == 6 * 3
    assert len(load_sweep("experiments/magnetic_tile.py:losses")[1]) == 6 * 3
    for path in SWEEP_FILES:
        for name in import_experiment(str(path)).SWEEPS:
            with pytest.raises(SweepError, match="expected main, ablation or losses"):
                load_sweep(f"experiments/magnetic_tile.py:{name}")


def _sweep_commands(text):
    """Every `ssseg sweep SPEC ... [--only GLOB]` line of a Markdown file (continuations joined)."""
    text = text.replace("\\\n", " ")
    for line in text.splitlines():
        if "ssseg sweep " not in line:
            continue
        command = line[line.index("ssseg sweep "):].split("`")[0].split(" #")[0]
        words = shlex.split(command)
        only = words[words.index("--only") + 1] if "--only" in words else None
        if "--verify" in words:  # a cell name, matched exactly
            only = words[words.index("--verify") + 1].replace("[", "[[]")
        yield words[2], only


@pytest.mark.parametrize("readme", READMES, ids=str)
def test_quoted_sweep_commands_name_real_sweeps_and_cells(readme):
    for spec, only in _sweep_commands(readme.read_text()):
        if "<" in spec or ".py" not in spec:  # a placeholder: experiments/x.py:<name>, `ssseg sweep …`
            continue
        _, cells = load_sweep(spec)
        if only:
            pattern = only if any(c in only for c in "*?[") else f"*{only}*"
            assert any(fnmatch.fnmatchcase(c.name, pattern) for c in cells), (readme, spec, only)


_LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")


@pytest.mark.parametrize("readme", MARKDOWN, ids=str)
def test_relative_links_resolve(readme):
    for target in _LINK.findall(readme.read_text()):
        if re.match(r"^[a-z]+://|^#|^mailto:", target):
            continue
        path = (readme.parent / target.split("#")[0]).resolve()
        assert path.exists(), f"{readme}: link {target!r} points to nothing"
