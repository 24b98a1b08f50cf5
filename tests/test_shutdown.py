"""``scanner.shutdown``: ``leakstop scan`` ends its process after the interpreter's visible exit steps (threads,
``atexit`` handlers, the standard streams' flush) and skips the teardown; where it cannot match the interpreter it
leaves the exit to it. Each case runs the command in a fresh process: the exit is the thing tested.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from tokens import TokenFactory

from scanner import regexcode
from scanner.cli import main
from scanner.ruleset.load import load_ruleset

ROOT = Path(__file__).resolve().parent.parent

# As the installed script calls the command, with what a test adds before it: an atexit handler, an object whose
# finaliser runs at the interpreter's teardown (printed only where the teardown runs), or a thread.
_PREAMBLE = (
    "import atexit, sys, threading\n"
    "atexit.register(lambda: print('atexit ran', file=sys.stderr))\n"
    "class Teardown:\n"
    "    def __del__(self):\n"
    "        print('teardown ran', file=sys.stderr)\n"
    "KEEP = Teardown()\n"
)
# A thread that ends once the main thread has ended (the interpreter's shutdown has begun), then the interpreter
# joins it: an ``os._exit`` from the main thread would cut it off before it prints.
_THREAD = (
    "def late():\n"
    "    threading.main_thread().join()\n"
    "    print('thread ended', file=sys.stderr)\n"
    "threading.Thread(target=late).start()\n"
)
_COMMAND = "from scanner.cli import console\nsys.argv = ['leakstop', *sys.argv[1:]]\nraise SystemExit(console())\n"


def run(cwd: Path, code: str, *argv: str, bytecode: bool = False) -> subprocess.CompletedProcess[str]:
    """``code`` in a fresh interpreter; ``bytecode``: where Python writes bytecode (and so the stored tables)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "LEAKSTOP_CACHE_DIR": str(cwd / "cache")}
    if bytecode:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
    command = [sys.executable, "-c", code, *argv]
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, check=False)


def test_a_scan_ends_after_its_output_and_atexit_handlers_without_the_teardown(
    tmp_path: Path, tokens: TokenFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "app.py").write_text(f'TOKEN = "{tokens.github_clean()}"\n')
    done = run(tmp_path, _PREAMBLE + _COMMAND, "scan", "app.py", "--format", "json")
    assert done.returncode == 1  # blocked: the exit code goes through
    assert done.stderr.splitlines() == ["atexit ran"]  # the handlers ran, the teardown did not
    monkeypatch.chdir(tmp_path)
    assert main(["scan", "app.py", "--format", "json", "--output", "in-process.json"]) == 1
    in_process = json.loads((tmp_path / "in-process.json").read_text())
    assert json.loads(done.stdout)["findings"] == in_process["findings"] != []  # all of the output, flushed


def test_the_regexes_a_scan_compiled_are_stored_at_its_end(tmp_path: Path, tokens: TokenFactory) -> None:
    """``regexcode.save`` is an ``atexit`` handler: the table holds the rule the scan compiled."""
    table = tmp_path / "regex-code.marshal"
    (tmp_path / "app.py").write_text(f'TOKEN = "{tokens.github_clean()}"\n')
    here = f"from scanner import pycachefile\npycachefile.table_path = lambda stem: {str(table)!r}\n"
    done = run(tmp_path, here + _PREAMBLE + _COMMAND, "scan", "app.py", bytecode=True)
    assert done.returncode == 1 and done.stderr.splitlines() == ["atexit ran"]
    github = next(r for r in load_ruleset().rules if r.spec.id == "github-pat")
    assert (github.spec.regex.encode(), 0) in regexcode.read_table(str(table))


def test_other_commands_exit_through_the_interpreter(tmp_path: Path) -> None:
    done = run(tmp_path, _PREAMBLE + _COMMAND, "rules", "list")
    assert done.returncode == 0 and done.stdout
    assert done.stderr.splitlines() == ["atexit ran", "teardown ran"]


def test_a_running_thread_leaves_the_exit_to_the_interpreter(tmp_path: Path) -> None:
    """The interpreter joins a non-daemon thread before its exit; ending the process would cut it off."""
    (tmp_path / "small.py").write_text("VALUE = 1\n")
    done = run(tmp_path, _PREAMBLE + _THREAD + _COMMAND, "scan", "small.py")
    assert done.returncode == 0 and "PASSED" in done.stdout
    assert done.stderr.splitlines()[:2] == ["thread ended", "atexit ran"]


def test_a_stream_that_cannot_be_flushed_is_reported_by_the_interpreter_as_before(tmp_path: Path) -> None:
    """stdout's reader is gone: the interpreter's own flush reports it and exits 120; ``end`` returns to it."""
    code = (
        "import os, sys\n"
        "from scanner import shutdown\n"
        "read, write = os.pipe()\n"
        "os.close(read)\n"  # the reader is gone: a write fails (EPIPE; Python ignores SIGPIPE)
        "sys.stdout = open(write, 'w')\n"
        "sys.stdout.write('x' * 100)\n"  # still in the buffer: the flush at exit writes it
        "shutdown.end(0)\n"
        "print('returned', file=sys.stderr)\n"
    )
    done = run(tmp_path, code)
    assert done.returncode == 120
    assert "returned" in done.stderr and "Exception ignored" in done.stderr
