"""``scanner.classcode``: dataclasses made with stored compiled code are the dataclasses Python makes, a warm table
compiles nothing, and a table that is not exactly text → code is ignored."""

from __future__ import annotations

import builtins
import dataclasses
import marshal
import subprocess
import sys
import textwrap
from pathlib import Path
from types import CodeType
from typing import Any

import pytest

from scanner import classcode

# Compiled from text (not this file's ``from __future__ import annotations``): real annotation objects, defaults,
# a factory, frozen and slots, a post-init, ordering: every method dataclasses writes.
_CLASSES = textwrap.dedent(
    """
    import dataclasses

    @dataclasses.dataclass(frozen=True, slots=True)
    class Point:
        x: int
        y: int = 2
        tags: tuple = ()

    @dataclasses.dataclass(order=True)
    class Box:
        name: str
        items: list = dataclasses.field(default_factory=list)
        size: int = dataclasses.field(default=0, compare=False)

        def __post_init__(self):
            self.name = self.name.strip()
    """
)


def make_classes(monkeypatch: pytest.MonkeyPatch, executor: Any) -> dict[str, Any]:
    monkeypatch.setattr(dataclasses, "exec", executor, raising=False)
    namespace: dict[str, Any] = {"__name__": "made"}
    builtins.exec(compile(_CLASSES, "<classes>", "exec", dont_inherit=True), namespace)
    return namespace


def behaviour(made: dict[str, Any]) -> list[Any]:
    point, box = made["Point"], made["Box"]
    p = point(1)
    b = box("  n ", size=3)
    frozen = False
    try:
        p.x = 5
    except dataclasses.FrozenInstanceError:
        frozen = True
    return [
        repr(p),
        p == point(1, 2, ()),
        hash(p) == hash(point(1)),
        frozen,
        repr(b),
        b == box("n"),
        box("a") < box("b"),
        point.__init__.__annotations__,
        box.__init__.__annotations__,
        [f.name for f in dataclasses.fields(point)],
        point.__doc__,
    ]


def test_stored_code_makes_the_same_classes(monkeypatch: pytest.MonkeyPatch) -> None:
    plain = make_classes(monkeypatch, builtins.exec)
    table: dict[str, CodeType] = {}
    cold_added: dict[str, CodeType] = {}
    cold = make_classes(monkeypatch, classcode.caching_exec(table, cold_added))
    warm_added: dict[str, CodeType] = {}
    warm = make_classes(monkeypatch, classcode.caching_exec(dict(cold_added), warm_added))
    assert len(cold_added) >= 8  # init, repr, eq, hash, setattr, delattr, and Box's order methods
    assert warm_added == {}  # a warm table compiles nothing
    assert behaviour(plain) == behaviour(cold) == behaviour(warm)
    assert behaviour(plain)[7] == {"x": int, "y": int, "tags": tuple, "return": None}  # not strings
    assert (
        plain["Point"].__init__.__code__.co_code
        == warm["Point"].__init__.__code__.co_code
        == cold["Point"].__init__.__code__.co_code
    )


def test_the_table_round_trips(tmp_path: Path) -> None:
    path = str(tmp_path / "sub" / "table.marshal")
    table = {"x = 1": compile("x = 1", "<string>", "exec")}
    classcode.write_table(path, table)
    assert classcode.read_table(path) == table
    assert [p.name for p in (tmp_path / "sub").iterdir()] == ["table.marshal"]  # no temporary file left


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"garbage",
        marshal.dumps(["x = 1"]),
        marshal.dumps({"x = 1": "not code"}),
        marshal.dumps({1: compile("x = 1", "<string>", "exec")}),
        marshal.dumps({str(i): compile("0", "<string>", "exec") for i in range(classcode.MAX_ENTRIES + 1)}),
    ],
)
def test_a_table_that_is_not_text_to_code_is_ignored(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "table.marshal"
    path.write_bytes(content)
    assert classcode.read_table(str(path)) == {}
    assert classcode.read_table(str(tmp_path / "absent")) == {}


def test_an_unwritable_place_costs_nothing(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    classcode.write_table(str(blocker / "table.marshal"), {"x": compile("x", "<string>", "exec")})  # no raise


def test_the_package_runs_with_it_installed() -> None:
    assert getattr(dataclasses, "exec", None) is not None  # scanner/__init__ installed it
    assert classcode.table_path().endswith(".marshal") and "__pycache__" in classcode.table_path()


def test_every_dataclass_on_the_hook_path_has_its_own_docstring() -> None:
    """A dataclass without a docstring gets one made with ``inspect.signature`` at creation: 26 of them cost the
    commit hook's start 1.4 ms. A fresh process imports what a scan of files or of a staged commit and its reports
    import, and lists the dataclasses of ours that got a made-up docstring."""
    program = textwrap.dedent(
        """
        import dataclasses, importlib, sys
        for name in ("scanner.cli.scan", "scanner.pipeline.runner", "scanner.sources.files",
                     "scanner.sources.git.staged", "scanner.report.text", "scanner.report.json_report",
                     "scanner.report.sarif"):
            importlib.import_module(name)
        print([
            f"{module.__name__}.{value.__name__}"
            for module in list(sys.modules.values()) if getattr(module, "__name__", "").startswith("scanner")
            for value in vars(module).values()
            if isinstance(value, type) and dataclasses.is_dataclass(value) and value.__module__ == module.__name__
            and (value.__doc__ or "").startswith(value.__name__ + "(")
        ])
        """
    )
    root = Path(__file__).resolve().parent.parent
    done = subprocess.run(
        [sys.executable, "-c", program], cwd=root, capture_output=True, text=True, check=True, timeout=120
    )
    assert done.stdout.strip() == "[]"


def test_the_hook_path_calls_no_compile() -> None:
    """The first ``compile()`` of a process builds the AST types (9 M instructions): the modules a scan of files or
    of a staged commit imports call none (misses of the dataclass-code table and of Python's bytecode aside)."""
    program = textwrap.dedent(
        """
        import builtins, importlib, sys
        calls, plain = [], builtins.compile
        def compile(*args, **kwargs):
            caller = sys._getframe(1).f_globals.get("__name__")
            if caller not in ("scanner.classcode", "importlib._bootstrap"):  # those compile only on a miss
                calls.append((caller, str(args[0])[:40]))
            return plain(*args, **kwargs)
        builtins.compile = compile
        for name in ("scanner.cli.scan", "scanner.pipeline.runner", "scanner.pipeline.setup",
                     "scanner.sources.files", "scanner.sources.git.staged"):
            importlib.import_module(name)
        print(calls)
        """
    )
    root = Path(__file__).resolve().parent.parent
    done = subprocess.run(
        [sys.executable, "-c", program], cwd=root, capture_output=True, text=True, check=True, timeout=120
    )
    assert done.stdout.strip() == "[]"
