"""The code ``dataclasses`` generates for our classes, compiled once per install instead of at every start.

``@dataclass`` writes each class's ``__init__``, ``__repr__``, ``__eq__``, ``__hash__`` and (frozen)
``__setattr__``/``__delattr__`` as source text and compiles it with ``exec``: about 0.5 ms a class, nine tenths
of it the compiler. The commit hook's run creates 50-odd dataclasses, so a quarter of its time went there.

``install`` gives ``dataclasses`` (its module namespace only: the one ``exec`` call it makes on every version
from 3.10 to 3.13) an ``exec`` that looks the text up in a table of code objects compiled from exactly that text,
and compiles (as ``exec`` would: the same file name, no inherited ``__future__`` flags) only what it has not
seen. The generated functions are the same; only the compiler run is skipped.

The table lives where Python keeps this package's bytecode and is written and trusted as ``.pyc`` files are
(``pycachefile``). A table that is not exactly a dict of text to code objects is ignored and rewritten.
"""

from __future__ import annotations

import builtins
import dataclasses
import sys
from collections.abc import Callable
from types import CodeType
from typing import Any

from scanner import pycachefile

MAX_ENTRIES = 4096  # texts: far above the package's few hundred; a table past it starts over
_STATE: dict[str, Any] = {}


def table_path() -> str:
    return pycachefile.table_path("dataclass-code")


def read_table(path: str) -> dict[str, CodeType]:
    """The stored table, or an empty one when it is absent, damaged or not exactly text → code."""
    table = pycachefile.read(path)
    if type(table) is not dict or len(table) > MAX_ENTRIES:
        return {}
    if not all(type(key) is str and type(code) is CodeType for key, code in table.items()):
        return {}
    return table


write_table = pycachefile.write


def caching_exec(table: dict[str, CodeType], added: dict[str, CodeType]) -> Callable[..., None]:
    """``exec`` for dataclasses.py: source text found in ``table`` runs its stored code; other text is compiled as
    ``exec`` would compile it and recorded in ``added``."""

    def cached_exec(source: Any, globals_: Any = None, locals_: Any = None) -> None:
        if type(source) is str:
            code = table.get(source) or added.get(source)
            if code is None:
                # What ``exec(source)`` compiles inside dataclasses.py: "<string>", and no __future__ flags from
                # this module (``annotations`` would turn the generated annotations into strings).
                code = added[source] = compile(source, "<string>", "exec", dont_inherit=True)
            source = code
        builtins.exec(source, globals_, locals_)

    return cached_exec


def install() -> None:
    """From here on, dataclasses created in this process reuse the stored compiled code. Idempotent."""
    if _STATE:
        return
    path = table_path()
    table = read_table(path)
    added: dict[str, CodeType] = {}
    dataclasses.exec = caching_exec(table, added)  # type: ignore[attr-defined]  # shadows the builtin there
    _STATE.update(path=path, table=table, added=added)
    import atexit

    atexit.register(save)


def save() -> None:
    """Store what this run compiled that the table did not hold (at exit: once, after every import)."""
    added = _STATE.get("added")
    if not added or sys.dont_write_bytecode:
        return
    table = {**_STATE["table"], **added}
    write_table(_STATE["path"], table if len(table) <= MAX_ENTRIES else dict(added))
    added.clear()
