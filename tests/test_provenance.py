"""The commit and dirty flag recorded with every result."""

import subprocess

from ssseg.train.provenance import git_commit, git_dirty


def _git(repo, *args):
    subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True)


def test_commit_and_dirty_flag_of_a_checkout(tmp_path):
    _git(tmp_path, "init", "-q")
    (tmp_path / "a.py").write_text("x = 1\n")
    _git(tmp_path, "add", "a.py")
    _git(tmp_path, "-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", "one")
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=tmp_path, capture_output=True, text=True).stdout.strip()
    assert git_commit(str(tmp_path)) == head and len(head) == 40
    assert git_dirty(str(tmp_path)) is False
    (tmp_path / "untracked.txt").write_text("not part of the code\n")
    assert git_dirty(str(tmp_path)) is False
    (tmp_path / "a.py").write_text("x = 2\n")
    assert git_dirty(str(tmp_path)) is True


def test_outside_git_both_are_none(tmp_path):
    assert git_commit(str(tmp_path)) is None and git_dirty(str(tmp_path)) is None
