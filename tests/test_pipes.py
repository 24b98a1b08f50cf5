"""``sources.git.pipes``: the commit hook's way to run git answers what ``subprocess.run(…, capture_output=True)``
and ``shutil.which`` answer, with large input and output on both streams at once (no stalled pipe)."""

from __future__ import annotations

import os
import shutil
import signal
import stat
import subprocess
from pathlib import Path

import pytest

from scanner.sources.git import pipes

COMMANDS: list[tuple[list[str], bytes | None]] = [
    (["git", "--version"], None),
    (["git", "rev-parse", "--is-bare-repository"], None),  # fails outside a repository: code and message
    (["sh", "-c", "cat; echo done >&2; exit 3"], b"line\n" * 10),
    (["sh", "-c", "head -c 300000 /dev/zero >&2; cat"], os.urandom(1 << 20)),  # both pipes full at once
    (["sh", "-c", "head -c 10 >/dev/null; echo stopped"], b"x" * (1 << 20)),  # stops reading its input
    (["cat"], b""),
]


@pytest.mark.parametrize(("argv", "stdin"), COMMANDS)
def test_run_answers_as_subprocess_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, argv: list[str], stdin: bytes | None
) -> None:
    monkeypatch.chdir(tmp_path)  # outside any repository
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path.parent))
    done = subprocess.run(argv, input=stdin, capture_output=True, check=False)
    assert pipes.run(argv, stdin) == (done.returncode, done.stdout, done.stderr)


def test_the_child_has_default_signals_as_subprocess_gives_it() -> None:
    """SIGPIPE (which Python ignores) back to its default, nothing blocked. glibc's ``posix_spawn`` leaves its two
    internal signals (32 and 33, which no program can name) ignored in the child; glibc installs its own handlers
    for them in the child when it needs them, so they are left out of the comparison."""
    argv = ["grep", "-E", "^Sig(Ign|Blk)", "/proc/self/status"]

    def masks(output: bytes) -> dict[str, int]:
        found = dict(line.split(":\t") for line in output.decode().splitlines())
        return {name: int(value, 16) & ~((1 << 31) | (1 << 32)) for name, value in found.items()}

    code, out, err = pipes.run(argv)
    assert (code, err) == (0, b"")
    assert masks(out) == masks(subprocess.run(argv, capture_output=True, check=True).stdout)
    assert masks(out)["SigIgn"] & (1 << (signal.SIGPIPE - 1)) == 0


def test_a_missing_command_is_an_os_error() -> None:
    with pytest.raises(FileNotFoundError):
        pipes.run(["leakstop-no-such-command"])


def test_no_descriptor_is_left_open() -> None:
    before = set(os.listdir("/proc/self/fd"))
    for _ in range(20):
        pipes.run(["sh", "-c", "cat; echo e >&2"], b"data")
    assert set(os.listdir("/proc/self/fd")) == before


def test_on_path_is_shutil_which(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    executable, plain, directory = tmp_path / "x", tmp_path / "p", tmp_path / "d"
    for folder in (executable, plain, directory):
        folder.mkdir()
    (executable / "tool").write_text("#!/bin/sh\n")
    (executable / "tool").chmod(stat.S_IRWXU)
    (plain / "tool").write_text("not executable\n")
    (directory / "tool").mkdir()
    paths = [f"{plain}", f"{directory}", f"{plain}{os.pathsep}{executable}", "", f"{directory}{os.pathsep}{plain}"]
    for value in paths:
        monkeypatch.setenv("PATH", value)
        for name in ("tool", "git", "sh"):
            assert pipes.on_path(name) == (shutil.which(name) is not None), (value, name)
