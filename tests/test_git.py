"""The git modes of ``leakstop scan`` on real repositories built with the ``git`` CLI in ``tmp_path``.

Every repository has a pinned author, committer and clock (each git call advances the clock by a minute), so
commit ids and dates are the same on every run; secrets are generated per test (``tokens``). Scans run through
``scanner.cli.main`` with ``--format json --show-secrets`` so a test can tell its tokens apart, and a config
holding only the built-in ``github-pat`` rule.
"""

from __future__ import annotations

import io
import json
import multiprocessing
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from gitrepo import AUTHOR, EPOCH, ZERO, Repo, isolate_git
from helpers import MakeConfig, RunCli
from tokens import TokenFactory


@pytest.fixture(autouse=True)
def _git_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    isolate_git(monkeypatch, tmp_path / "home")


@pytest.fixture
def new_repo(tmp_path: Path) -> Callable[..., Repo]:
    clock = [EPOCH]

    def make(name: str = "repo", *args: str) -> Repo:
        return Repo.init(tmp_path / name, *args, clock=clock)

    return make


@pytest.fixture
def repo(new_repo: Callable[..., Repo]) -> Repo:
    return new_repo()


@pytest.fixture
def config(make_config: MakeConfig) -> Path:
    return make_config()


Scan = Callable[..., tuple[int, dict[str, Any], str]]


@pytest.fixture
def scan(run_cli: RunCli, config: Path) -> Scan:
    """``scan(path, *flags) -> (exit code, parsed JSON report or {}, stderr)``."""

    def run(path: Path, *flags: str) -> tuple[int, dict[str, Any], str]:
        code, out, err = run_cli("scan", "--format", "json", "--show-secrets", "--config", config, *flags, path)
        return code, (json.loads(out) if out.strip() else {}), err

    return run


def secrets(report: dict[str, Any]) -> list[str]:
    return sorted(f["secret"] for f in report["findings"])


def by_secret(report: dict[str, Any], token: str) -> list[dict[str, Any]]:
    return [f["location"] for f in report["findings"] if f["secret"] == token]


def issue_reasons(report: dict[str, Any]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for issue in report["issues"]:
        found.setdefault(issue["reason"], []).append(issue["path"])
    return found


def env_line(token: str, name: str = "GITHUB_TOKEN") -> str:
    return f"{name}={token}\n"


def assert_one_line_error(err: str, *needles: str) -> None:
    assert err.count("\n") == 1, err
    assert err.startswith("leakstop: error: "), err
    for needle in needles:
        assert needle in err, (needle, err)


# --- full history ---


def test_history_finds_a_secret_added_then_deleted(repo: Repo, scan: Scan, tokens: TokenFactory) -> None:
    token = tokens.github_clean()
    repo.commit("initial", {"README.md": "# app\n"})
    added = repo.commit("add deploy config", {"deploy/ci.env": "USER=ci\n" + env_line(token)}, author=("Bob", "b@x.y"))
    repo.git("rm", "-q", "deploy/ci.env")
    repo.commit("remove the token again")

    code, report, err = scan(repo.path, "--history")

    assert code == 1, err
    assert report["target"] == "git"
    assert report["target_detail"].startswith("3 commits")
    [location] = by_secret(report, token)
    assert location["path"] == "deploy/ci.env"
    assert location["commit"] == added
    assert (location["author"], location["email"], location["where"]) == ("Bob", "b@x.y", "blob")
    assert (location["line"], location["column"]) == (2, 14)
    assert len(report["findings"]) == 1


def test_history_attributes_a_renamed_secret_once_to_the_introducing_commit_and_path(
    repo: Repo, scan: Scan, tokens: TokenFactory
) -> None:
    token = tokens.github_clean()
    repo.commit("initial", {"README.md": "# app\n"})
    introduced = repo.commit("add", {"old/settings.env": env_line(token)})
    repo.git("mv", "old/settings.env", "new-settings.env")
    repo.commit("rename")
    (repo.path / "conf").mkdir()
    repo.git("mv", "new-settings.env", "conf/prod.env")
    repo.commit("rename again")

    code, report, _ = scan(repo.path, "--history")

    assert code == 1
    assert [(loc["path"], loc["commit"]) for loc in by_secret(report, token)] == [("old/settings.env", introduced)]
    assert report["summary"]["skipped"]["duplicate-blob"] >= 2  # the two renames are counted, not rescanned


def test_history_finds_a_secret_that_lives_only_on_another_branch(repo: Repo, scan: Scan, tokens: TokenFactory) -> None:
    token = tokens.github_clean()
    repo.commit("initial", {"README.md": "# app\n"})
    repo.git("switch", "-q", "-c", "experiment")
    on_branch = repo.commit("try something", {"try.py": f"TOKEN = '{token}'\n"})
    repo.git("switch", "-q", "main")

    code, report, _ = scan(repo.path, "--history")
    assert code == 1
    assert [loc["commit"] for loc in by_secret(report, token)] == [on_branch]

    code, report, _ = scan(repo.path)  # the working tree (main) does not have it
    assert (code, report["findings"]) == (0, [])


def test_history_scans_commit_messages_and_annotated_tag_messages(repo: Repo, scan: Scan, tokens: TokenFactory) -> None:
    in_commit, in_tag = tokens.github_clean(), tokens.github_clean()
    repo.commit("initial", {"README.md": "# app\n"})
    bad_message = repo.commit(f"debug login\n\nused GITHUB_TOKEN={in_commit} to test", {"a.txt": "a\n"})
    tagged = repo.commit("release", {"b.txt": "b\n"})
    repo.git("tag", "-a", "v1.0", "-m", f"Release 1.0\n\nci token: {in_tag}")
    repo.git("tag", "light")  # a lightweight tag has no message of its own

    code, report, _ = scan(repo.path, "--history")

    assert code == 1
    [commit_loc] = by_secret(report, in_commit)
    assert (commit_loc["path"], commit_loc["where"], commit_loc["commit"]) == (
        "<commit message>",
        "commit-message",
        bad_message,
    )
    assert commit_loc["line"] == 3
    [tag_loc] = by_secret(report, in_tag)
    assert (tag_loc["path"], tag_loc["where"], tag_loc["commit"]) == ("<tag message>", "tag-message", tagged)
    assert tag_loc["author"] == "Leakstop Tests"  # the tagger
    assert len(report["findings"]) == 2


def test_commit_messages_scanned_in_batches_give_the_findings_of_one_scan_each(
    repo: Repo, scan: Scan, tokens: TokenFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Messages are scanned in batches (``MESSAGE_BATCH``, made tiny here so these commits span several), then
    a message a match touches is scanned alone: line numbers are the message's own, and text that only forms a
    secret across two adjacent messages is not a finding."""
    from scanner.pipeline import messages

    monkeypatch.setattr(messages, "MESSAGE_BATCH", 120)
    first, second = tokens.github_clean(), tokens.github_clean()
    head, tail = second[:20], second[20:]
    commits = {}
    for i in range(12):
        message = f"change {i}\n\nplain text"
        if i == 3:
            message = f"change {i}\n\nnotes\nGITHUB_TOKEN={first}"
        elif i == 7:
            message = f"change {i}\n\nGITHUB_TOKEN={head}"  # the next message holds the rest of a token
        elif i == 8:
            message = tail
        commits[i] = repo.commit(message, {f"f{i}.txt": f"{i}\n"})

    code, report, _ = scan(repo.path, "--history")

    assert code == 1
    assert secrets(report) == [first]
    [location] = by_secret(report, first)
    assert (location["commit"], location["where"], location["line"]) == (commits[3], "commit-message", 4)


def test_history_scans_stash_entries(repo: Repo, scan: Scan, tokens: TokenFactory) -> None:
    first, second = tokens.github_clean(), tokens.github_clean()
    repo.commit("initial", {"app.env": "USER=me\n"})
    repo.write({"app.env": "USER=me\n" + env_line(first)})
    repo.git("stash", "-q")
    older_stash = repo.rev("stash@{0}")
    repo.write({"app.env": "USER=me\n" + env_line(second, "OTHER")})
    repo.git("stash", "-q")
    assert repo.git("status", "--porcelain") == ""

    code, report, _ = scan(repo.path, "--history")

    assert code == 1
    assert secrets(report) == sorted([first, second])  # the older entry is only in the stash reflog
    [loc] = by_secret(report, first)
    assert (loc["path"], loc["commit"]) == ("app.env", older_stash)
    code, report, _ = scan(repo.path)
    assert (code, report["findings"]) == (0, [])


def test_history_attributes_a_secret_introduced_by_a_merge_resolution_to_the_merge(
    repo: Repo, scan: Scan, tokens: TokenFactory
) -> None:
    token = tokens.github_clean()
    repo.commit("initial", {"conf.ini": "[app]\nvalue = base\n"})
    repo.git("switch", "-q", "-c", "side")
    repo.commit("side", {"conf.ini": "[app]\nvalue = side\n"})
    repo.git("switch", "-q", "main")
    repo.commit("main", {"conf.ini": "[app]\nvalue = main\n"})
    merge = repo.git("merge", "side", "-m", "merge side", check=False)
    assert "CONFLICT" in merge
    repo.write({"conf.ini": f"[app]\nvalue = merged\ntoken = {token}\n"})  # resolved by hand
    repo.git("add", "conf.ini")
    repo.git("commit", "-q", "--no-edit")
    merged = repo.head()
    assert len(repo.git("log", "-1", "--format=%P").split()) == 2

    code, report, _ = scan(repo.path, "--history")

    assert code == 1
    [loc] = by_secret(report, token)
    assert (loc["path"], loc["commit"], loc["line"]) == ("conf.ini", merged, 3)
    assert len(report["findings"]) == 1


def test_history_reports_a_secret_unchanged_across_many_edits_once_at_its_oldest_commit(
    repo: Repo, scan: Scan, tokens: TokenFactory
) -> None:
    token = tokens.github_clean()
    repo.commit("initial", {"README.md": "# app\n"})
    carol = ("Carol Author", "carol@example.org")
    oldest = repo.commit("settings", {"settings.py": f"DEBUG = False\nTOKEN = '{token}'\n"}, author=carol)
    text = f"DEBUG = False\nTOKEN = '{token}'\n"
    for n in range(12):
        text += f"OPTION_{n} = {n}\n"
        repo.commit(f"option {n}", {"settings.py": text}, author=("Dan", "dan@example.org"))
    repo.commit("copy", {"copy.py": text + "COPIED = True\n"})  # the same secret at another path: a finding

    code, report, _ = scan(repo.path, "--history")

    assert code == 1
    locations = sorted(by_secret(report, token), key=lambda loc: str(loc["path"]))
    assert [loc["path"] for loc in locations] == ["copy.py", "settings.py"]
    settings = locations[1]
    assert settings["commit"] == oldest
    assert (settings["author"], settings["email"]) == carol
    assert settings["date"] == repo.author_date(oldest)
    assert settings["date"].startswith("2023-11-14T23:") and settings["date"].endswith("+01:00")
    assert (settings["line"], settings["where"]) == (2, "blob")
    assert report["target_detail"] == "15 commits, 15 unique blobs"


def test_history_reports_lines_of_secrets_added_inside_a_file(repo: Repo, scan: Scan, tokens: TokenFactory) -> None:
    token, rotated = tokens.github_clean(), tokens.github_clean()
    lines = [f"line {n}\n" for n in range(200)]
    repo.commit("one", {"big.txt": "".join(lines)})
    lines.insert(120, f"  secret: {token}\n")
    two = repo.commit("two", {"big.txt": "".join(lines)})
    lines[120] = f"  secret: {rotated}\n"
    three = repo.commit("three", {"big.txt": "".join(lines)})
    code, report, _ = scan(repo.path, "--history")
    assert code == 1
    assert [(loc["line"], loc["column"], loc["commit"]) for loc in by_secret(report, token)] == [(121, 11, two)]
    assert [(loc["line"], loc["column"], loc["commit"]) for loc in by_secret(report, rotated)] == [(121, 11, three)]


def test_history_finds_every_secret_the_head_scan_finds(
    repo: Repo, run_cli: RunCli, make_config: MakeConfig, tokens: TokenFactory
) -> None:
    config = make_config(["aws-secret-access-key"], path=repo.path.parent / "aws.yaml")
    first, rotated = tokens.aws_secret(), tokens.aws_secret()

    def main_tf(secret: str) -> str:
        settings = "".join(f'  default_tags_{n} = "x{n}"\n' for n in range(6))
        return f'provider "aws" {{\n  region = "eu-west-1"\n{settings}  secret_key = "{secret}"\n}}\n'

    repo.commit("one", {"main.tf": main_tf(first)})
    repo.commit("rotate", {"main.tf": main_tf(rotated)})
    code, out, _ = run_cli("scan", "--format", "json", "--show-secrets", "--config", config, repo.path)
    assert [f["secret"] for f in json.loads(out)["findings"]] == [rotated]
    assert code == 1
    _, out, _ = run_cli("scan", "--format", "json", "--show-secrets", "--history", "--config", config, repo.path)
    assert sorted(f["secret"] for f in json.loads(out)["findings"]) == sorted([first, rotated])


def test_history_findings_carry_the_commit_in_text_and_sarif_reports(
    repo: Repo, run_cli: RunCli, config: Path, tokens: TokenFactory
) -> None:
    token = tokens.github_clean()
    commit = repo.commit("add", {"a.env": env_line(token)})
    code, out, _ = run_cli("scan", "--history", "--config", config, "--no-progress", repo.path)
    assert code == 1
    assert f"commit {commit[:12]} by {AUTHOR[0]} on 2023-11-14" in out
    assert token not in out
    code, out, _ = run_cli("scan", "--history", "--config", config, "--format", "sarif", repo.path)
    [result] = json.loads(out)["runs"][0]["results"]
    assert result["partialFingerprints"]["commitSha"] == commit
    assert result["properties"]["commit"] == commit


# --- the working tree, ranges, pushes and the index ---


def test_working_tree_scan_reports_only_what_is_at_head(repo: Repo, scan: Scan, tokens: TokenFactory) -> None:
    deleted, branch_only, at_head = tokens.github_clean(), tokens.github_clean(), tokens.github_clean()
    repo.commit("one", {"old.env": env_line(deleted)})
    repo.git("rm", "-q", "old.env")
    repo.commit("two", {"live.env": env_line(at_head)})
    repo.git("switch", "-q", "-c", "other")
    repo.commit("three", {"other.env": env_line(branch_only)})
    repo.git("switch", "-q", "main")

    code, report, _ = scan(repo.path)

    assert code == 1
    assert report["target"] == "files"
    assert [(f["secret"], f["location"]["path"]) for f in report["findings"]] == [(at_head, f"{repo.path}/live.env")]
    assert "commit" not in report["findings"][0]["location"]


def test_range_reports_only_secrets_added_in_the_range(repo: Repo, scan: Scan, tokens: TokenFactory) -> None:
    before, inside = tokens.github_clean(), tokens.github_clean()
    base = repo.commit("base", {"old.env": env_line(before), "README.md": "# app\n"})
    introduced = repo.commit("feature", {"new.env": env_line(inside)})
    repo.commit("more", {"README.md": "# app\nmore\n"})
    repo.write({"copy-of-old.env": env_line(before)})  # the same blob as in the base: not new
    head = repo.commit("copy")

    code, report, _ = scan(repo.path, "--range", f"{base}..{head}")

    assert code == 1
    assert secrets(report) == [inside]
    assert by_secret(report, inside)[0]["commit"] == introduced
    assert report["target_detail"].startswith("3 commits")

    code, report, _ = scan(repo.path, "--range", f"{introduced}..HEAD")
    assert (code, report["findings"]) == (0, [])
    code, report, _ = scan(repo.path, "--range", f"{base}..")  # an empty end means HEAD
    assert secrets(report) == [inside]


def test_range_does_not_report_a_base_secret_when_its_file_is_edited(
    repo: Repo, scan: Scan, tokens: TokenFactory
) -> None:
    before = tokens.github_clean()
    base = repo.commit("base", {"app.env": "USER=ci\n" + env_line(before)})
    repo.commit("edit", {"app.env": "USER=ci\n" + env_line(before) + "DEBUG=1\n"})

    code, report, _ = scan(repo.path, "--range", f"{base}..HEAD")

    assert (code, report["findings"]) == (0, [])


def test_range_does_not_report_a_base_secret_when_its_file_is_renamed_and_edited(
    repo: Repo, scan: Scan, tokens: TokenFactory
) -> None:
    before = tokens.github_clean()
    base = repo.commit("base", {"app.env": "USER=ci\n" + env_line(before)})
    repo.git("mv", "app.env", "prod.env")
    repo.commit("rename and edit", {"prod.env": "USER=ci\n" + env_line(before) + "DEBUG=1\n"})
    code, report, _ = scan(repo.path, "--range", f"{base}..HEAD")
    assert (code, report["findings"]) == (0, [])


def test_since_scans_the_commits_after_the_given_one(repo: Repo, scan: Scan, tokens: TokenFactory) -> None:
    early, late = tokens.github_clean(), tokens.github_clean()
    repo.commit("one", {"a.env": env_line(early)})
    since = repo.commit("two", {"README.md": "hi\n"})
    introduced = repo.commit("three", {"b.env": env_line(late)})
    repo.commit("four", {"README.md": "hi again\n"})

    code, report, _ = scan(repo.path, "--since", since)

    assert code == 1
    assert secrets(report) == [late]
    assert by_secret(report, late)[0]["commit"] == introduced
    assert report["target_detail"].startswith("2 commits")
    code, report, _ = scan(repo.path, "--since", introduced)
    assert (code, report["findings"]) == (0, [])


@pytest.fixture(params=["git-cli", "pygit2"])
def staged_reader(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """--staged reads the index through the git command line (the hook's fast path) or, without git, pygit2."""
    if request.param == "pygit2":
        from scanner.sources.git import staged

        monkeypatch.setattr(staged, "git_available", lambda: False)
    return str(request.param)


@pytest.mark.usefixtures("staged_reader")
def test_staged_reports_only_added_lines_and_ignores_unstaged_changes(
    repo: Repo, scan: Scan, tokens: TokenFactory
) -> None:
    committed, staged, unstaged, untracked = (tokens.github_clean() for _ in range(4))
    repo.commit("one", {"app.env": "USER=ci\n" + env_line(committed)})
    repo.write({"app.env": "USER=ci\n" + env_line(committed) + env_line(staged, "DEPLOY"), "clean.txt": "ok\n"})
    repo.git("add", "app.env", "clean.txt")
    # Changes after `git add` are not part of the commit: the working tree differs from the index.
    repo.write({"app.env": "USER=ci\n" + env_line(committed) + env_line(staged, "DEPLOY") + env_line(unstaged, "X")})
    repo.write({"untracked.env": env_line(untracked)})

    code, report, err = scan(repo.path, "--staged")

    assert code == 1, err
    assert secrets(report) == [staged]
    [loc] = by_secret(report, staged)
    assert (loc["path"], loc["line"], loc["kind"]) == ("app.env", 3, "file")


@pytest.mark.usefixtures("staged_reader")
def test_staged_with_nothing_secret_staged_passes(repo: Repo, scan: Scan, tokens: TokenFactory) -> None:
    repo.commit("one", {"app.env": env_line(tokens.github_clean())})
    repo.write({"README.md": "# hello\n"})
    repo.git("add", "README.md")
    code, report, _ = scan(repo.path, "--staged")
    assert (code, report["findings"]) == (0, [])


@pytest.mark.usefixtures("staged_reader")
def test_staged_before_the_first_commit(repo: Repo, scan: Scan, tokens: TokenFactory) -> None:
    token = tokens.github_clean()
    repo.write({"a.env": env_line(token), "b.txt": "b\n"})
    repo.git("add", "-A")
    code, report, _ = scan(repo.path, "--staged")
    assert code == 1
    assert secrets(report) == [token]


@pytest.mark.usefixtures("staged_reader")
def test_staged_honours_git_index_file(
    repo: Repo, scan: Scan, tokens: TokenFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = tokens.github_clean()
    repo.commit("one", {"app.env": "USER=ci\n"})
    repo.write({"app.env": "USER=ci\n" + env_line(token)})
    other_index = repo.path / ".git" / "next-index.lock"
    repo.git("add", "app.env", env={"GIT_INDEX_FILE": str(other_index)})
    assert repo.git("diff", "--cached", "--name-only") == ""  # the default index is unchanged
    monkeypatch.setenv("GIT_INDEX_FILE", str(other_index))

    code, report, _ = scan(repo.path, "--staged")

    assert secrets(report) == [token]
    assert code == 1


def _pushed_repo(new_repo: Callable[..., Repo], tokens: TokenFactory) -> tuple[Repo, Repo, str]:
    """A clone of a repository whose main branch (with a secret) is already pushed; returns (clone, remote, token)."""
    old = tokens.github_clean()
    origin = new_repo("origin")
    origin.commit("one", {"old.env": env_line(old)})
    origin.commit("two", {"README.md": "# app\n"})
    remote = origin.clone(origin.path.parent / "remote.git", "--bare")
    work = remote.clone(origin.path.parent / "work")
    return work, remote, old


def test_pre_push_uses_pre_commit_from_and_to_refs(
    new_repo: Callable[..., Repo], scan: Scan, tokens: TokenFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    work, _, old = _pushed_repo(new_repo, tokens)
    new = tokens.github_clean()
    pushed = work.head()
    introduced = work.commit("three", {"new.env": env_line(new)})
    work.commit("four", {"README.md": "# app\nfour\n"})
    monkeypatch.setenv("PRE_COMMIT_FROM_REF", pushed)
    monkeypatch.setenv("PRE_COMMIT_TO_REF", work.head())

    code, report, _ = scan(work.path, "--pre-push")

    assert code == 1
    assert secrets(report) == [new]
    assert by_secret(report, new)[0]["commit"] == introduced
    assert old not in secrets(report)


def test_pre_push_understands_pre_commits_legacy_range_names(
    new_repo: Callable[..., Repo], scan: Scan, tokens: TokenFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    work, _, _ = _pushed_repo(new_repo, tokens)
    new = tokens.github_clean()
    pushed = work.head()
    work.commit("three", {"new.env": env_line(new)})
    monkeypatch.setenv("PRE_COMMIT_ORIGIN", pushed)
    monkeypatch.setenv("PRE_COMMIT_SOURCE", work.head())

    code, report, _ = scan(work.path, "--pre-push")

    assert secrets(report) == [new]
    assert code == 1


def test_pre_push_stdin_new_branch_scans_only_what_no_remote_has(
    new_repo: Callable[..., Repo], scan: Scan, tokens: TokenFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    work, _, old = _pushed_repo(new_repo, tokens)
    assert work.git("for-each-ref", "--format=%(refname)", "refs/remotes/") != ""
    new = tokens.github_clean()
    work.git("switch", "-q", "-c", "feature")
    introduced = work.commit("secret", {"feature.env": env_line(new)})
    work.commit("clean", {"feature.txt": "ok\n"})
    line = f"refs/heads/feature {work.head()} refs/heads/feature {ZERO}\n"
    monkeypatch.setattr(sys, "stdin", io.StringIO(line))

    code, report, _ = scan(work.path, "--pre-push")

    assert code == 1
    assert secrets(report) == [new]
    assert by_secret(report, new)[0]["commit"] == introduced
    assert report["target_detail"].startswith("2 commits")
    assert old not in secrets(report)


def test_pre_push_stdin_update_scans_remote_to_local(
    new_repo: Callable[..., Repo], scan: Scan, tokens: TokenFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    work, _, _ = _pushed_repo(new_repo, tokens)
    new = tokens.github_clean()
    remote_oid = work.head()
    work.commit("three", {"n.env": env_line(new)})
    line = f"refs/heads/main {work.head()} refs/heads/main {remote_oid}\n"
    monkeypatch.setattr(sys, "stdin", io.StringIO(line))
    code, report, _ = scan(work.path, "--pre-push")
    assert code == 1
    assert secrets(report) == [new]
    assert report["target_detail"].startswith("1 commits")


def test_pre_push_stdin_deleted_ref_scans_nothing(
    new_repo: Callable[..., Repo], scan: Scan, tokens: TokenFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    work, _, _ = _pushed_repo(new_repo, tokens)
    work.commit("local secret", {"n.env": env_line(tokens.github_clean())})
    line = f"(delete) {ZERO} refs/heads/old-branch {work.rev('origin/main')}\n"
    monkeypatch.setattr(sys, "stdin", io.StringIO(line))

    code, report, _ = scan(work.path, "--pre-push")

    assert (code, report["findings"]) == (0, [])
    assert report["target_detail"].startswith("0 commits")


def test_pre_push_without_range_or_stdin_scans_head_minus_remote_refs(
    new_repo: Callable[..., Repo], scan: Scan, tokens: TokenFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    work, _, old = _pushed_repo(new_repo, tokens)
    new = tokens.github_clean()
    work.commit("three", {"n.env": env_line(new)})
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))  # no ref lines: HEAD minus every remote-tracking ref
    code, report, _ = scan(work.path, "--pre-push")
    assert code == 1
    assert secrets(report) == [new]
    assert old not in secrets(report)


def test_pre_push_with_closed_stdin_falls_back_to_remote_refs(
    new_repo: Callable[..., Repo], scan: Scan, tokens: TokenFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    work, _, _ = _pushed_repo(new_repo, tokens)
    new = tokens.github_clean()
    work.commit("three", {"n.env": env_line(new)})
    monkeypatch.setattr(sys, "stdin", None)
    code, report, err = scan(work.path, "--pre-push")
    assert code == 1, err
    assert secrets(report) == [new]


# --- worker processes ---


def test_worker_processes_give_the_same_findings_as_one_process(
    repo: Repo, scan: Scan, tokens: TokenFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    planted = [tokens.github_clean() for _ in range(6)]
    files: dict[str, str] = {f"pkg/module_{n:03}.py": f"VALUE_{n} = {n}\n" * 3 for n in range(240)}
    repo.commit("many files", files)
    for n, token in enumerate(planted[:5]):
        files[f"pkg/module_{n * 47:03}.py"] += f"TOKEN_{n} = '{token}'\n"
    planted_at = repo.commit("plant", files)
    for name, text in list(files.items()):  # every file gets a new version, diffed against the previous one
        files[name] = "# header\n" + text + "# footer\n"
    files["pkg/module_100.py"] = files["pkg/module_100.py"].replace("VALUE_100 = 100\n", f"T = '{planted[5]}'\n", 1)
    late = repo.commit("edit everything", files)
    repo.git("rm", "-q", "pkg/module_000.py")
    repo.commit("delete one")
    contexts: list[str] = []
    real_get_context = multiprocessing.get_context

    def spy(method: str | None = None) -> Any:
        contexts.append(str(method))
        return real_get_context(method)

    monkeypatch.setattr(multiprocessing, "get_context", spy)

    code_one, one, _ = scan(repo.path, "--history", "--workers", "1")
    assert contexts == []  # one process: no pool
    code_two, two, _ = scan(repo.path, "--history", "--workers", "2")
    assert contexts  # worker processes were really started

    def key(report: dict[str, Any]) -> list[tuple[str, str, str, int, str]]:
        return sorted(
            (f["id"], f["location"]["path"], f["location"]["commit"], f["location"]["line"], f["secret"])
            for f in report["findings"]
        )

    assert code_one == code_two == 1
    assert key(one) == key(two)
    assert sorted(f["secret"] for f in one["findings"]) == sorted(planted)
    commits = {f["secret"]: f["location"]["commit"] for f in one["findings"]}
    assert [commits[t] for t in planted] == [planted_at] * 5 + [late]
    assert one["target_detail"] == two["target_detail"] == "4 commits, 485 unique blobs"
    assert one["summary"]["items_scanned"] == two["summary"]["items_scanned"]


def rich_history(repo: Repo, tokens: TokenFactory) -> list[str]:
    """A history with every kind of place a secret can hide; returns the planted tokens."""
    planted = [tokens.github_clean() for _ in range(7)]
    repo.commit("initial", {"README.md": "# app\n", "conf.ini": "[app]\nvalue = base\n"})
    repo.commit("deleted later", {"old/ci.env": env_line(planted[0])})
    repo.git("rm", "-q", "old/ci.env")
    repo.commit("remove")
    repo.commit("renamed later", {"a.env": env_line(planted[1])})
    repo.git("mv", "a.env", "b.env")
    repo.commit("rename")
    repo.git("switch", "-q", "-c", "side")
    repo.commit("side", {"conf.ini": "[app]\nvalue = side\n", "side.py": f"T = '{planted[2]}'\n"})
    repo.git("switch", "-q", "main")
    repo.commit("main", {"conf.ini": "[app]\nvalue = main\n"})
    repo.git("merge", "side", "-m", "merge", check=False)
    repo.write({"conf.ini": f"[app]\nvalue = merged\ntoken = {planted[3]}\n"})
    repo.git("add", "conf.ini")
    repo.git("commit", "-q", "--no-edit")
    repo.commit(f"message with {planted[4]}", {"c.txt": "c\n"})
    repo.git("tag", "-a", "v1", "-m", f"notes {planted[5]}")
    repo.write({"README.md": f"# app\n{env_line(planted[6])}"})
    repo.git("stash", "-q")
    return planted


def findings_key(report: dict[str, Any]) -> list[tuple[str, ...]]:
    return sorted(
        (f["id"], f["secret"], f["location"]["path"], f["location"]["commit"], str(f["location"]["line"]))
        for f in report["findings"]
    )


def test_history_walk_without_the_git_cli_gives_the_same_findings(
    repo: Repo, scan: Scan, tokens: TokenFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The walk reads ``git log --raw`` and blobs come from ``git cat-file`` when git is there; libgit2 does
    both otherwise: same answer."""
    from scanner.sources.git import blobs, walk

    planted = rich_history(repo, tokens)
    code, with_git, _ = scan(repo.path, "--history")
    monkeypatch.setattr(walk, "git_usable", lambda: False)
    monkeypatch.setattr(blobs, "git_usable", lambda: False)
    code_libgit2, with_libgit2, _ = scan(repo.path, "--history")

    assert code == code_libgit2 == 1
    assert sorted(secrets(with_git)) == sorted(planted)
    assert findings_key(with_git) == findings_key(with_libgit2)
    assert with_git["target_detail"] == with_libgit2["target_detail"]
    assert with_git["summary"]["skipped"] == with_libgit2["summary"]["skipped"]


def _history_with_a_missing_subtree(repo: Repo, tokens: TokenFactory) -> tuple[str, str]:
    """Commit one holds a secret, two adds lib/ (whose tree object is then deleted), three adds another secret
    outside lib/. Returns (first secret, later secret)."""
    before, after = tokens.github_clean(), tokens.github_clean()
    repo.commit("one", {"a.env": env_line(before)})
    repo.commit("two", {"lib/mod.py": "x = 1\n"})
    tree = repo.git("rev-parse", "HEAD:lib")
    repo.commit("three", {"b.env": env_line(after)})  # does not touch lib/
    (repo.path / ".git" / "objects" / tree[:2] / tree[2:]).unlink()  # after the commits: git would rewrite it
    return before, after


def test_missing_tree_object_is_reported_and_the_scan_goes_on(repo: Repo, scan: Scan, tokens: TokenFactory) -> None:
    before, _ = _history_with_a_missing_subtree(repo, tokens)

    code, report, err = scan(repo.path, "--history")

    assert code == 1, err  # not 3: what could be read was scanned
    assert before in secrets(report)
    assert "corrupt-object" in issue_reasons(report)
    assert report["target_detail"].startswith("3 commits")


def test_missing_subtree_does_not_hide_later_commits(repo: Repo, scan: Scan, tokens: TokenFactory) -> None:
    before, after = _history_with_a_missing_subtree(repo, tokens)

    code, report, _ = scan(repo.path, "--history")

    assert secrets(report) == sorted([before, after])
    assert code == 1


# --- bad input ---


@pytest.mark.usefixtures("staged_reader")
def test_not_a_git_repository(tmp_path: Path, scan: Scan) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "a.txt").write_text("hello\n")
    for flag in ("--history", "--staged", "--pre-push"):
        code, report, err = scan(plain, flag)
        assert (code, report) == (2, {})
        assert_one_line_error(err, str(plain), "not a git repository")


def test_git_mode_on_a_missing_path(tmp_path: Path, scan: Scan) -> None:
    code, _, err = scan(tmp_path / "nope", "--history")
    assert code == 2
    assert_one_line_error(err, "nope", "no such file or directory")


@pytest.mark.usefixtures("staged_reader")
def test_bare_repository_history_works_and_staged_is_an_error(repo: Repo, scan: Scan, tokens: TokenFactory) -> None:
    token = tokens.github_clean()
    introduced = repo.commit("one", {"a.env": env_line(token)})
    bare = repo.clone(repo.path.parent / "bare.git", "--bare")

    code, report, _ = scan(bare.path, "--history")
    assert code == 1
    [loc] = by_secret(report, token)
    assert (loc["path"], loc["commit"]) == ("a.env", introduced)

    code, report, err = scan(bare.path, "--staged")
    assert (code, report) == (2, {})
    assert_one_line_error(err, "bare.git", "bare repository")


def test_shallow_clone_scans_what_exists_and_says_history_is_truncated(
    repo: Repo, scan: Scan, tokens: TokenFactory
) -> None:
    old, at_tip = tokens.github_clean(), tokens.github_clean()
    repo.commit("one", {"old.env": env_line(old)})
    repo.git("rm", "-q", "old.env")
    repo.commit("two", {"README.md": "# app\n"})
    repo.commit("three", {"tip.env": env_line(at_tip)})
    repo.git("clone", "-q", "--depth", "1", f"file://{repo.path}", str(repo.path.parent / "shallow"))
    shallow = Repo(repo.path.parent / "shallow", [EPOCH])
    assert shallow.git("rev-parse", "--is-shallow-repository") == "true"

    code, report, _ = scan(shallow.path, "--history")

    assert code == 1
    assert secrets(report) == [at_tip]  # the deleted one is beyond the shallow boundary
    assert "shallow" in issue_reasons(report)
    assert report["target_detail"].startswith("1 commits")


def test_missing_blob_is_reported_and_the_scan_goes_on(repo: Repo, scan: Scan, tokens: TokenFactory) -> None:
    lost, kept = tokens.github_clean(), tokens.github_clean()
    repo.commit("one", {"lost.env": env_line(lost), "kept.env": env_line(kept)})
    oid = repo.git("rev-parse", "HEAD:lost.env")
    (repo.path / ".git" / "objects" / oid[:2] / oid[2:]).unlink()

    code, report, err = scan(repo.path, "--history")

    assert code == 1, err  # the intact blob is still scanned and blocks; a missing object is not a crash (3)
    assert secrets(report) == [kept]
    [path] = issue_reasons(report)["missing-object"]
    assert path.startswith("lost.env@")
    assert report["summary"]["skipped"]["missing-object"] == 1


@pytest.mark.usefixtures("staged_reader")
def test_missing_staged_blob_is_reported(repo: Repo, scan: Scan, tokens: TokenFactory) -> None:
    repo.commit("one", {"README.md": "# app\n"})
    repo.write({"lost.env": env_line(tokens.github_clean())})
    repo.git("add", "lost.env")
    oid = repo.git("rev-parse", ":lost.env")
    (repo.path / ".git" / "objects" / oid[:2] / oid[2:]).unlink()

    code, report, err = scan(repo.path, "--staged")

    assert code == 0, err
    assert issue_reasons(report)["missing-object"] == ["lost.env"]


def test_history_of_a_repository_with_very_many_refs(repo: Repo, scan: Scan, tokens: TokenFactory) -> None:
    token = tokens.github_clean()
    count = 55_000  # distinct commits, one tag each: 41 bytes of argv apiece is over the usual 2 MiB
    stream = "".join(
        f"commit refs/heads/main\nmark :{n}\ncommitter T <t@example.com> {EPOCH + n} +0000\ndata 0\n\n"
        for n in range(1, count + 1)
    )
    repo.git("fast-import", "--quiet", f"--export-marks={repo.path / 'marks'}", stdin=stream)
    with (repo.path / ".git" / "packed-refs").open("a") as packed:
        for line in (repo.path / "marks").read_text().splitlines():
            mark, oid = line.split()
            packed.write(f"{oid} refs/tags/build-{mark[1:]}\n")
    (repo.path / "marks").unlink()
    repo.git("reset", "-q", "--hard", "main")
    repo.commit("the secret", {"a.env": env_line(token)})

    code, report, err = scan(repo.path, "--history")

    assert code == 1, err
    assert secrets(report) == [token]
    assert report["target_detail"].startswith(f"{count + 1} commits")


@pytest.mark.parametrize("branch", ["master", "main"])  # libgit2 calls only "master" empty by default
def test_empty_repository(tmp_path: Path, scan: Scan, branch: str, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = Repo.init(tmp_path / "empty", "--initial-branch", branch)
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))  # --pre-push reads git's ref lines from stdin
    for flag in ("--history", "--pre-push"):
        code, report, err = scan(repo.path, flag)
        assert code == 0, (flag, err)
        assert report["findings"] == []
        assert "empty-repository" in issue_reasons(report), flag
    code, report, _ = scan(repo.path, "--staged")
    assert (code, report["findings"]) == (0, [])


def test_detached_head(repo: Repo, scan: Scan, tokens: TokenFactory) -> None:
    first, second, staged = tokens.github_clean(), tokens.github_clean(), tokens.github_clean()
    one = repo.commit("one", {"a.env": env_line(first)})
    two = repo.commit("two", {"b.env": env_line(second)})
    repo.commit("three", {"README.md": "# app\n"})
    repo.git("checkout", "-q", "--detach", two)
    assert repo.git("symbolic-ref", "-q", "HEAD", check=False) == ""

    code, report, _ = scan(repo.path, "--history")
    assert code == 1
    assert secrets(report) == sorted([first, second])
    code, report, _ = scan(repo.path, "--since", one)
    assert secrets(report) == [second]
    repo.write({"c.env": env_line(staged)})
    repo.git("add", "c.env")
    code, report, _ = scan(repo.path, "--staged")
    assert secrets(report) == [staged]


def test_history_includes_commits_only_reachable_from_a_detached_head(
    repo: Repo, scan: Scan, tokens: TokenFactory
) -> None:
    token = tokens.github_clean()
    repo.commit("one", {"README.md": "# app\n"})
    repo.git("checkout", "-q", "--detach")
    detached = repo.commit("experiment", {"x.env": env_line(token)})
    assert detached in repo.git("log", "--all", "--format=%H")

    code, report, _ = scan(repo.path, "--history")

    assert secrets(report) == [token]
    assert code == 1


@pytest.mark.parametrize(
    "flags",
    [("--range", "nosuch..HEAD"), ("--range", "HEAD..nosuch"), ("--since", "nosuch"), ("--range", "nosuch")],
)
def test_unknown_revision_is_a_usage_error(repo: Repo, scan: Scan, flags: tuple[str, str]) -> None:
    repo.commit("one", {"README.md": "# app\n"})
    code, report, err = scan(repo.path, *flags)
    assert (code, report) == (2, {})
    assert_one_line_error(err, "unknown revision", "'nosuch'")


def test_git_modes_take_one_repository_path(repo: Repo, run_cli: RunCli, config: Path) -> None:
    code, _, err = run_cli("scan", "--history", "--config", config, repo.path, repo.path)
    assert code == 2
    assert_one_line_error(err, "one PATH")


@pytest.mark.usefixtures("staged_reader")
def test_submodule_entries_are_reported_not_followed(repo: Repo, scan: Scan) -> None:
    repo.commit("one", {"README.md": "# app\n"})
    repo.git("update-index", "--add", "--cacheinfo", f"160000,{'1' * 40},vendor/sub")

    code, report, _ = scan(repo.path, "--staged")
    assert code == 0
    assert issue_reasons(report)["submodule"] == ["vendor/sub"]

    repo.git("commit", "-q", "-m", "add a submodule")
    code, report, _ = scan(repo.path, "--history")
    assert code == 0
    assert issue_reasons(report)["submodule"] == ["vendor/sub"]
    assert report["summary"]["skipped"]["submodule"] == 1


def test_a_non_utf8_file_name_gives_a_valid_utf8_report(
    repo: Repo, run_cli: RunCli, config: Path, tokens: TokenFactory
) -> None:
    repo.commit("one", {"README.md": "# app\n"})
    (repo.path / os.fsdecode(b"caf\xe9.env")).write_text(env_line(tokens.github_clean()))
    repo.git("add", "-A")
    repo.git("commit", "-q", "-m", "latin-1 name")

    code, out, _ = run_cli("scan", "--history", "--format", "json", "--config", config, repo.path)

    assert code == 1
    report = json.loads(out.encode("utf-8"))  # what a UTF-8 reader of the report gets
    assert report["findings"][0]["location"]["path"].startswith("caf")


def test_binary_blobs_are_skipped_and_counted(repo: Repo, scan: Scan, tokens: TokenFactory) -> None:
    token = tokens.github_clean()
    repo.commit("one", {"logo.bin": b"\x89PNG\r\n\x1a\n\0\0" + env_line(token).encode(), "a.txt": "a\n"})

    code, report, _ = scan(repo.path, "--history")
    assert (code, report["findings"]) == (0, [])
    assert report["summary"]["skipped"]["binary"] == 1

    code, report, _ = scan(repo.path, "--history", "--scan-binary")
    assert code == 1
    assert secrets(report) == [token]


def test_blobs_over_the_size_cap_are_skipped_and_listed(repo: Repo, scan: Scan, tokens: TokenFactory) -> None:
    token = tokens.github_clean()
    repo.commit("one", {"big.env": "x" * 2000 + "\n" + env_line(token), "small.txt": "a\n"})
    code, report, _ = scan(repo.path, "--history", "--max-file-size", "1k")
    assert (code, report["findings"]) == (0, [])
    assert report["summary"]["skipped"]["too-large"] == 1
    assert issue_reasons(report)["too-large"][0].startswith("big.env@")
