"""A hostile environment around an ordinary scan: read-only home and cache, no TTY, the C locale, stdout closed
early, a full disk under the output file, odd variables, an interrupt (one case per class)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from tokens import TokenFactory

from .harness import Sandbox


def _tree(sandbox: Sandbox, tokens: TokenFactory, name: str = "k.env") -> Path:
    tree = sandbox.work / "tree"
    tree.mkdir(exist_ok=True)
    (tree / name).write_text(f"GITHUB_TOKEN={tokens.github_clean()}\n")
    return tree


def _read_only(path: Path) -> None:
    for directory, _dirs, files in os.walk(path):
        for name in files:
            os.chmod(os.path.join(directory, name), 0o444)
        os.chmod(directory, 0o555)


def test_read_only_home_and_cache(sandbox: Sandbox, config: Path, tokens: TokenFactory) -> None:
    tree = _tree(sandbox, tokens)
    if os.geteuid() == 0:  # root writes through file modes: /proc takes no new directory, even from root
        env = {"HOME": "/proc/leakstop-home", "LEAKSTOP_CACHE_DIR": "/proc/leakstop-cache"}
    else:
        _read_only(sandbox.root / "home")
        _read_only(sandbox.root / "cache")
        env = {}
    sandbox.run(["scan", "--no-progress", "--config", config, tree], env=env).check(1, "k.env")


def test_cache_dir_that_is_a_file(sandbox: Sandbox, config: Path, tokens: TokenFactory) -> None:
    tree = _tree(sandbox, tokens)
    blocker = sandbox.root / "home" / "cache-file"
    blocker.write_text("not a directory")
    outcome = sandbox.run(["scan", "--config", config, tree], env={"LEAKSTOP_CACHE_DIR": str(blocker / "sub")})
    outcome.written = [w for w in outcome.written if w != "home/cache-file"]
    outcome.check(1, "k.env")


def test_no_tty_and_no_terminal_variables(sandbox: Sandbox, config: Path, tokens: TokenFactory) -> None:
    tree = _tree(sandbox, tokens)
    outcome = sandbox.run(["scan", "--config", config, tree], env={"TERM": None, "COLUMNS": None, "LINES": None})
    outcome.check(1, "k.env")
    assert "\x1b[" not in outcome.stdout  # no colour without a terminal


def test_c_locale_with_non_ascii_names(sandbox: Sandbox, config: Path, tokens: TokenFactory) -> None:
    tree = _tree(sandbox, tokens, name="sécrets-中.env")
    env = {"LANG": "C", "LC_ALL": "C", "PYTHONIOENCODING": None, "PYTHONUTF8": "0"}
    sandbox.run(["scan", "--no-progress", "--config", config, tree], env=env).check(1, ".env")


def test_stdout_closed_early(sandbox: Sandbox, config: Path, tokens: TokenFactory) -> None:
    tree = sandbox.work / "tree"
    tree.mkdir()
    for index in range(300):
        (tree / f"k{index}.env").write_text(f"GITHUB_TOKEN={tokens.github_clean()}\n")
    read, write = os.pipe()
    os.close(read)  # the reader is gone before the report is written
    with os.fdopen(write, "wb") as closed:
        outcome = sandbox.run(["scan", "--no-progress", "--config", config, "--verbose", tree], stdout=closed)
    outcome.check({0, 1})


def test_disk_full_on_the_output_file(sandbox: Sandbox, config: Path, tokens: TokenFactory) -> None:
    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full: no way to fill a disk here without mounting one")
    tree = _tree(sandbox, tokens)
    outcome = sandbox.run(["scan", "--config", config, "--format", "json", "--output", "/dev/full", tree])
    outcome.check(2, "/dev/full")


def test_output_into_a_missing_directory(sandbox: Sandbox, config: Path, tokens: TokenFactory) -> None:
    tree = _tree(sandbox, tokens)
    target = sandbox.work / "out" / "no" / "such" / "dir" / "report.json"
    sandbox.run(["scan", "--config", config, "--output", target, tree]).check(2, "report.json")


def test_unknown_engine_variable(sandbox: Sandbox, config: Path, tokens: TokenFactory) -> None:
    tree = _tree(sandbox, tokens)
    sandbox.run(["scan", "--config", config, tree], env={"LEAKSTOP_ENGINE": "quantum"}).check({1, 2}, "k.env")


def test_fingerprint_key_of_odd_bytes(sandbox: Sandbox, config: Path, tokens: TokenFactory) -> None:
    tree = _tree(sandbox, tokens)
    env = {"LEAKSTOP_FINGERPRINT_KEY": "\udcff\x01key"}
    sandbox.run(["scan", "--config", config, tree], env=env).check({1, 2})


def test_unknown_option_suggests_and_names_it(sandbox: Sandbox, config: Path) -> None:
    outcome = sandbox.run(["scan", "--histroy", sandbox.work])
    assert outcome.code == 2 and "--histroy" in outcome.stderr
    assert "Traceback" not in outcome.stderr


def test_interrupt_while_reading_stdin(sandbox: Sandbox, config: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "scanner", "scan", "--no-progress", "--config", str(config), "-"],
        stdin=subprocess.PIPE,  # never written to: the scan waits for input
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=sandbox.env(),
        start_new_session=True,
    )
    time.sleep(1.5)
    started = time.monotonic()
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert time.monotonic() - started < 2
    assert proc.returncode == 130, err
    assert b"Traceback" not in err and err.decode().strip() == "leakstop: interrupted"
    assert b"PASSED" not in out
    assert os.listdir(sandbox.root / "tmp") == []
