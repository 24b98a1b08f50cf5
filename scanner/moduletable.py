"""The compiled code of the modules a ``leakstop scan`` start imports, in one table beside the package's bytecode.

The commit hook's run imports about 100 modules from source files after this package's ``__init__`` starts (ours
and the standard library's that are not frozen). Through the path finder each costs ~75 µs before its code runs:
the finder's directory check, ``stat`` of the source, open, read and validation of its ``.pyc``, the unmarshal,
and the import system's Python-level steps in between. ``install`` puts a finder just before the path finder
that serves a module from this table when everything the path finder's answer depends on is as it was when the
table was written; anything else falls through to the path finder, unchanged.

An entry is keyed as a ``.pyc`` is, and stricter: the module's search path (its parent package's ``__path__``, or
``sys.path``), the inode and mtime of every directory of it up to the one that held the module (a file added or
removed there, one that could shadow the module, changes that), and the source file's size, inode, mtime and
ctime (nanoseconds). The table is an index of those keys followed by each module's marshalled code, read with
``pread`` only when served: one table serves every command (each run adds what it imported that the table
lacked), and a module another command needs costs a start only its index row.

A served module is what the path finder makes: the same ``spec_from_file_location`` spec (``origin``,
``cached``, ``has_location``, ``submodule_search_locations``), and before its code runs its ``__loader__`` and
``__spec__.loader`` become a ``SourceFileLoader`` for its file (``get_source``, ``get_data``, resource readers,
``reload`` work as usual). The stored code is the code the ``.pyc`` holds (copied from it at exit), its
``co_filename`` set to the source path as the loader sets it (tracebacks, ``inspect``, coverage).

The table is written and trusted as ``.pyc`` files are (``pycachefile``): at exit of a run that imported modules
it lacked, only where Python writes bytecode. Racy files (git's term): a file or directory younger than
``SETTLE_NS`` when its entry is made is not recorded (a change within the clock's granularity could leave its
times as they were). A damaged or foreign table, or entry, is a miss.

Only the installed command installs it (``startup.is_the_command``): a program that imports ``scanner``, pytest
included, imports as usual. This module and those it imports load before it serves: none but builtin and frozen
ones (no ``typing``, no ``importlib`` package: its frozen parts directly).
"""

from __future__ import annotations

import _imp
import atexit
import marshal
import os
import sys
import time
from _frozen_importlib_external import MAGIC_NUMBER, PathFinder, SourceFileLoader, spec_from_file_location
from types import CodeType, ModuleType

from scanner import pycachefile

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence
    from importlib.machinery import ModuleSpec

TABLE_FORMAT = 1
MAX_ENTRIES = 2048  # modules: far above the few hundred all commands import; a table past it starts over
SETTLE_NS = 2_000_000_000
_LENGTH = 4  # bytes: the index's length, before it

Stat = tuple[int, ...] | None
# search path, index of the module's directory in it, is a package, origin, directories' stats, file's stat,
# and where its marshalled code is (offset from the end of the index, length)
Entry = tuple[tuple[str, ...], int, bool, str, tuple[Stat, ...], Stat, int, int]


def table_path() -> str:
    return pycachefile.table_path("module-code")


def _stat(path: str, whole: bool) -> Stat:
    """A file's (size, inode, mtime, ctime), a directory's (inode, mtime); None when absent."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_size, st.st_ino, st.st_mtime_ns, st.st_ctime_ns) if whole else (st.st_ino, st.st_mtime_ns)


class Table:
    """An open table: its index, and its file for the code (-1 and no entries when absent or not a table)."""

    def __init__(self, path: str) -> None:
        self.entries: dict[str, Entry] = {}
        self.base = self.size = 0
        try:
            self.fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        except OSError:
            self.fd = -1
            return
        try:
            self.size = os.fstat(self.fd).st_size
            length = int.from_bytes(os.pread(self.fd, _LENGTH, 0), "little")
            index = marshal.loads(self._read(_LENGTH, length))
        except (OSError, EOFError, ValueError, TypeError):
            return
        if type(index) is tuple and len(index) == 3 and index[:2] == (TABLE_FORMAT, sys.hexversion):
            entries = index[2]
            if type(entries) is dict and len(entries) <= MAX_ENTRIES:
                self.entries, self.base = entries, _LENGTH + length

    def _read(self, offset: int, length: int) -> bytes:
        if not 0 <= offset <= offset + length <= self.size:  # a damaged table: never a read past its end
            raise ValueError("outside the table")
        return os.pread(self.fd, length, offset)

    def code(self, entry: Entry) -> bytes:
        """A module's marshalled code (OSError, TypeError or ValueError from a damaged entry)."""
        return self._read(self.base + entry[6], entry[7])

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


def write_table(path: str, rows: dict[str, tuple[Entry, bytes]]) -> None:
    """The index of ``rows`` (their entries with the code's place filled in), then their code."""
    entries, offset = {}, 0
    for name, (entry, data) in rows.items():
        entries[name] = (*entry[:6], offset, len(data))
        offset += len(data)
    index = marshal.dumps((TABLE_FORMAT, sys.hexversion, entries))
    blob = b"".join(data for _, data in rows.values())
    pycachefile.write_bytes(path, len(index).to_bytes(_LENGTH, "little") + index + blob)


class _StoredLoader:
    """Runs a stored code object as the module's code, under the ``SourceFileLoader`` the path finder gives."""

    def __init__(self, code: CodeType) -> None:
        self.code = code

    def create_module(self, spec: ModuleSpec) -> None:
        return None  # the default module, as for a source file

    def exec_module(self, module: ModuleType) -> None:
        spec = module.__spec__
        assert spec is not None and spec.origin is not None
        spec.loader = module.__loader__ = SourceFileLoader(spec.name, spec.origin)
        exec(self.code, module.__dict__)


class TableFinder:
    """Serves modules from the table whose keys still match; records the rest for the table at exit."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.table = Table(path)
        self.asked: dict[str, tuple[str, ...]] = {}  # not served: name → the search path it was looked up on
        self.stale: set[str] = set()
        self.served: list[str] = []  # for tests and diagnostics
        self.pid = os.getpid()  # a forked worker that exits through ``atexit`` writes nothing
        self._dirs: dict[str, Stat] = {}  # this run's directory stats
        self._searches: dict[tuple[str, ...], tuple[str, ...]] = {}  # one tuple each: marshal writes it once

    def invalidate_caches(self) -> None:
        """``importlib.invalidate_caches``: a program that wrote modules wants directories looked at again."""
        self._dirs.clear()

    def _dir(self, path: str) -> Stat:
        if path not in self._dirs:
            self._dirs[path] = _stat(path, whole=False)
        return self._dirs[path]

    def find_spec(self, name: str, path: Sequence[str] | None = None, target: object = None) -> ModuleSpec | None:
        search = tuple(sys.path if path is None else path)
        spec = self._serve(name, search)
        if spec is None:
            self.asked[name] = self._searches.setdefault(search, search)
        else:
            self.served.append(name)
        return spec

    def _serve(self, name: str, search: tuple[str, ...]) -> ModuleSpec | None:
        entry = self.table.entries.get(name)
        if entry is None:
            return None
        try:
            found, hit, package, origin, dirs, source = entry[:6]
            if found != search:  # another search path (PYTHONPATH, a program's own): kept for the command's
                return None
            if not all(self._dir(search[i]) == dirs[i] for i in range(hit + 1)) or _stat(origin, whole=True) != source:
                self.stale.add(name)
                return None
            code = marshal.loads(self.table.code(entry))
        except (OSError, TypeError, ValueError, IndexError, EOFError):  # a damaged entry
            code = None
        if type(code) is not CodeType:
            self.stale.add(name)
            return None
        _imp._fix_co_filename(code, origin)  # type: ignore[attr-defined]  # as the loader does for a .pyc's code
        locations = [os.path.dirname(origin)] if package else None
        loader = _StoredLoader(code)
        return spec_from_file_location(name, origin, loader=loader, submodule_search_locations=locations)  # type: ignore[arg-type]  # no load_module

    def save(self) -> None:
        """Store what this run imported through the path finder that the table lacked or held stale, and drop the
        stale entries."""
        try:
            if not sys.dont_write_bytecode and os.getpid() == self.pid:
                self._save()
        finally:
            self.table.close()

    def _save(self) -> None:
        settled = time.time_ns() - SETTLE_NS
        added = {}
        for name, search in self.asked.items():
            try:
                row = _row(sys.modules.get(name), search, settled)
            except (OSError, ImportError, SyntaxError, ValueError):  # its source gone or changed since: not recorded
                continue
            if row is not None:
                added[name] = row
        if not added and not self.stale:
            return
        kept = [name for name in self.table.entries if name not in self.stale and name not in added]
        rows = {}
        if len(kept) + len(added) <= MAX_ENTRIES:
            try:
                rows = {name: (self.table.entries[name], self.table.code(self.table.entries[name])) for name in kept}
            except (OSError, ValueError, TypeError, IndexError):
                rows = {}  # a damaged table: start over
        write_table(self.path, {**rows, **added})


def _row(module: ModuleType | None, search: tuple[str, ...], settled: int) -> tuple[Entry, bytes] | None:
    """The entry and code of a module the path finder loaded from a source file in ``search``, or None (another
    loader, a relative or unsettled path, a name that resolved elsewhere)."""
    spec = getattr(module, "__spec__", None)
    if spec is None or type(spec.loader) is not SourceFileLoader or spec.origin is None:
        return None
    origin: str = spec.origin
    package = spec.submodule_search_locations is not None
    home = os.path.dirname(os.path.dirname(origin) if package else origin)
    if home not in search:
        return None
    hit = search.index(home)
    if not all(os.path.isabs(directory) for directory in search[: hit + 1]):
        return None
    dirs = tuple(_stat(directory, whole=False) for directory in search[: hit + 1])
    source = _stat(origin, whole=True)
    if source is None:
        return None
    if max(source[2], source[3], *(stat[1] for stat in dirs if stat is not None)) >= settled:
        return None  # racy: a change within the clock's granularity could leave these times as they are
    data = _bytecode(spec.loader, origin, spec.cached)
    if data is None:
        code = spec.loader.get_code(spec.name)
        if type(code) is not CodeType:
            return None
        data = marshal.dumps(code)
    return (search, hit, package, origin, dirs, source, 0, 0), data


def _bytecode(loader: SourceFileLoader, origin: str, cached: str | None) -> bytes | None:
    """The marshalled code in the module's ``.pyc`` when it is one the loader takes for the source as it is now
    (timestamp-checked: its mtime's seconds and size), without an unmarshal and marshal of its code again."""
    if cached is None:
        return None
    try:
        stats = loader.path_stats(origin)
        data = loader.get_data(cached)
    except OSError:
        return None
    mtime, size = int(stats["mtime"]) & 0xFFFFFFFF, int(stats["size"]) & 0xFFFFFFFF
    header = MAGIC_NUMBER + bytes(4) + mtime.to_bytes(4, "little") + size.to_bytes(4, "little")
    return data[16:] if data[:16] == header else None


def install() -> None:
    """Serve modules from the table from here on: a finder just before the path finder. Once per process."""
    if any(isinstance(finder, TableFinder) for finder in sys.meta_path) or PathFinder not in sys.meta_path:
        return
    if not hasattr(os, "pread"):  # Windows: the path finder as usual
        return
    finder = TableFinder(table_path())
    sys.meta_path.insert(sys.meta_path.index(PathFinder), finder)
    atexit.register(finder.save)
