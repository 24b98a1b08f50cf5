"""Directory scans of a repository ignore what git ignores: ``.gitignore`` files (also those above the scanned
directory), ``$GIT_DIR/info/exclude`` and ``core.excludesFile`` (default ``$XDG_CONFIG_HOME/git/ignore``, else
``~/.config/git/ignore``); ``--no-gitignore`` turns them all off. Checked against git's own answer on real
repositories."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from gitrepo import EPOCH, Repo, isolate_git
from helpers import MakeConfig, RunCli
from tokens import TokenFactory

from scanner.gitdir import default_excludes_file, find_repository
from tests.test_git import env_line


@pytest.fixture(autouse=True)
def _git_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    isolate_git(monkeypatch, tmp_path / "home")
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    return Repo.init(tmp_path / "repo", clock=[EPOCH])


def plant(root: Path, tokens: TokenFactory, *paths: str) -> None:
    """A token in each file, so a finding says the file was scanned."""
    for rel in paths:
        target = root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(env_line(tokens.github_clean()), encoding="utf-8")


def scanned(run_cli: RunCli, config: Path, path: Path, *flags: str) -> set[str]:
    """The files a directory scan found a token in, relative to ``path``."""
    _, out, err = run_cli("scan", "--format", "json", "--config", config, *flags, path)
    assert err == ""
    found = {f["location"]["path"] for f in json.loads(out)["findings"]}
    return {os.path.relpath(p, path) for p in found}


def git_untracked(path: Path) -> set[str]:
    """What git would add from ``path``: the untracked files it does not ignore (but the .gitignore files)."""
    listed = subprocess.run(
        ["git", "ls-files", "--others", "--exclude-standard"], cwd=path, capture_output=True, text=True, check=True
    )
    return {name for name in listed.stdout.split() if not name.endswith(".gitignore")}


FILES = ("keep.env", "info.env", "user.env", "sub/parent.env", "sub/deep/anchored.env", "sub/deep/back.env", "x.log")


def layered_ignores(repo: Repo, user_file: Path) -> None:
    """Patterns in all three places git reads, with a negation across them."""
    user_file.parent.mkdir(parents=True, exist_ok=True)
    user_file.write_text("user.env\n*.log\n", encoding="utf-8")
    (repo.path / ".git" / "info" / "exclude").write_text(
        "# repository-local\ninfo.env\n/sub/deep/anchored.env\nback.env\n", encoding="utf-8"
    )
    (repo.path / "sub").mkdir(exist_ok=True)
    (repo.path / "sub" / ".gitignore").write_text("parent.env\n!back.env\n", encoding="utf-8")


@pytest.mark.parametrize("where", ["xdg", "home", "config"])
def test_a_scan_of_the_top_skips_what_git_ignores(
    repo: Repo, tmp_path: Path, run_cli: RunCli, make_config: MakeConfig, tokens: TokenFactory,
    monkeypatch: pytest.MonkeyPatch, where: str,
) -> None:  # fmt: skip
    user_file = {
        "xdg": tmp_path / "xdg" / "git" / "ignore",
        "home": tmp_path / "home" / ".config" / "git" / "ignore",
        "config": tmp_path / "home" / "my-ignores",
    }[where]
    if where == "xdg":
        monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    if where == "config":
        repo.git("config", "core.excludesFile", "~/my-ignores")  # git expands ~
    plant(repo.path, tokens, *FILES)
    layered_ignores(repo, user_file)

    found = scanned(run_cli, make_config(), repo.path)

    assert found == git_untracked(repo.path) == {"keep.env", "sub/deep/back.env"}
    everything = scanned(run_cli, make_config(), repo.path, "--no-gitignore")
    assert everything == set(FILES)


def test_a_scan_of_a_subdirectory_reads_the_ignore_files_above_it(
    repo: Repo, tmp_path: Path, run_cli: RunCli, make_config: MakeConfig, tokens: TokenFactory
) -> None:
    plant(repo.path, tokens, *FILES)
    layered_ignores(repo, tmp_path / "home" / ".config" / "git" / "ignore")
    sub = repo.path / "sub"

    found = scanned(run_cli, make_config(), sub)

    # Anchored patterns stay anchored at the repository's top; git agrees from inside the subdirectory.
    assert found == {os.path.relpath(repo.path / p, sub) for p in git_untracked(repo.path) if p.startswith("sub/")}
    assert found == {"deep/back.env"}


def test_a_set_core_excludes_file_replaces_the_default(
    repo: Repo, tmp_path: Path, run_cli: RunCli, make_config: MakeConfig, tokens: TokenFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    (tmp_path / "xdg" / "git").mkdir(parents=True)
    (tmp_path / "xdg" / "git" / "ignore").write_text("default.env\n", encoding="utf-8")
    (tmp_path / "mine").write_text("mine.env\n", encoding="utf-8")
    repo.git("config", "core.excludesFile", str(tmp_path / "mine"))
    plant(repo.path, tokens, "default.env", "mine.env")

    assert scanned(run_cli, make_config(), repo.path) == git_untracked(repo.path) == {"default.env"}

    repo.git("config", "core.excludesFile", "")  # set, but to nothing: no user-wide file at all
    assert scanned(run_cli, make_config(), repo.path) == git_untracked(repo.path) == {"default.env", "mine.env"}


def test_a_linked_worktree_reads_the_main_repository_info_exclude(
    repo: Repo, tmp_path: Path, run_cli: RunCli, make_config: MakeConfig, tokens: TokenFactory
) -> None:
    repo.commit("initial", {"README.md": "# app\n"})
    (repo.path / ".git" / "info" / "exclude").write_text("local.env\n", encoding="utf-8")
    worktree = tmp_path / "wt"
    repo.git("worktree", "add", "-q", str(worktree), "-b", "wt")
    plant(worktree, tokens, "local.env", "other.env")

    assert scanned(run_cli, make_config(), worktree) == git_untracked(worktree) == {"other.env"}


def test_outside_a_repository_only_gitignore_files_count(
    tmp_path: Path, run_cli: RunCli, make_config: MakeConfig, tokens: TokenFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    (tmp_path / "xdg" / "git").mkdir(parents=True)
    (tmp_path / "xdg" / "git" / "ignore").write_text("user.env\n", encoding="utf-8")
    plant(tmp_path / "plain", tokens, "user.env", "ignored.env")
    (tmp_path / "plain" / ".gitignore").write_text("ignored.env\n", encoding="utf-8")

    assert scanned(run_cli, make_config(), tmp_path / "plain") == {"user.env"}


def test_without_git_the_default_user_file_still_counts(
    repo: Repo, tmp_path: Path, run_cli: RunCli, make_config: MakeConfig, tokens: TokenFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    (tmp_path / "home" / ".config" / "git").mkdir(parents=True)
    (tmp_path / "home" / ".config" / "git" / "ignore").write_text("user.env\n", encoding="utf-8")
    (tmp_path / "mine").write_text("keep.env\n", encoding="utf-8")
    repo.git("config", "core.excludesFile", str(tmp_path / "mine"))
    plant(repo.path, tokens, "user.env", "keep.env")
    config = make_config()
    assert scanned(run_cli, config, repo.path) == {"user.env"}

    monkeypatch.setenv("PATH", str(tmp_path / "no-git-here"))  # `git config` cannot run: its default applies
    assert scanned(run_cli, config, repo.path) == {"keep.env"}


def test_the_config_can_turn_them_off_too(
    repo: Repo, run_cli: RunCli, make_config: MakeConfig, tokens: TokenFactory
) -> None:
    (repo.path / ".git" / "info" / "exclude").write_text("info.env\n", encoding="utf-8")
    plant(repo.path, tokens, "info.env")

    assert scanned(run_cli, make_config(), repo.path) == set()
    assert scanned(run_cli, make_config(respect_gitignore=False), repo.path) == {"info.env"}


def test_the_default_user_file_follows_git() -> None:
    assert default_excludes_file({"XDG_CONFIG_HOME": "/x", "HOME": "/h"}) == "/x/git/ignore"
    assert default_excludes_file({"XDG_CONFIG_HOME": "", "HOME": "/h"}) == "/h/.config/git/ignore"
    assert default_excludes_file({}) == ""


def test_a_dot_git_file_that_names_no_git_dir_ends_the_search(tmp_path: Path) -> None:
    (tmp_path / "outer" / ".git").mkdir(parents=True)  # a repository above, which git would not reach either
    inner = tmp_path / "outer" / "inner"
    inner.mkdir()
    (inner / ".git").write_text("not a gitdir line\n", encoding="utf-8")
    assert find_repository(str(inner)) is None
    (inner / ".git").write_bytes(b"gitdir: \xff\xfe\n")  # not text
    assert find_repository(str(inner)) is None
    (inner / ".git").unlink()
    found = find_repository(str(inner))
    assert found is not None and found.top == tmp_path / "outer" and found.common_dir == found.git_dir
