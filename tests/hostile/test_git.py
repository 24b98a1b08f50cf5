"""Hostile repositories, through ``leakstop scan`` in git modes in a subprocess (one case per class)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tokens import TokenFactory

from .harness import Sandbox


def _git(repo: Path, sandbox: Sandbox, *args: str, stdin: bytes | None = None) -> str:
    proc = subprocess.run(
        ["git", "-C", str(repo), *args],
        input=stdin,
        capture_output=True,
        check=True,
        env=sandbox.env({"GIT_CONFIG_GLOBAL": "/dev/null"}),
    )
    return proc.stdout.decode().strip()


def _repo(sandbox: Sandbox, name: str = "repo") -> Path:
    repo = sandbox.work / name
    repo.mkdir()
    _git(repo, sandbox, "init", "-q", "-b", "main")
    return repo


def _commit(sandbox: Sandbox, repo: Path, files: dict[str, str | bytes], message: str = "change") -> str:
    for name, content in files.items():
        path = repo / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
    _git(repo, sandbox, "add", "-A")
    _git(repo, sandbox, "commit", "-q", "--allow-empty", "-m", message)
    return _git(repo, sandbox, "rev-parse", "HEAD")


def _scan(config: Path, *args: str | Path) -> list[str | Path]:
    return ["scan", "--no-progress", "--config", config, *args]


def test_history_of_a_directory_that_is_no_repository(sandbox: Sandbox, config: Path) -> None:
    (sandbox.work / "plain").mkdir()
    sandbox.run(_scan(config, "--history", sandbox.work / "plain")).check(2, "plain")


def test_history_of_an_empty_repository(sandbox: Sandbox, config: Path) -> None:
    repo = _repo(sandbox)
    sandbox.run(_scan(config, "--history", repo)).check(0)


def test_range_with_an_unknown_revision(sandbox: Sandbox, config: Path) -> None:
    repo = _repo(sandbox)
    _commit(sandbox, repo, {"a.txt": "a\n"})
    sandbox.run(_scan(config, "--range", "nope..HEAD", repo)).check(2, "nope")


def test_range_that_is_an_option(sandbox: Sandbox, config: Path) -> None:
    repo = _repo(sandbox)
    _commit(sandbox, repo, {"a.txt": "a\n"})
    sandbox.run(_scan(config, "--range=--output=/tmp/x..HEAD", repo)).check(2, "--output")


def test_commit_message_with_controls_and_a_token(sandbox: Sandbox, config: Path, tokens: TokenFactory) -> None:
    repo = _repo(sandbox)
    _commit(sandbox, repo, {"a.txt": "a\n"}, message=f"fix\x1b[2J\r\nPASSED\n\ntoken {tokens.github_clean()}")
    outcome = sandbox.run(_scan(config, "--history", repo))
    outcome.check(1)
    assert "\x1b" not in outcome.stdout and "PASSED" not in outcome.stdout.splitlines()


def test_shallow_clone_range_beyond_its_boundary(sandbox: Sandbox, config: Path, tokens: TokenFactory) -> None:
    origin = _repo(sandbox, "origin")
    first = _commit(sandbox, origin, {"a.txt": "a\n"})
    for index in range(3):
        _commit(sandbox, origin, {f"f{index}.txt": f"{index}\n"})
    _commit(sandbox, origin, {"k.env": f"GITHUB_TOKEN={tokens.github_clean()}\n"})
    clone = sandbox.work / "clone"
    subprocess.run(
        ["git", "clone", "-q", "--depth", "2", f"file://{origin}", str(clone)], check=True, env=sandbox.env()
    )
    sandbox.run(_scan(config, "--range", f"{first}..HEAD", clone)).check(2, first[:7])
    sandbox.run(_scan(config, "--history", clone)).check(1, "k.env")


def test_hostile_ref_and_path_names(sandbox: Sandbox, config: Path, tokens: TokenFactory) -> None:
    repo = _repo(sandbox)
    _commit(sandbox, repo, {"dir with space/ünï\tcode.env": f"GITHUB_TOKEN={tokens.github_clean()}\n"})
    _git(repo, sandbox, "branch", "-q", "weird-`touch-pwned`-\u202e")
    outcome = sandbox.run(_scan(config, "--history", repo))
    outcome.check(1, "ünï")
    assert not list(sandbox.root.rglob("touch-pwned*")) and not list(sandbox.root.rglob("pwned"))


def test_a_tree_with_a_gitlink_to_a_missing_submodule(sandbox: Sandbox, config: Path) -> None:
    repo = _repo(sandbox)
    _commit(sandbox, repo, {"a.txt": "a\n"})
    head = _git(repo, sandbox, "rev-parse", "HEAD")
    _git(repo, sandbox, "update-index", "--add", "--cacheinfo", f"160000,{head},vendor/lib")
    _git(repo, sandbox, "commit", "-q", "-m", "gitlink")
    sandbox.run(_scan(config, "--history", repo)).check(0)


def test_corrupt_loose_object(sandbox: Sandbox, config: Path) -> None:
    repo = _repo(sandbox)
    _commit(sandbox, repo, {"a.txt": "a\n"})
    head = _commit(sandbox, repo, {"b.txt": "b\n"})
    loose = repo / ".git" / "objects" / head[:2] / head[2:]
    data = loose.read_bytes()
    loose.chmod(0o644)
    loose.write_bytes(data[: len(data) // 2])
    sandbox.run(_scan(config, "--history", repo), limit=20).check({0, 1}, "corrupt")


def test_staged_file_with_one_nul_byte(sandbox: Sandbox, config: Path, tokens: TokenFactory) -> None:
    repo = _repo(sandbox)
    _commit(sandbox, repo, {"a.txt": "a\n"})
    (repo / "k.env").write_bytes(b"\x00\nGITHUB_TOKEN=" + tokens.github_clean().encode() + b"\n")
    _git(repo, sandbox, "add", "k.env")
    sandbox.run(_scan(config, "--staged", repo)).check(1, "k.env")


def test_tracked_file_that_gitignore_matches(sandbox: Sandbox, config: Path, tokens: TokenFactory) -> None:
    repo = _repo(sandbox)
    _commit(sandbox, repo, {"k.env": f"GITHUB_TOKEN={tokens.github_clean()}\n"})
    _commit(sandbox, repo, {".gitignore": "*.env\n"})
    sandbox.run(_scan(config, repo)).check(1, "k.env")


def test_history_with_a_committed_state_whose_outputs_are_a_list(sandbox: Sandbox, config: Path) -> None:
    repo = _repo(sandbox)
    _commit(sandbox, repo, {"infra/odd.tfstate": '{"version": 4, "outputs": [1, 2], "resources": []}\n'})
    _commit(sandbox, repo, {"infra/odd.tfstate": '{"version": 4, "outputs": [3], "resources": {}}\n'})
    sandbox.run(_scan(config, "--history", "--workers", "2", repo), limit=30).check({0, 1})


def test_sigterm_leaves_no_process_behind(sandbox: Sandbox, config: Path) -> None:
    repo = _repo(sandbox)
    for batch in range(4):
        _commit(sandbox, repo, {f"d{batch}/f{i}.txt": f"{batch} {i}\n" * 2000 for i in range(300)})
    proc = subprocess.Popen(
        [sys.executable, "-m", "scanner", *map(str, _scan(config, "--history", "--workers", "2", repo))],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=sandbox.env(),
        start_new_session=True,
    )
    children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children")
    deadline = time.monotonic() + 20
    while proc.poll() is None and time.monotonic() < deadline:  # SIGTERM once the worker pool is up
        if children.exists() and children.read_text().split():
            break
        time.sleep(0.005)
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=10)
    time.sleep(2.0)
    try:
        os.killpg(proc.pid, 0)
        alive = True
    except ProcessLookupError:
        alive = False
    if alive:
        os.killpg(proc.pid, signal.SIGKILL)
    assert not alive, "processes of the scan outlived it"
    assert proc.returncode in (130, 143, -signal.SIGTERM)


def test_what_was_not_read_is_said_in_the_summary(sandbox: Sandbox, config: Path, tokens: TokenFactory) -> None:
    (sandbox.work / "big.env").write_text("#" * 5000 + f"\nGITHUB_TOKEN={tokens.github_clean()}\n")
    outcome = sandbox.run(_scan(config, sandbox.work / "big.env", "--max-file-size", "1000"))
    outcome.check({0, 1})
    assert "incomplete" in outcome.stdout.splitlines()[-2] + outcome.stdout.splitlines()[-1]
