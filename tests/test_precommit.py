"""The hooks of ``.pre-commit-hooks.yaml``, run by the real ``pre-commit`` tool.

``pre-commit`` installs a hook repository by cloning it and pip-installing it into a fresh virtualenv, which needs
the package index: when that install cannot reach it, the tests skip and say so. The hook repository is a
snapshot of this working tree, committed into a temporary git repository (``try-repo`` would leave out
untracked files, such as a manifest not committed yet).

``try-repo`` keeps its store in a temporary folder, so each run installs the hook environment again (about ten
seconds): there are three runs. The installed-hook tests share one store (``PRE_COMMIT_HOME``) for the session,
so the environment is built once for all of them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from helpers import ROOT, config_text
from tokens import TokenFactory

from tests.test_git import Repo, env_line, isolate_git

pytest.importorskip("pre_commit", reason="pre-commit is in the test extra: pip install -e '.[test]'")

pytestmark = pytest.mark.slow

# pip's words when it cannot reach the index (or a mirror of it): the environment cannot be built here.
_OFFLINE = (
    "No matching distribution found",
    "Could not find a version that satisfies",
    "Failed to establish a new connection",
    "Temporary failure in name resolution",
    "Network is unreachable",
    "ProxyError",
    "Read timed out",
    "ConnectTimeoutError",
    "SSLError",
)


def isolate(monkeypatch: pytest.MonkeyPatch, home: Path, pre_commit_home: Path) -> None:
    """Git isolated as in test_git, but HOME kept: pip's own configuration may be how it reaches the index."""
    real_home = os.environ.get("HOME", str(home))
    isolate_git(monkeypatch, home)
    monkeypatch.setenv("HOME", real_home)
    monkeypatch.setenv("PRE_COMMIT_HOME", str(pre_commit_home))
    monkeypatch.setenv("PRE_COMMIT_COLOR", "never")
    for name in ("SKIP", "PRE_COMMIT", "PRE_COMMIT_ALLOW_NO_CONFIG", "PRE_COMMIT_NO_CONCURRENCY"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="session")
def pre_commit_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("pre-commit-home")


@pytest.fixture(scope="session")
def hook_repo(tmp_path_factory: pytest.TempPathFactory, pre_commit_home: Path) -> tuple[Path, str]:
    """This working tree (tracked and untracked files that git does not ignore) committed into a new repository.

    Returns (path, rev)."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        env={k: v for k, v in os.environ.items() if not k.startswith("GIT_")},  # e.g. run from inside a git hook
        check=False,
    )
    if listed.returncode != 0:
        pytest.skip(f"{ROOT} is not a git checkout: nothing to hand to pre-commit")
    target = tmp_path_factory.mktemp("leakstop-hook-repo")
    for name in listed.stdout.decode("utf-8", "surrogateescape").split("\0"):
        source = ROOT / name
        # What `pip install .` and pre-commit read: top-level files, the package and its rules (not tests, bench).
        if ("/" not in name or name.startswith(("scanner/", "rules/"))) and source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    assert (target / ".pre-commit-hooks.yaml").is_file()
    with pytest.MonkeyPatch.context() as mp:
        isolate(mp, tmp_path_factory.mktemp("home"), pre_commit_home)
        repo = Repo.init(target)
        rev = repo.commit("leakstop snapshot")
    return target, rev


def pre_commit(cwd: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    """Run pre-commit; skip the test when it cannot build the hook environment for want of the package index."""
    proc = subprocess.run(
        [sys.executable, "-m", "pre_commit", *args], cwd=cwd, input=stdin, capture_output=True, text=True, check=False
    )
    output = proc.stdout + proc.stderr
    if proc.returncode == 3 and "pip" in output:
        log = Path(os.environ["PRE_COMMIT_HOME"]) / "pre-commit.log"
        details = output + (log.read_text(errors="replace") if log.is_file() else "")
        if any(marker in details for marker in _OFFLINE):
            pytest.skip("pre-commit could not install leakstop: the package index is out of reach")
        pytest.fail(f"pre-commit could not install leakstop:\n{details}")
    return proc


def hook_status(output: str, name: str) -> str:
    """'Passed' or 'Failed' from pre-commit's line for the hook named ``name``."""
    for line in output.splitlines():
        if line.startswith(name + "."):
            return line.rsplit(".", 1)[-1]
    raise AssertionError(f"no status line for {name!r} in:\n{output}")


FILES_HOOK = "leakstop (secrets in staged files)"
STAGED_HOOK = "leakstop (secrets in added lines)"
PUSH_HOOK = "leakstop (secrets in pushed commits)"


@pytest.fixture
def user_repo(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pre_commit_home: Path, hook_repo: tuple[Path, str]
) -> Repo:
    """A project using leakstop through pre-commit: its config names the hook repository snapshot."""
    isolate(monkeypatch, tmp_path / "home", pre_commit_home)
    path, rev = hook_repo
    config = {
        "repos": [
            {
                "repo": str(path),
                "rev": rev,
                "hooks": [{"id": "leakstop"}, {"id": "leakstop-staged"}, {"id": "leakstop-push"}],
            }
        ]
    }
    repo = Repo.init(tmp_path / "project")
    repo.commit(
        "initial",
        {
            ".leakstop.yaml": config_text(),
            ".pre-commit-config.yaml": yaml.safe_dump(config, sort_keys=False),
            "README.md": "# project\n",
        },
    )
    return repo


def test_manifest_is_valid(hook_repo: tuple[Path, str]) -> None:
    manifest = hook_repo[0] / ".pre-commit-hooks.yaml"
    proc = pre_commit(hook_repo[0], "validate-manifest", str(manifest))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    hooks = {hook["id"]: hook for hook in yaml.safe_load(manifest.read_text())}
    assert set(hooks) == {"leakstop", "leakstop-staged", "leakstop-push"}
    assert all(hook["require_serial"] and hook["language"] == "python" for hook in hooks.values())
    assert hooks["leakstop"]["entry"] == "leakstop scan --no-progress --"
    assert hooks["leakstop-staged"]["entry"] == "leakstop scan --staged --no-progress"
    assert hooks["leakstop-push"]["entry"] == "leakstop scan --pre-push --no-progress"
    assert hooks["leakstop-push"]["stages"] == ["pre-push"]
    for hook_id in ("leakstop-staged", "leakstop-push"):
        assert (hooks[hook_id]["pass_filenames"], hooks[hook_id]["always_run"]) == (False, True)


# --- try-repo: what a user trying the hooks out sees ---


def test_try_repo_blocks_a_staged_secret_in_both_commit_hooks(
    user_repo: Repo, hook_repo: tuple[Path, str], tokens: TokenFactory
) -> None:
    token = tokens.github_clean()
    user_repo.write({"deploy/ci.env": "USER=ci\n" + env_line(token), "src/app.py": "print('hi')\n"})
    user_repo.git("add", "-A")

    proc = pre_commit(user_repo.path, "try-repo", str(hook_repo[0]))  # every hook of the commit stage

    output = proc.stdout + proc.stderr
    assert proc.returncode == 1, output
    assert hook_status(output, FILES_HOOK) == "Failed"
    assert hook_status(output, STAGED_HOOK) == "Failed"
    assert PUSH_HOOK not in output  # a pre-push hook only
    assert output.count("deploy/ci.env:2:14") == 2
    assert output.count("BLOCKED: 1 finding blocks this") == 2
    assert output.count("How to fix: remove the secret from the file") == 2
    assert token not in output


def test_try_repo_passes_a_clean_commit(user_repo: Repo, hook_repo: tuple[Path, str], tokens: TokenFactory) -> None:
    user_repo.write({"src/app.py": "print('hi')\n", "notes.env": env_line(tokens.github_clean())})
    user_repo.git("add", "src/app.py")  # the secret stays untracked: not part of the commit

    proc = pre_commit(user_repo.path, "try-repo", str(hook_repo[0]))

    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output
    assert hook_status(output, FILES_HOOK) == "Passed"
    assert hook_status(output, STAGED_HOOK) == "Passed"


def test_try_repo_push_hook_blocks_a_secret_in_an_earlier_commit_of_the_range(
    user_repo: Repo, hook_repo: tuple[Path, str], tokens: TokenFactory
) -> None:
    start = user_repo.head()
    user_repo.commit("add a token", {"app.env": env_line(tokens.github_clean())})
    user_repo.git("rm", "-q", "app.env")
    end = user_repo.commit("remove it again")  # the tip is clean

    proc = pre_commit(
        user_repo.path,
        "try-repo",
        str(hook_repo[0]),
        "leakstop-push",
        "--hook-stage",
        "pre-push",
        "--from-ref",
        start,
        "--to-ref",
        end,
    )

    output = proc.stdout + proc.stderr
    assert proc.returncode == 1, output
    assert hook_status(output, PUSH_HOOK) == "Failed"
    assert "app.env:1:14" in output
    assert "github-pat" in output


# --- installed: real git commit and git push through pre-commit's hook scripts ---


@pytest.fixture
def installed(user_repo: Repo) -> Repo:
    proc = pre_commit(user_repo.path, "install", "-t", "pre-commit", "-t", "pre-push")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    proc = pre_commit(user_repo.path, "install-hooks")  # built once per session, in the shared store
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return user_repo


def attempt(repo: Repo, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["git", *args], cwd=repo.path, capture_output=True, text=True, stdin=subprocess.DEVNULL, check=False
    )


def test_installed_hooks_block_a_commit_with_a_secret_and_pass_a_clean_one(
    installed: Repo, tokens: TokenFactory
) -> None:
    token = tokens.github_clean()
    before = installed.head()
    installed.write({"settings.py": f"TOKEN = '{token}'\n"})
    installed.git("add", "settings.py")

    proc = attempt(installed, "commit", "-m", "add settings")

    output = proc.stdout + proc.stderr
    assert proc.returncode == 1, output
    assert hook_status(output, FILES_HOOK) == "Failed"
    assert hook_status(output, STAGED_HOOK) == "Failed"
    assert "settings.py:1:10" in output
    assert token not in output
    assert installed.head() == before

    installed.write({"settings.py": "TOKEN = os.environ['TOKEN']\n"})
    installed.git("add", "settings.py")
    proc = attempt(installed, "commit", "-m", "read the token from the environment")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert installed.head() != before


@pytest.fixture
def pushable(installed: Repo) -> tuple[Repo, Repo]:
    remote = installed.clone(installed.path.parent / "remote.git", "--bare")
    installed.git("remote", "add", "origin", str(remote.path))
    installed.git("fetch", "-q", "origin")
    return installed, remote


def test_installed_push_hook_blocks_a_new_branch_with_a_secret_in_an_earlier_commit(
    pushable: tuple[Repo, Repo], tokens: TokenFactory
) -> None:
    repo, remote = pushable
    repo.git("switch", "-q", "-c", "feature")
    repo.write({"app.env": env_line(tokens.github_clean())})
    repo.git("add", "app.env")
    repo.git("commit", "-q", "--no-verify", "-m", "add a token")  # past the commit hooks, as with `git commit -n`
    repo.git("rm", "-q", "app.env")
    repo.commit("remove it again")

    proc = attempt(repo, "push", "origin", "feature")

    output = proc.stdout + proc.stderr
    assert proc.returncode != 0, output
    assert hook_status(output, PUSH_HOOK) == "Failed"
    assert "app.env:1:14" in output
    assert remote.git("branch", "--list", "feature") == ""

    repo.git("switch", "-q", "-c", "clean", "main")
    repo.commit("clean work", {"src/app.py": "print('hi')\n"})
    proc = attempt(repo, "push", "-q", "origin", "clean")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert remote.rev("clean") == repo.head()
