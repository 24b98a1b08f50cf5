"""Ignore rules apply to untracked files only, as in git (issue #18 item 7): a directory scan of a repository
scans every file in the index whatever ``.gitignore`` says, and still skips the untracked files it ignores.
Checked against git's own list (``git ls-files --cached --others --exclude-standard``) on real repositories."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from gitrepo import EPOCH, Repo, isolate_git
from helpers import MakeConfig, RunCli
from tokens import TokenFactory

from scanner.gitdir import find_repository
from scanner.sources.gitignores import tracked_paths


@pytest.fixture(autouse=True)
def _git_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    isolate_git(monkeypatch, tmp_path / "home")
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    return Repo.init(tmp_path / "repo", clock=[EPOCH])


def plant(repo: Repo, tokens: TokenFactory, *paths: str) -> None:
    repo.write({rel: f"GITHUB_TOKEN={tokens.github_clean()}\n" for rel in paths})


def scanned(run_cli: RunCli, config: Path, path: Path, *flags: str) -> set[str]:
    code, out, err = run_cli("scan", "--format", "json", "--config", config, *flags, path)
    assert err == "" and code in (0, 1)
    return {os.path.relpath(f["location"]["path"], path) for f in json.loads(out)["findings"]}


def git_sees(path: Path) -> set[str]:
    """Every file git shows in ``path``: tracked, and untracked but not ignored (the .gitignore files aside)."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=path,
        capture_output=True,
        text=True,
        check=True,
    )
    return {name for name in listed.stdout.split("\0") if name and not name.endswith(".gitignore")}


def build(repo: Repo, tokens: TokenFactory) -> None:
    """Tracked files that later ignore rules match (a file, a whole directory, a nested one), and untracked
    files beside them that the same rules do and do not match."""
    plant(repo, tokens, "k.env", "build/out.txt", "build/deep/gen.txt", "src/app.env", "src/main.txt")
    repo.git("add", "-A")
    repo.git("commit", "-q", "-m", "tracked")
    repo.write({".gitignore": "*.env\nbuild/\n", "src/.gitignore": "main.txt\n"})
    repo.git("add", ".gitignore", "src/.gitignore")
    repo.git("commit", "-q", "-m", "ignore")
    plant(repo, tokens, "new.env", "build/new.txt", "build/fresh/x.txt", "build/deep/new.txt", "src/other.env")
    plant(repo, tokens, "notes.txt", "src/lib.txt")


def test_tracked_files_are_scanned_whatever_gitignore_says(
    repo: Repo, tokens: TokenFactory, make_config: MakeConfig, run_cli: RunCli
) -> None:
    build(repo, tokens)
    found = scanned(run_cli, make_config(), repo.path)
    assert found == git_sees(repo.path)
    assert found == {
        "k.env", "build/out.txt", "build/deep/gen.txt", "src/app.env", "src/main.txt", "notes.txt", "src/lib.txt"
    }  # fmt: skip


def test_a_scan_of_a_subdirectory(repo: Repo, tokens: TokenFactory, make_config: MakeConfig, run_cli: RunCli) -> None:
    build(repo, tokens)
    assert scanned(run_cli, make_config(), repo.path / "build") == {"out.txt", "deep/gen.txt"}
    assert scanned(run_cli, make_config(), repo.path / "src") == git_sees(repo.path / "src")


def test_exclude_applies_to_tracked_files_too(
    repo: Repo, tokens: TokenFactory, make_config: MakeConfig, run_cli: RunCli
) -> None:
    build(repo, tokens)
    found = scanned(run_cli, make_config(), repo.path, "--exclude", "build/", "--exclude", "k.env")
    assert found == {"src/app.env", "src/main.txt", "notes.txt", "src/lib.txt"}


def test_no_gitignore_scans_everything(
    repo: Repo, tokens: TokenFactory, make_config: MakeConfig, run_cli: RunCli
) -> None:
    build(repo, tokens)
    assert len(scanned(run_cli, make_config(), repo.path, "--no-gitignore")) == 12


def test_the_index_is_read_without_git(repo: Repo, tokens: TokenFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    build(repo, tokens)
    where = find_repository(str(repo.path))
    assert where is not None
    with_git = tracked_paths(where)
    assert "build/deep/gen.txt" in with_git and "new.env" not in with_git
    index = repo.path / ".git" / "index"
    good = index.read_bytes()
    index.write_bytes(b"not an index")
    assert tracked_paths(where) == frozenset()  # unreadable: ignore rules apply to every file, as before
    index.write_bytes(good)
    monkeypatch.setenv("PATH", str(repo.path / "no-such-bin"))  # no git: libgit2 reads the index
    assert tracked_paths(where) == with_git
    index.write_bytes(b"not an index")
    assert tracked_paths(where) == frozenset()
