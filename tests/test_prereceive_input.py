"""``leakstop hook pre-receive`` given input it cannot use: each a one-line message, the push rejected (exit 2)
unless the policy says fail-open (then audited). Run in process, with git's environment set as a hook sees it."""

from __future__ import annotations

import io
import json
import os
import sys
from pathlib import Path

import pytest
from gitrepo import ZERO, Repo, isolate_git
from helpers import RunCli, config_text

from scanner.integrations.prereceive.environment import hook_environment, object_dirs
from scanner.sources.git import alternates
from scanner.sources.git.pushed import parse_lines


@pytest.fixture(autouse=True)
def _git_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    isolate_git(monkeypatch, tmp_path / "home")
    for name in ("GIT_QUARANTINE_PATH", "GL_ID", "GL_PROTOCOL", "GL_USERNAME", "GITHUB_USER_LOGIN"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def bare(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Repo:
    """A bare repository with one commit on main, the hook's cwd and GIT_DIR as git sets them."""
    work = Repo.init(tmp_path / "work")
    work.commit("initial", {"README.md": "# app\n"})
    bare = work.clone(tmp_path / "server.git", "--bare")
    (bare.path / "leakstop.yaml").write_text(config_text(), encoding="utf-8")
    monkeypatch.chdir(bare.path)
    monkeypatch.setenv("GIT_DIR", ".")
    return bare


def hook(run_cli: RunCli, monkeypatch: pytest.MonkeyPatch, stdin: str, *args: str) -> tuple[int, list[str]]:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin.encode("utf-8", "surrogateescape"))))
    code, out, err = run_cli("hook", "pre-receive", *args)
    assert out == ""
    return code, err.splitlines()


def test_a_malformed_line_rejects_the_push_in_one_line(
    bare: Repo, run_cli: RunCli, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, err = hook(run_cli, monkeypatch, f"{ZERO} refs/heads/main\n")
    assert code == 2
    assert err[0] == (
        f"leakstop: push rejected: cannot read the push: ref line 1: '{ZERO} refs/heads/main': expected "
        "'<old-oid> <new-oid> <ref-name>' (pre-receive) or '<local-ref> <local-oid> <remote-ref> <remote-oid>' "
        "(pre-push)"
    )
    record = json.loads((bare.path / "leakstop" / "audit.jsonl").read_text())
    assert record["action"] == "reject" and "ref line 1" in record["reason"]


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        (f"{'g' * 40} {ZERO} refs/heads/x", f"ref line 1: '{'g' * 40}' is not an object id (40 or 64 hex digits)"),
        (f"{ZERO} {'0' * 64} refs/heads/x", "ref line 1: a 64-digit object id among 40-digit ones"),
        (f"{ZERO} {ZERO} refs/heads/a\x01b", "ref line 1: ref name 'refs/heads/a\\x01b' is empty or holds a control"),
        (f"refs/heads/x {ZERO} refs/heads/x {ZERO}", "a pre-push line; the pre-receive hook reads"),
    ],
)
def test_bad_lines_are_named(
    bare: Repo, run_cli: RunCli, monkeypatch: pytest.MonkeyPatch, line: str, problem: str
) -> None:
    code, err = hook(run_cli, monkeypatch, line + "\n")
    assert code == 2
    assert problem in err[0]
    assert len(err) <= 3


def test_mixed_line_kinds_are_refused() -> None:
    with pytest.raises(Exception, match="ref line 2: a pre-push line after pre-receive lines"):
        parse_lines([f"{ZERO} {ZERO} refs/heads/a", f"refs/heads/a {ZERO} refs/heads/a {ZERO}"])


def test_an_unknown_object_without_a_quarantine_says_the_hook_is_not_run_by_git(
    bare: Repo, run_cli: RunCli, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, err = hook(run_cli, monkeypatch, f"{ZERO} {'a' * 40} refs/heads/new\n")
    assert code == 2
    assert "'refs/heads/new': object aaaaaaaaaaaa is in neither the repository nor the push's quarantine" in err[0]
    assert "GIT_QUARANTINE_PATH and GIT_OBJECT_DIRECTORY are unset" in err[0]


def test_a_quarantine_that_is_gone_is_named(bare: Repo, run_cli: RunCli, monkeypatch: pytest.MonkeyPatch) -> None:
    gone = bare.path / "objects" / "tmp_objdir-incoming-gone"
    monkeypatch.setenv("GIT_QUARANTINE_PATH", str(gone))
    code, err = hook(run_cli, monkeypatch, f"{ZERO} {'a' * 40} refs/heads/new\n")
    assert code == 2
    assert f"{gone}: object directory not found" in err[0]
    assert "unset" not in err[0]


def test_an_unreadable_push_is_accepted_and_audited_under_fail_open(
    bare: Repo, run_cli: RunCli, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, err = hook(run_cli, monkeypatch, "garbage\n", "--fail-open")
    assert code == 0
    assert err[0].startswith("leakstop: warning: push accepted unchecked: cannot read the push: ref line 1")
    record = json.loads((bare.path / "leakstop" / "audit.jsonl").read_text())
    assert record["action"] == "fail-open"


def test_a_tag_on_a_blob_is_refused(bare: Repo, run_cli: RunCli, monkeypatch: pytest.MonkeyPatch) -> None:
    blob = bare.git("hash-object", "-w", "--stdin", stdin="data\n")
    code, err = hook(run_cli, monkeypatch, f"{ZERO} {blob} refs/tags/blob\n")
    assert code == 2
    assert "'refs/tags/blob': points at a blob, not a commit: leakstop scans commits" in err[0]


def test_no_lines_and_deletions_only_pass_quietly(bare: Repo, run_cli: RunCli, monkeypatch: pytest.MonkeyPatch) -> None:
    assert hook(run_cli, monkeypatch, "") == (0, [])
    assert hook(run_cli, monkeypatch, f"{bare.rev('main')} {ZERO} refs/heads/main\n") == (0, [])


def test_a_pushed_commit_the_repository_already_has_scans_nothing(
    bare: Repo, run_cli: RunCli, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, err = hook(run_cli, monkeypatch, f"{ZERO} {bare.rev('main')} refs/heads/copy\n", "--no-cache")
    assert code == 0
    assert err[0].startswith("leakstop: push checked: 0 commits, 0 unique blobs, no secret to block")


def test_a_terminal_on_stdin_is_a_usage_error(bare: Repo, run_cli: RunCli, monkeypatch: pytest.MonkeyPatch) -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.setattr(sys, "stdin", Terminal())
    code, _, err = run_cli("hook", "pre-receive")
    assert code == 2
    assert "reads git's '<old> <new> <ref>' lines on stdin" in err


def test_config_flags(bare: Repo, run_cli: RunCli, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    code, err = hook(run_cli, monkeypatch, "", "--config", str(tmp_path / "nope.yaml"))
    assert (code, err) == (2, [f"leakstop: error: {tmp_path / 'nope.yaml'}: config file not found"])
    (bare.path / "leakstop.yaml").write_text("push_protection: {budget: 0s}\n")
    code, err = hook(run_cli, monkeypatch, "")
    assert code == 2 and "push_protection/budget: a duration must be more than 0" in err[0]
    assert hook(run_cli, monkeypatch, "", "--no-config") == (0, [])


@pytest.mark.parametrize("text", ["0", "-1s", "soon"])
def test_a_bad_budget_flag_is_a_usage_error(run_cli: RunCli, text: str) -> None:
    with pytest.raises(SystemExit) as exit_:
        run_cli("hook", "pre-receive", "--budget", text)
    assert exit_.value.code == 2


def test_the_environment_is_read_as_git_gitlab_and_github_give_it(tmp_path: Path) -> None:
    quarantine = tmp_path / "objects" / "incoming"
    odd = str(tmp_path / 'a:b"c')
    environ = {
        "GIT_DIR": str(tmp_path),
        "GIT_OBJECT_DIRECTORY": str(quarantine),
        "GIT_ALTERNATE_OBJECT_DIRECTORIES": f"{tmp_path / 'objects'}:{alternates.quote(odd)}::",
        "GITHUB_USER_LOGIN": "octo",
        "GITHUB_REPO_NAME": "org/app",
    }
    env = hook_environment(environ)
    assert env.object_dirs == (str(quarantine), str(tmp_path / "objects"), odd)
    assert (env.quarantined, env.gitlab, env.actor, env.repository) == (True, False, "octo", "org/app")
    with pytest.raises(Exception, match="GIT_ALTERNATE_OBJECT_DIRECTORIES: cannot read it: a quoted entry"):
        object_dirs({"GIT_ALTERNATE_OBJECT_DIRECTORIES": '"/never/ends'})
    plain = hook_environment({"GL_PROTOCOL": "web", "USER": "git"})
    assert (plain.gitlab, plain.actor, plain.object_dirs, plain.quarantined) == (True, "git", (), False)


# --- what the push adds: git rev-list, and libgit2 where there is no git ---


def _unreferenced_commits(bare: Repo) -> tuple[str, str, str]:
    """Two commits on top of main that no ref reaches yet (as in a quarantine), and a merge of them with main."""
    base = bare.rev("main")
    tree = bare.git("rev-parse", "main^{tree}")
    one = bare.git("commit-tree", tree, "-p", base, "-m", "one")
    two = bare.git("commit-tree", tree, "-p", one, "-m", "two")
    merge = bare.git("commit-tree", tree, "-p", two, "-p", base, "-m", "merge")
    return one, two, merge


def test_git_and_libgit2_agree_on_what_a_push_adds(bare: Repo, monkeypatch: pytest.MonkeyPatch) -> None:
    from scanner.sources.git import pushed
    from scanner.sources.git.repo import open_repository

    _, _, merge = _unreferenced_commits(bare)
    repo = open_repository(str(bare.path))
    updates = [
        pushed.RefUpdate(ZERO, merge, "refs/heads/a"),
        pushed.RefUpdate(ZERO, merge, "refs/heads/b"),  # the same tip twice: once
        pushed.RefUpdate(ZERO, bare.rev("main"), "refs/heads/c"),  # nothing new
        pushed.RefUpdate(bare.rev("main"), ZERO, "refs/heads/main"),  # a deletion
    ]
    by_git = pushed.received(repo, updates, ())
    monkeypatch.setattr(pushed, "git_usable", lambda: False)
    by_libgit2 = pushed.received(repo, updates, ())
    for found in (by_git, by_libgit2):
        assert [str(c.id) for c in found.tips] == [merge]
        assert [str(c.id) for c in found.boundary] == [bare.rev("main")]
        assert found.commits == 3
    assert pushed.received(repo, updates[3:], ()) == pushed.Received()


def test_a_failing_rev_list_is_named(bare: Repo, run_cli: RunCli, monkeypatch: pytest.MonkeyPatch) -> None:
    _, two, _ = _unreferenced_commits(bare)
    (bare.path / "refs" / "heads" / "broken").write_text("b" * 40 + "\n")  # a ref to an object that is not there
    code, err = hook(run_cli, monkeypatch, f"{ZERO} {two} refs/heads/new\n")
    assert code == 2
    assert err[0].startswith(f"leakstop: push rejected: cannot read the push: {bare.path}/: git rev-list failed: ")


def test_a_pushed_commit_missing_a_blob_is_not_accepted(
    bare: Repo, run_cli: RunCli, monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = "c" * 40
    tree = bare.git("mktree", "--missing", stdin=f"100644 blob {missing}\tghost.txt\n")
    commit = bare.git("commit-tree", tree, "-p", bare.rev("main"), "-m", "ghost")
    code, err = hook(run_cli, monkeypatch, f"{bare.rev('main')} {commit} refs/heads/main\n")
    assert code == 2, err
    assert err[0].startswith("leakstop: push rejected: 1 objects could not be read (ghost.txt@")


def test_a_bypass_that_cannot_be_recorded_does_not_apply(
    bare: Repo, run_cli: RunCli, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from tokens import TokenFactory

    token = TokenFactory().github_clean()
    blob = bare.git("hash-object", "-w", "--stdin", stdin=f"GITHUB_TOKEN={token}\n")
    tree = bare.git("mktree", stdin=f"100644 blob {blob}\tci.env\n")
    commit = bare.git("commit-tree", tree, "-p", bare.rev("main"), "-m", "fixture")
    (bare.path / "leakstop.yaml").write_text(config_text(policy={"bypass": {"enabled": True}}), encoding="utf-8")
    monkeypatch.setenv("GIT_PUSH_OPTION_COUNT", "1")
    monkeypatch.setenv("GIT_PUSH_OPTION_0", "leakstop.bypass=revoked already")
    blocker = tmp_path / "blocker"
    blocker.write_text("")
    line = f"{bare.rev('main')} {commit} refs/heads/main\n"
    code, err = hook(run_cli, monkeypatch, line, "--audit-log", str(blocker / "audit.jsonl"), "--no-cache")
    assert code == 2
    assert err[0].startswith("leakstop: push rejected: a bypass must be recorded and cannot be: ")
    code, err = hook(run_cli, monkeypatch, line, "--cache", str(tmp_path / "cache.sqlite"))
    assert code == 0, err
    assert (tmp_path / "cache.sqlite").is_file()
    assert json.loads((bare.path / "leakstop" / "audit.jsonl").read_text())["action"] == "bypass"


def test_the_object_store_check_and_the_unix_user_fallbacks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import getpass

    from scanner.sources.git.repo import in_own_store

    assert in_own_store(str(tmp_path / "not-a-repo"), ["a" * 40]) == set()

    def no_user() -> str:
        raise KeyError("no passwd entry")

    monkeypatch.setattr(getpass, "getuser", no_user)
    assert hook_environment({}).actor == f"uid {os.getuid()}"


def test_a_config_the_pipeline_refuses_rejects_even_under_fail_open(
    bare: Repo, run_cli: RunCli, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, _, merge = _unreferenced_commits(bare)
    (bare.path / "leakstop.yaml").write_text(config_text(disabled_rules=["github-pta"]), encoding="utf-8")
    code, err = hook(run_cli, monkeypatch, f"{bare.rev('main')} {merge} refs/heads/main\n", "--fail-open")
    assert code == 2
    assert err[0].startswith("leakstop: error: ") and "unknown rule id 'github-pta'" in err[0]
    assert not (bare.path / "leakstop" / "audit.jsonl").exists()
