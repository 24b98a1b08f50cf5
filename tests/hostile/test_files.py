"""Hostile files and trees, through ``leakstop scan`` in a subprocess (one case per class)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from tokens import TokenFactory

from .harness import Sandbox


def _scan(sandbox: Sandbox, config: Path, *args: str | Path) -> list[str | Path]:
    return ["scan", "--no-progress", "--config", config, *args]


def test_missing_path(sandbox: Sandbox, config: Path) -> None:
    sandbox.run(_scan(sandbox, config, sandbox.work / "absent")).check(2, "absent")


def test_symlink_loop(sandbox: Sandbox, config: Path, tokens: TokenFactory) -> None:
    tree = sandbox.work / "tree"
    tree.mkdir()
    (tree / "a").symlink_to("b")
    (tree / "b").symlink_to("a")
    (tree / "loop").symlink_to(tree, target_is_directory=True)
    (tree / "key.env").write_text(f"GITHUB_TOKEN={tokens.github_clean()}\n")
    sandbox.run(_scan(sandbox, config, tree)).check(1, "key.env")


def test_fifo_in_tree(sandbox: Sandbox, config: Path) -> None:
    tree = sandbox.work / "tree"
    tree.mkdir()
    os.mkfifo(tree / "pipe")
    sandbox.run(_scan(sandbox, config, tree), limit=20).check(0)


def test_fifo_named_on_the_command_line(sandbox: Sandbox, config: Path) -> None:
    os.mkfifo(sandbox.work / "pipe")
    sandbox.run(_scan(sandbox, config, sandbox.work / "pipe"), limit=20).check({0, 2})


def test_device_link_in_tree(sandbox: Sandbox, config: Path) -> None:
    tree = sandbox.work / "tree"
    tree.mkdir()
    (tree / "zero").symlink_to("/dev/zero")
    (tree / "random").symlink_to("/dev/urandom")
    sandbox.run(_scan(sandbox, config, tree), limit=20).check(0)


def test_huge_single_line(sandbox: Sandbox, config: Path, tokens: TokenFactory) -> None:
    token = tokens.github_clean()
    (sandbox.work / "min.js").write_text("x=1;" * 2_000_000 + f"t='{token}'")  # 8 MB, one line
    outcome = sandbox.run(_scan(sandbox, config, sandbox.work / "min.js", "--max-file-size", "20000000"))
    outcome.check(1, "min.js")
    assert token not in outcome.stdout


def test_deep_nesting(sandbox: Sandbox, config: Path, tokens: TokenFactory) -> None:
    deep = sandbox.work / "tree"
    path = deep
    for _ in range(150):
        path = path / "d"
    path.mkdir(parents=True)
    (path / "k.env").write_text(f"GITHUB_TOKEN={tokens.github_clean()}\n")
    sandbox.run(_scan(sandbox, config, deep)).check(1, "k.env")


def test_binary_file(sandbox: Sandbox, config: Path, tokens: TokenFactory) -> None:
    (sandbox.work / "blob.bin").write_bytes(b"\x00\x01" * 100 + tokens.github_clean().encode())
    sandbox.run(_scan(sandbox, config, sandbox.work / "blob.bin")).check(0)


def test_invalid_utf8_content(sandbox: Sandbox, config: Path, tokens: TokenFactory) -> None:
    (sandbox.work / "latin.env").write_bytes(b"caf\xe9 \xff\xfe GITHUB_TOKEN=" + tokens.github_clean().encode())
    sandbox.run(_scan(sandbox, config, sandbox.work / "latin.env")).check(1, "latin.env")


def test_hostile_file_name(sandbox: Sandbox, config: Path, tokens: TokenFactory) -> None:
    (sandbox.work / "x\x1b[2J\nPASSED\r.env").write_text(f"GITHUB_TOKEN={tokens.github_clean()}\n")
    outcome = sandbox.run(_scan(sandbox, config, sandbox.work))
    outcome.check(1, "x\\x1b[2J\\nPASSED\\r.env")
    assert "\x1b" not in outcome.stdout and "PASSED" not in outcome.stdout.splitlines()


def test_file_over_the_size_cap(sandbox: Sandbox, config: Path, tokens: TokenFactory) -> None:
    (sandbox.work / "big.env").write_text("#" * 5000 + f"\nGITHUB_TOKEN={tokens.github_clean()}\n")
    outcome = sandbox.run(_scan(sandbox, config, sandbox.work / "big.env", "--max-file-size", "1000", "--verbose"))
    outcome.check(0, "big.env")


def test_empty_file_and_directory(sandbox: Sandbox, config: Path) -> None:
    (sandbox.work / "empty").mkdir()
    (sandbox.work / "empty" / "zero.txt").write_bytes(b"")
    sandbox.run(_scan(sandbox, config, sandbox.work / "empty")).check(0)


def test_permission_denied(sandbox: Sandbox, config: Path, tokens: TokenFactory) -> None:
    if os.geteuid() == 0:
        pytest.skip("root reads a file whatever its mode")
    secret = sandbox.work / "locked.env"
    secret.write_text(f"GITHUB_TOKEN={tokens.github_clean()}\n")
    secret.chmod(0)
    sandbox.run(_scan(sandbox, config, sandbox.work)).check({0, 1}, "locked.env")


def test_stdin_with_nul_and_no_newline(sandbox: Sandbox, config: Path, tokens: TokenFactory) -> None:
    data = b"\x00" * 10 + tokens.github_clean().encode()
    sandbox.run(_scan(sandbox, config, "-"), stdin=data).check({0, 1})


def test_utf16_text_is_scanned(sandbox: Sandbox, config: Path, tokens: TokenFactory) -> None:
    (sandbox.work / "deploy.ps1").write_bytes(f"$token = '{tokens.github_clean()}'\r\n".encode("utf-16"))
    sandbox.run(_scan(sandbox, config, sandbox.work / "deploy.ps1")).check(1, "deploy.ps1")


def test_negative_max_file_size_is_refused(sandbox: Sandbox, config: Path) -> None:
    (sandbox.work / "a.txt").write_text("x\n")
    sandbox.run(_scan(sandbox, config, sandbox.work, "--max-file-size", "-1")).check(2, "max-file-size")
