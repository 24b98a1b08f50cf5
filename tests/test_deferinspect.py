"""``dataclasses`` gets ``inspect`` only when it needs it (scanner/deferinspect.py): each case in a fresh process,
since what is imported first decides what happens."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run(program: str) -> str:
    """``program`` in a fresh interpreter without coverage (its start-up imports ``inspect`` before ours)."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("COVERAGE_")}
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(program)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_inspect_is_imported_at_the_first_use_and_is_then_the_real_module() -> None:
    out = run(
        """
        import sys, types
        import scanner, dataclasses
        print("inspect" in sys.modules)

        @dataclasses.dataclass(frozen=True)
        class Undocumented:
            size: int
            name: str = "x"

        import inspect
        print(Undocumented.__doc__, type(inspect) is types.ModuleType, inspect is sys.modules["inspect"])
        print(inspect.signature(Undocumented))
        """
    )
    assert out.splitlines() == [
        "False",
        "Undocumented(size: int, name: str = 'x') True True",
        "(size: int, name: str = 'x') -> None",
    ]


def test_a_program_that_imported_inspect_first_keeps_it_for_dataclasses() -> None:
    out = run(
        """
        import inspect
        import scanner, dataclasses
        print(dataclasses.inspect is inspect)
        """
    )
    assert out == "True"
