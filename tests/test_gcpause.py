"""``scanner.startup``: the installed command pauses the cyclic collector over a scan's start-up and hands it back
running, with the start-up's objects frozen; other commands and in-process callers of ``main`` keep theirs.

The command runs in a fresh process (the collector's state is per process): a wrapper calls ``console`` as the
installed script does and prints the collector's state at the end (from an ``atexit`` handler: ``scan`` ends its
process in ``console``, after the handlers, ``scanner.shutdown``).
"""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from tokens import TokenFactory

from scanner import startup
from scanner.cli import main

_WRAPPER = (
    "import atexit, gc, json, sys\n"
    "from scanner.cli import console\n"
    "sys.argv = ['leakstop', *sys.argv[1:]]\n"
    "state = lambda: print(json.dumps([gc.isenabled(), gc.get_freeze_count()]), file=sys.stderr)\n"
    "atexit.register(state)\n"
    "raise SystemExit(console())\n"
)


def run_console(cwd: Path, *argv: str) -> tuple[int, str, bool, int]:
    root = Path(__file__).resolve().parent.parent
    env = {**os.environ, "PYTHONPATH": str(root), "LEAKSTOP_CACHE_DIR": str(cwd / "cache")}
    done = subprocess.run(
        [sys.executable, "-c", _WRAPPER, *argv], cwd=cwd, env=env, capture_output=True, text=True, check=False
    )
    enabled, frozen = json.loads(done.stderr.splitlines()[-1])
    return done.returncode, done.stdout, enabled, frozen


def test_a_scan_ends_with_the_collector_running_and_its_start_up_frozen(tmp_path: Path) -> None:
    (tmp_path / "small.py").write_text('"""A small module."""\n\nVALUE = 1\n')
    code, out, enabled, frozen = run_console(tmp_path, "scan", "small.py")
    assert code == 0 and "PASSED" in out
    assert enabled
    assert frozen > 10_000  # modules, classes, the rules: what start-up built


def test_a_secret_is_found_the_same_through_the_paused_start_up(
    tmp_path: Path, tokens: TokenFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "app.py").write_text(f'TOKEN = "{tokens.github_clean()}"\n')
    code, out, enabled, _ = run_console(tmp_path, "scan", "app.py", "--format", "json")
    assert code == 1 and enabled
    monkeypatch.chdir(tmp_path)
    assert main(["scan", "app.py", "--format", "json", "--output", "in-process.json"]) == 1
    in_process = json.loads((tmp_path / "in-process.json").read_text())
    assert json.loads(out)["findings"] == in_process["findings"] != []


def test_other_commands_keep_the_collector_as_it_was(tmp_path: Path) -> None:
    code, out, enabled, frozen = run_console(tmp_path, "rules", "list")
    assert code == 0 and out
    assert enabled and frozen == 0


def test_main_in_process_does_not_touch_the_collector(tmp_path: Path) -> None:
    (tmp_path / "small.py").write_text("VALUE = 1\n")
    before = gc.get_freeze_count()
    assert main(["scan", str(tmp_path / "small.py"), "--no-progress"]) == 0
    assert gc.isenabled() and gc.get_freeze_count() == before


def test_settle_without_a_pause_does_nothing_and_a_disabled_collector_stays_off() -> None:
    before = gc.get_freeze_count()
    startup.settle()
    assert gc.isenabled() and gc.get_freeze_count() == before
    gc.disable()
    try:
        startup.pause()  # the caller's choice: not ours to restart
        startup.settle()
        assert not gc.isenabled() and gc.get_freeze_count() == before
    finally:
        gc.enable()


# The installed script, as pip writes it, under the command's name; it counts the collections the package's import
# makes from ``scanner.deferinspect``, its first import after the pause, on (finding the package, or compiling its
# ``__init__`` where no bytecode is written, comes before any line of it can pause the collector).
_SCRIPT = (
    "import gc, sys\n"
    "made = []\n"
    "count = lambda phase, info: made.append(phase) if 'scanner.deferinspect' in sys.modules else None\n"
    "gc.callbacks.append(count)\n"
    "from scanner.cli import console\n"
    "print(len(made), file=sys.stderr)\n"
    "sys.exit(console())\n"
)


@pytest.mark.parametrize(("name", "paused"), [("leakstop", True), ("other-tool", False)])
def test_the_command_s_scan_imports_the_package_without_a_collection(tmp_path: Path, name: str, paused: bool) -> None:
    """``scanner.startup.is_the_command``: the collector is paused from the package's first line when the
    process is ``leakstop scan``, and a program with another name that imports the package keeps it running."""
    script = tmp_path / name
    script.write_text(_SCRIPT)
    (tmp_path / "small.py").write_text("VALUE = 1\n")
    root = Path(__file__).resolve().parent.parent
    env = {**os.environ, "PYTHONPATH": str(root), "LEAKSTOP_CACHE_DIR": str(tmp_path / "cache")}
    command = [sys.executable, str(script), "scan", "small.py"]
    done = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0 and "PASSED" in done.stdout
    collections = int(done.stderr.splitlines()[0])
    assert (collections == 0) is paused  # importing the package makes tens of thousands of objects
