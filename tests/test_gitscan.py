"""Internals of history scanning: changed regions cover every added line, and the two walkers agree."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scanner.gitscan import changed_regions
from scanner.sources import git as git_source
from scanner.sources.files import Skips
from scanner.sources.git import BlobTask, MessageTask, WalkStats, history_tips, open_repository


def added_lines(old: bytes, new: bytes) -> frozenset[int]:
    """Git's own idea of the added lines (libgit2's diff): the reference the regions are checked against."""
    import pygit2

    patch = pygit2.Patch.create_from(old, new, context_lines=0)
    return frozenset(line.new_lineno for hunk in patch.hunks for line in hunk.lines if line.origin == "+")


lines = st.lists(st.sampled_from([b"alpha", b"beta", b"gamma", b"", b"token = x", b"delta" * 30]), max_size=60)


@settings(max_examples=300, deadline=None)
@given(lines, lines, st.booleans())
def test_changed_regions_cover_every_new_line(old_lines: list[bytes], new_lines: list[bytes], big: bool) -> None:
    if big:  # past LARGE_REGION: the line-set narrowing path
        old_lines, new_lines = old_lines * 40, new_lines * 40
    old, new = b"\n".join(old_lines) + b"\n", b"\n".join(new_lines) + b"\n"
    new_by_number = new.split(b"\n")
    covered: dict[int, bytes] = {}
    for region, first in changed_regions(old, new):
        for offset, text in enumerate(region.split(b"\n")):
            covered.setdefault(first + offset, text)
    known = set(old.split(b"\n"))
    for number in added_lines(old, new):
        # Content the old version already had at this path was scanned then (a moved or duplicated line).
        if new_by_number[number - 1] not in known:
            assert number in covered, number
            assert covered[number] == new_by_number[number - 1]


def _git(cwd: Path, *args: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(
        GIT_AUTHOR_NAME="A",
        GIT_AUTHOR_EMAIL="a@example.invalid",
        GIT_COMMITTER_NAME="A",
        GIT_COMMITTER_EMAIL="a@example.invalid",
        GIT_AUTHOR_DATE="1700000000 +0000",
        GIT_COMMITTER_DATE="1700000000 +0000",
        GIT_CONFIG_GLOBAL=os.devnull,
        GIT_CONFIG_NOSYSTEM="1",
    )
    subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True)


def test_git_log_and_libgit2_walks_agree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo_dir = tmp_path / "repo"
    repo_dir.mkdir()
    _git(repo_dir, "-c", "init.defaultBranch=main", "init", "-q")
    for i in range(12):
        (repo_dir / f"f{i % 4}.txt").write_text(f"version {i}\n" * (i + 1))
        (repo_dir / "moved").mkdir(exist_ok=True)
        if i == 5:
            _git(repo_dir, "mv", "f1.txt", "moved/f1.txt")
        _git(repo_dir, "add", "-A")
        _git(repo_dir, "commit", "-q", "-m", f"commit {i}")
        if i == 6:
            _git(repo_dir, "checkout", "-q", "-b", "side")
            (repo_dir / "side.txt").write_text("side\n")
            _git(repo_dir, "add", "-A")
            _git(repo_dir, "commit", "-q", "-m", "side")
            _git(repo_dir, "checkout", "-q", "main")
    _git(repo_dir, "merge", "-q", "--no-ff", "-m", "merge side", "side")

    def walk() -> tuple[list[tuple[str, str, str]], list[str]]:
        repo = open_repository(str(repo_dir))
        skips = Skips()
        items = list(git_source.walk_commits(repo, history_tips(repo, skips), [], skips, WalkStats()))
        blobs = sorted((i.oid, i.path, i.commit) for i in items if isinstance(i, BlobTask))
        messages = sorted(i.content.decode() for i in items if isinstance(i, MessageTask))
        return blobs, messages

    assert git_source._git_log_usable()
    with_git = walk()
    monkeypatch.setattr(git_source, "_git_log_usable", lambda: False)
    assert walk() == with_git
    assert len(with_git[0]) >= 13 and len(with_git[1]) == 14
