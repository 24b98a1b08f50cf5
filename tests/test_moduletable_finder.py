"""``scanner.moduletable``'s finder in this process (coverage sees it here; tests/test_moduletable.py runs the
command): a save records the modules imported through the path finder, the next import is served from the table
and looks as the first did, a changed source is read again; nothing is written where Python writes no bytecode or
from a forked worker; a table whose index points past its end reads nothing."""

from __future__ import annotations

import atexit
import compileall
import importlib
import inspect
import marshal
import sys
import time
from collections.abc import Iterator
from importlib.machinery import PathFinder
from pathlib import Path

import pytest

from scanner import moduletable


def _entries_of(path: Path) -> dict[str, moduletable.Entry]:
    table = moduletable.Table(str(path))
    table.close()
    return table.entries


@pytest.fixture
def bundled(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A package ``bundled`` (with a module ``leaf``) on ``sys.path`` with its bytecode, settled at once."""
    root = tmp_path / "site"
    (root / "bundled").mkdir(parents=True)
    (root / "bundled" / "__init__.py").write_text("VALUE = 1\n")
    (root / "bundled" / "leaf.py").write_text("def where():\n    return where.__code__.co_filename\n")
    compileall.compile_dir(root, quiet=1)
    monkeypatch.syspath_prepend(str(root))
    monkeypatch.setattr(moduletable, "SETTLE_NS", 0)
    monkeypatch.setattr(sys, "dont_write_bytecode", False)
    time.sleep(0.02)  # the files' times are now in the past
    yield root
    for name in ("bundled", "bundled.leaf"):
        sys.modules.pop(name, None)


def _import_leaf(table: Path) -> tuple[moduletable.TableFinder, dict[str, object]]:
    """Import ``bundled.leaf`` afresh with a finder on ``table`` before the path finder; what an importer sees."""
    for name in ("bundled", "bundled.leaf"):
        sys.modules.pop(name, None)
    finder = moduletable.TableFinder(str(table))
    sys.meta_path.insert(sys.meta_path.index(PathFinder), finder)
    try:
        leaf = importlib.import_module("bundled.leaf")
    finally:
        sys.meta_path.remove(finder)
    package = sys.modules["bundled"]
    seen = {
        name: (m.__file__, m.__cached__, getattr(m, "__path__", None), type(m.__loader__), m.__spec__.origin)
        for name, m in (("bundled", package), ("bundled.leaf", leaf))
    }
    seen["where"] = leaf.where()
    seen["source"] = inspect.getsource(leaf)
    return finder, seen


def test_in_process_a_save_records_the_modules_and_the_next_import_is_served(bundled: Path, tmp_path: Path) -> None:
    table = tmp_path / "table.marshal"
    first, plain = _import_leaf(table)
    assert first.served == [] and {"bundled", "bundled.leaf"} <= set(first.asked)
    first.save()
    assert {"bundled", "bundled.leaf"} <= set(_entries_of(table))
    second, served = _import_leaf(table)
    second.save()  # nothing new: not rewritten
    assert second.served == ["bundled", "bundled.leaf"] and served == plain
    assert served["where"] == str(bundled / "bundled" / "leaf.py")
    (bundled / "bundled" / "leaf.py").write_text("def where():\n    return 'changed'\n")
    third, _ = _import_leaf(table)
    assert third.served == ["bundled"] and third.stale == {"bundled.leaf"}
    assert sys.modules["bundled.leaf"].where() == "changed"


def test_in_process_nothing_is_written_without_bytecode_or_from_a_forked_worker(
    bundled: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    table = tmp_path / "table.marshal"
    finder, _ = _import_leaf(table)
    finder.pid = -1  # as in a worker forked after the finder was made
    finder.save()
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    finder, _ = _import_leaf(table)
    finder.save()
    assert not table.exists()


def test_install_puts_one_finder_before_the_path_finder(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "meta_path", list(sys.meta_path))
    moduletable.install()
    moduletable.install()
    finders = [finder for finder in sys.meta_path if isinstance(finder, moduletable.TableFinder)]
    assert len(finders) == 1 and sys.meta_path.index(finders[0]) + 1 == sys.meta_path.index(PathFinder)
    atexit.unregister(finders[0].save)
    finders[0].table.close()
    assert finders[0]._dir(str(Path.cwd())) is not None and finders[0]._dirs  # a directory's stat, kept ...
    importlib.invalidate_caches()
    assert finders[0]._dirs == {}  # ... until the import system's caches are invalidated


def test_a_table_whose_index_points_past_its_end_reads_nothing(tmp_path: Path) -> None:
    path = tmp_path / "table.marshal"
    entry = (("/nowhere",), 0, False, "/nowhere/x.py", (None,), None, 0, 10**12)
    index = marshal.dumps((moduletable.TABLE_FORMAT, sys.hexversion, {"x": entry}))
    path.write_bytes(len(index).to_bytes(4, "little") + index)
    finder = moduletable.TableFinder(str(path))
    assert set(finder.table.entries) == {"x"}
    assert finder.find_spec("x", ["/nowhere"]) is None and finder.stale == {"x"}
    finder.table.close()
    path.write_bytes(b"\x00\x00\x00\x10not a table")
    assert moduletable.Table(str(path)).entries == {}
