"""``leakstop install-hook``: plain git hooks, exercised by real ``git commit`` and ``git push`` runs.

The hook runs this python's leakstop (its ``leakstop`` script, or a ``-c`` launcher) in the repository, so these
tests use the development install; each repository commits a ``.leakstop.yaml`` holding only the ``github-pat`` rule.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import RunCli, config_text
from tokens import TokenFactory

from scanner.integrations.githooks import MARKER, hook_script, install_hook
from tests.test_git import Repo, env_line, isolate_git


@pytest.fixture(autouse=True)
def _git_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    isolate_git(monkeypatch, tmp_path / "home")


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    repo = Repo.init(tmp_path / "repo")
    repo.commit("initial", {".leakstop.yaml": config_text(), "README.md": "# app\n"})
    return repo


def attempt(repo: Repo, *args: str) -> subprocess.CompletedProcess[str]:
    """A git command that may fail (a hook blocking it): the whole result, nothing raised."""
    return subprocess.run(
        ["git", *args], cwd=repo.path, capture_output=True, text=True, stdin=subprocess.DEVNULL, check=False
    )


def install(run_cli: RunCli, *args: str | Path) -> tuple[int, str, str]:
    return run_cli("install-hook", *args)


def test_install_pre_commit_writes_an_executable_hook(repo: Repo, run_cli: RunCli) -> None:
    code, out, err = install(run_cli, "pre-commit", repo.path)
    hook = repo.path / ".git" / "hooks" / "pre-commit"
    assert (code, err) == (0, "")
    assert str(hook) in out
    text = hook.read_text()
    assert text.startswith("#!/bin/sh\n")
    assert MARKER in text
    assert sys.executable in text
    assert " scan --staged --no-progress" in text
    assert "-m scanner" not in text  # it would run a scanner/ package in the repository instead (below)
    assert hook.stat().st_mode & stat.S_IXUSR


def test_installed_by_the_command_the_hook_runs_that_command(repo: Repo) -> None:
    script = Path(sys.executable).parent / "leakstop"
    subprocess.run([str(script), "install-hook", "pre-commit", str(repo.path)], check=True, capture_output=True)
    text = (repo.path / ".git" / "hooks" / "pre-commit").read_text()
    assert f"LEAKSTOP_SCRIPT={script}\n" in text
    assert '"$LEAKSTOP_PYTHON" "$LEAKSTOP_SCRIPT" scan --staged' in text


@pytest.mark.parametrize("form", ["launcher", "script"])
def test_code_in_the_repository_does_not_run_as_leakstop(repo: Repo, tokens: TokenFactory, form: str) -> None:
    """git runs the hook at the top of the working tree; ``python -m scanner`` put that folder first on sys.path,
    so a committed ``scanner/`` package (or a ``typing.py``) ran instead of leakstop and passed the commit."""
    script = str(Path(sys.executable).parent / "leakstop") if form == "script" else None
    install_hook("pre-commit", str(repo.path), python=sys.executable, script=script)
    passes = "import sys\nsys.exit(0)\n"
    repo.commit("tools", {"scanner/__init__.py": passes, "scanner/__main__.py": passes, "typing.py": passes})
    repo.write({"deploy/ci.env": env_line(tokens.github_clean())})
    repo.git("add", "-A")

    proc = attempt(repo, "commit", "-m", "add ci settings")

    assert proc.returncode == 1, proc.stderr
    assert "github-pat" in proc.stderr


def test_pre_commit_hook_blocks_a_commit_with_a_secret(repo: Repo, run_cli: RunCli, tokens: TokenFactory) -> None:
    token = tokens.github_clean()
    assert install(run_cli, "pre-commit", repo.path)[0] == 0
    before = repo.head()
    repo.write({"deploy/ci.env": "USER=ci\n" + env_line(token)})
    repo.git("add", "-A")

    proc = attempt(repo, "commit", "-m", "add ci settings")

    assert proc.returncode != 0
    assert "github-pat" in proc.stderr
    assert "deploy/ci.env:2:14" in proc.stderr
    assert "leakstop: commit blocked: it adds a secret; the report above says how to fix or allow it" in proc.stderr
    # How to fix it and how to allow it, as this policy allows (no bypass: it is off by default).
    assert "BLOCKED: 1 finding blocks this commit" in proc.stderr
    assert "How to fix: remove the secret from the file" in proc.stderr
    assert "`git add` it again" in proc.stderr
    assert "inline: `leakstop:allow` in a comment on the line" in proc.stderr
    assert "in .leakstop.yaml: an allowlist" in proc.stderr
    assert "bypass" not in proc.stderr.lower()
    assert token not in proc.stdout + proc.stderr
    assert repo.head() == before


def test_pre_commit_hook_lets_a_clean_commit_through(repo: Repo, run_cli: RunCli) -> None:
    assert install(run_cli, "pre-commit", repo.path)[0] == 0
    repo.write({"src/app.py": "print('hello')\n"})
    repo.git("add", "-A")
    proc = attempt(repo, "commit", "-q", "-m", "clean")
    assert proc.returncode == 0, proc.stderr
    assert repo.git("log", "-1", "--format=%s") == "clean"


def test_pre_commit_hook_blocks_git_commit_all_with_a_secret(repo: Repo, run_cli: RunCli, tokens: TokenFactory) -> None:
    assert install(run_cli, "pre-commit", repo.path)[0] == 0
    repo.commit("settings", {"app.env": "USER=ci\n"})
    repo.write({"app.env": "USER=ci\n" + env_line(tokens.github_clean())})
    proc = attempt(repo, "commit", "-a", "-m", "commit everything")
    assert proc.returncode != 0


@pytest.fixture
def remote_and_clone(repo: Repo) -> tuple[Repo, Repo]:
    remote = repo.clone(repo.path.parent / "remote.git", "--bare")
    work = remote.clone(repo.path.parent / "work")
    return remote, work


def test_pre_push_hook_blocks_a_branch_with_a_secret_in_an_earlier_commit(
    remote_and_clone: tuple[Repo, Repo], run_cli: RunCli, tokens: TokenFactory
) -> None:
    remote, work = remote_and_clone
    assert install(run_cli, "pre-push", work.path)[0] == 0
    token = tokens.github_clean()
    work.git("switch", "-q", "-c", "feature")
    work.commit("add a token", {"app.env": env_line(token)})
    work.git("rm", "-q", "app.env")
    work.commit("remove it again")  # the tip is clean: only the earlier commit holds the secret

    proc = attempt(work, "push", "origin", "feature")

    assert proc.returncode != 0
    assert "github-pat" in proc.stderr
    assert "app.env" in proc.stderr
    assert "leakstop: push blocked" in proc.stderr
    assert token not in proc.stderr
    assert remote.git("branch", "--list", "feature") == ""
    # How to rewrite the commits, naming the one that adds the secret; nothing was pushed, so no force push.
    added = work.rev("feature~1")
    assert "BLOCKED: 1 finding blocks this push" in proc.stderr
    assert "in the last commit: remove it, `git add` the file, `git commit --amend`" in proc.stderr
    assert f"`git rebase -i {added[:12]}~1`" in proc.stderr
    assert "Then push again" in proc.stderr and "revoke and rotate" in proc.stderr
    assert "--force" not in proc.stderr


def test_pre_push_hook_blocks_an_update_of_an_existing_branch(
    remote_and_clone: tuple[Repo, Repo], run_cli: RunCli, tokens: TokenFactory
) -> None:
    remote, work = remote_and_clone
    assert install(run_cli, "pre-push", work.path)[0] == 0
    pushed = work.head()
    work.commit("add a token", {"app.env": env_line(tokens.github_clean())})
    work.commit("more", {"README.md": "# app\nmore\n"})
    proc = attempt(work, "push", "origin", "main")
    assert proc.returncode != 0
    assert "github-pat" in proc.stderr
    assert remote.rev("main") == pushed


def test_pre_push_hook_lets_clean_pushes_and_deletions_through(
    remote_and_clone: tuple[Repo, Repo], run_cli: RunCli
) -> None:
    remote, work = remote_and_clone
    assert install(run_cli, "pre-push", work.path)[0] == 0
    work.git("switch", "-q", "-c", "feature")
    work.commit("clean", {"src/app.py": "print('hi')\n"})
    proc = attempt(work, "push", "-q", "origin", "feature")
    assert proc.returncode == 0, proc.stderr
    assert remote.rev("feature") == work.head()
    proc = attempt(work, "push", "-q", "origin", "--delete", "feature")
    assert proc.returncode == 0, proc.stderr
    assert remote.git("branch", "--list", "feature") == ""


def test_install_refuses_to_replace_a_foreign_hook_unless_forced(repo: Repo, run_cli: RunCli) -> None:
    hook = repo.path / ".git" / "hooks" / "pre-commit"
    hook.parent.mkdir(parents=True, exist_ok=True)
    hook.write_text("#!/bin/sh\necho mine\n")

    code, out, err = install(run_cli, "pre-commit", repo.path)
    assert (code, out) == (2, "")
    assert err.count("\n") == 1
    assert str(hook) in err and "did not write" in err and "--force" in err
    assert hook.read_text() == "#!/bin/sh\necho mine\n"

    code, _, _ = install(run_cli, "pre-commit", "--force", repo.path)
    assert code == 0
    assert MARKER in hook.read_text()
    code, _, _ = install(run_cli, "pre-commit", repo.path)  # ours: updated without --force
    assert code == 0


def test_install_does_not_write_through_a_symlinked_hook(repo: Repo, run_cli: RunCli, tmp_path: Path) -> None:
    elsewhere = tmp_path / "shared-hook"
    elsewhere.write_text(hook_script("pre-commit", sys.executable))  # even one that looks like ours
    hook = repo.path / ".git" / "hooks" / "pre-push"
    hook.parent.mkdir(parents=True, exist_ok=True)
    hook.symlink_to(elsewhere)

    assert install(run_cli, "pre-push", repo.path)[0] == 2
    assert install(run_cli, "pre-push", "--force", repo.path)[0] == 0
    assert not hook.is_symlink()
    assert "--pre-push" in hook.read_text()
    assert "--staged" in elsewhere.read_text()


def test_install_honours_core_hooks_path(repo: Repo, run_cli: RunCli, tokens: TokenFactory) -> None:
    repo.git("config", "core.hooksPath", "tools/githooks")
    subdir = repo.path / "src"
    subdir.mkdir()
    code, out, _ = install(run_cli, "pre-commit", subdir)  # from a subdirectory: relative to the top
    hook = repo.path / "tools" / "githooks" / "pre-commit"
    assert code == 0
    assert str(hook) in out
    assert hook.is_file()
    assert not (repo.path / ".git" / "hooks" / "pre-commit").exists()
    repo.write({"a.env": env_line(tokens.github_clean())})
    repo.git("add", "a.env")
    assert attempt(repo, "commit", "-m", "blocked by the hook in core.hooksPath").returncode != 0


def test_install_hook_takes_force_before_or_after_the_path(repo: Repo, run_cli: RunCli) -> None:
    hook = repo.path / ".git" / "hooks" / "pre-commit"
    hook.parent.mkdir(parents=True, exist_ok=True)
    for argv in (
        ("--force", "pre-commit", repo.path),
        ("pre-commit", repo.path, "--force"),
        ("pre-commit", "--force", "--", repo.path),
    ):
        hook.write_text("#!/bin/sh\necho mine\n")
        code, _, err = install(run_cli, *argv)
        assert (code, err) == (0, ""), argv
        assert MARKER in hook.read_text()
    code, _, err = install(run_cli, "pre-commit", repo.path, repo.path)
    assert code == 2
    assert "one PATH" in err
    code, _, err = install(run_cli, "pre-commit", "--forse", repo.path)
    assert code == 2
    assert "unknown option '--forse'" in err


def test_install_outside_a_repository_is_an_error(tmp_path: Path, run_cli: RunCli) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    code, _, err = install(run_cli, "pre-push", plain)
    assert code == 2
    assert err == f"leakstop: error: {plain}: not a git repository\n"
    code, _, err = install(run_cli, "pre-push", tmp_path / "missing")
    assert code == 2
    assert "no such directory" in err


def test_install_rejects_an_unknown_hook(run_cli: RunCli, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        install(run_cli, "post-commit")
    assert exit_info.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


@pytest.mark.parametrize("gone", ["python", "script"])
def test_hook_says_how_to_recover_when_its_python_or_script_is_gone(tmp_path: Path, gone: str) -> None:
    hook = tmp_path / "pre-commit"
    python = str(tmp_path / "gone" / "python") if gone == "python" else sys.executable
    hook.write_text(hook_script("pre-commit", python, str(tmp_path / "gone" / "leakstop")))
    proc = subprocess.run(
        ["sh", str(hook)], cwd=tmp_path, capture_output=True, text=True, stdin=subprocess.DEVNULL, check=False
    )
    assert proc.returncode == 1
    assert f"{tmp_path / 'gone'}" in proc.stderr
    assert "is gone; reinstall: leakstop install-hook --force pre-commit" in proc.stderr


def test_installed_hook_ignores_a_range_left_in_the_environment(
    remote_and_clone: tuple[Repo, Repo], run_cli: RunCli, tokens: TokenFactory
) -> None:
    """git's stdin names what is pushed; stale PRE_COMMIT_* variables must not narrow the scan."""
    _, work = remote_and_clone
    assert install(run_cli, "pre-push", work.path)[0] == 0
    work.commit("add a token", {"app.env": env_line(tokens.github_clean())})
    tip = work.commit("more", {"README.md": "# app\nmore\n"})
    env = {**os.environ, "PRE_COMMIT_FROM_REF": tip, "PRE_COMMIT_TO_REF": tip}
    proc = subprocess.run(
        ["git", "push", "origin", "main"],
        cwd=work.path,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        env=env,
        check=False,
    )
    assert proc.returncode != 0
    assert "github-pat" in proc.stderr


# --- following the advice the blocked hook gives ---


def test_pre_push_advice_amend_the_last_commit_then_push(
    remote_and_clone: tuple[Repo, Repo], run_cli: RunCli, tokens: TokenFactory
) -> None:
    remote, work = remote_and_clone
    assert install(run_cli, "pre-push", work.path)[0] == 0
    work.commit("add settings", {"app.env": "USER=ci\n" + env_line(tokens.github_clean())})
    assert attempt(work, "push", "origin", "main").returncode != 0

    # "in the last commit: remove it, `git add` the file, `git commit --amend`"
    work.write({"app.env": "USER=ci\nGITHUB_TOKEN=${GITHUB_TOKEN}\n"})
    work.git("add", "app.env")
    work.git("commit", "-q", "--amend", "--no-edit")
    proc = attempt(work, "push", "-q", "origin", "main")

    assert proc.returncode == 0, proc.stderr
    assert remote.rev("main") == work.head()


def with_bypass(repo: Repo, *channels: str) -> None:
    """Commit a policy that accepts bypass requests through ``channels``."""
    policy = {"bypass": {"enabled": True, "channels": list(channels)}}
    repo.commit("allow bypass", {".leakstop.yaml": config_text(policy=policy)})


def test_pre_commit_advice_names_the_env_bypass_the_policy_allows(
    repo: Repo, run_cli: RunCli, tokens: TokenFactory
) -> None:
    with_bypass(repo, "env", "trailer")
    assert install(run_cli, "pre-commit", repo.path)[0] == 0
    repo.write({"test.env": env_line(tokens.github_clean())})
    repo.git("add", "test.env")

    proc = attempt(repo, "commit", "-m", "a test key")

    assert proc.returncode != 0
    assert "Or bypass the policy once, with a reason (it allows env):" in proc.stderr  # a trailer comes too late
    assert '`LEAKSTOP_BYPASS="why" git commit …`' in proc.stderr
    env = {**os.environ, "LEAKSTOP_BYPASS": "a revoked test key"}
    done = subprocess.run(
        ["git", "commit", "-q", "-m", "a test key"], cwd=repo.path, env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr


def test_pre_push_advice_names_the_trailer_bypass_and_it_works(
    remote_and_clone: tuple[Repo, Repo], run_cli: RunCli, tokens: TokenFactory
) -> None:
    remote, work = remote_and_clone
    with_bypass(work, "trailer")
    assert install(run_cli, "pre-push", work.path)[0] == 0
    work.commit("add a test key", {"test.env": env_line(tokens.github_clean())})

    proc = attempt(work, "push", "origin", "main")

    assert proc.returncode != 0
    assert "(it allows trailer):" in proc.stderr
    assert "LEAKSTOP_BYPASS" not in proc.stderr  # not a channel this policy accepts
    assert '`git commit --amend --trailer "Leakstop-Bypass: why"`' in proc.stderr
    # The trailer counts on a recent commit: amend with the clock of now, as a user would.
    assert (
        attempt(work, "commit", "-q", "--amend", "--no-edit", "--trailer", "Leakstop-Bypass: revoked").returncode == 0
    )
    proc = attempt(work, "push", "-q", "origin", "main")
    assert proc.returncode == 0, proc.stderr
    assert remote.rev("main") == work.head()
