"""The built-in rules' text fields (names, descriptions, tags, examples, references), read on first use.

The commit hook loads every built-in rule at every start but reads these fields only to report a finding, to
validate one, for ``rules list`` or ``rules check``, or to decide a large file's search (``detect.linewindow``):
they were two thirds of the rules table's 631 KB and of the 22 M instructions its load cost (callgrind, ``scan
--staged``). The table (``builtintable``) keeps them in a file of their own; a spec built from it holds every other
field and a ``Text`` in place of these, and ``RuleSpec.__getattr__`` (called only for an attribute the instance
does not hold) asks it for them. The spec then holds them as any other spec does: equality, hashing, ``repr``,
``replace``, pickling (``RuleSpec.__getstate__``) and every report see the same values as before.

A text file that is absent or damaged (its CRC-32 differs, or its shape) is a miss as a damaged table is: the rule
files are read again through the cache directory (``reread``) and the table written anew; a rule that is then gone
is an error.
"""

from __future__ import annotations

import dataclasses
import marshal
import threading
import zlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from scanner import pycachefile
from scanner.errors import ConfigError

TEXT_FIELDS = ("name", "description", "tags", "examples", "negative_examples", "references")
UNREAD = "_text"  # the key of a stored spec's ``Text`` in its ``__dict__`` until its text fields are read
Fields = Mapping[str, object]
T = TypeVar("T")


class Text:
    """The text part of one table read: its rows, unmarshalled at the first spec that asks, by rule id."""

    def __init__(self, path: str, crc: int, reread: Callable[[], dict[str, Fields]]) -> None:
        self._path, self._crc, self._reread = path, crc, reread
        self._by_id: dict[str, Fields] | None = None
        self._lock = threading.Lock()  # two threads asking at once: both wait for the one read

    def fill(self, spec: Any) -> None:
        """Give ``spec`` its text fields (if it does not hold them yet) and forget this part there."""
        with self._lock:
            held = spec.__dict__
            if UNREAD not in held:
                return
            if self._by_id is None:
                self._by_id = parse(pycachefile.read(self._path), self._crc) or self._reread()
            fields = self._by_id.get(held["id"])
            if fields is None:
                raise ConfigError(f"built-in rule {held['id']}: gone from the rule files while they were loaded")
            held.update(fields)
            del held[UNREAD]


def to_bytes(specs: Sequence[Any]) -> bytes:
    """The text part: each rule's id and its ``TEXT_FIELDS`` values, in that order."""
    return marshal.dumps((TEXT_FIELDS, [(spec.id, tuple(getattr(spec, n) for n in TEXT_FIELDS)) for spec in specs]))


def by_id(specs: Sequence[Any]) -> dict[str, Fields]:
    """The specs' text fields by rule id (what ``parse`` gives, from specs read from the rule files)."""
    return {spec.id: {name: getattr(spec, name) for name in TEXT_FIELDS} for spec in specs}


def parse(data: object, crc: int) -> dict[str, Fields] | None:
    """The text part's fields by rule id, or None when it is absent or damaged (as trusted as the package's
    bytecode: its layout is checked, not every value's type)."""
    if type(data) is not bytes or zlib.crc32(data) != crc:
        return None
    try:
        value = marshal.loads(data)
    except (EOFError, ValueError, TypeError):
        return None
    if type(value) is not tuple or len(value) != 2 or value[0] != TEXT_FIELDS or type(value[1]) is not list:
        return None
    rows = value[1]
    if not all(
        type(r) is tuple and len(r) == 2 and type(r[1]) is tuple and len(r[1]) == len(TEXT_FIELDS) for r in rows
    ):
        return None
    return {rule_id: dict(zip(TEXT_FIELDS, row, strict=True)) for rule_id, row in rows}


def read_later(cls: type[T]) -> type[T]:
    """The class (``RuleSpec``) with ``text_field`` for its ``__getattr__`` (set here, out of mypy's sight: it
    would take any attribute name for one), a ``__getstate__`` that reads the text fields before a spec is
    pickled (the unpickled one could not read them), and no class attribute for them (a field's default would
    answer for an unread field)."""
    for name in TEXT_FIELDS:
        if name in cls.__dict__:
            delattr(cls, name)
    setattr(cls, "__getattr__", text_field)  # noqa: B010
    setattr(cls, "__getstate__", every_field)  # noqa: B010
    return cls


def every_field(spec: Any) -> dict[str, Any]:
    return {f.name: getattr(spec, f.name) for f in dataclasses.fields(spec)}


def text_field(spec: Any, name: str) -> Any:
    """``RuleSpec.__getattr__``: a stored spec's text field, read now; any other missing attribute is an error."""
    if name in TEXT_FIELDS:
        text = spec.__dict__.get(UNREAD)
        if text is not None:
            text.fill(spec)
        if name in spec.__dict__:  # also when another thread has just filled it
            return spec.__dict__[name]
    raise AttributeError(f"{type(spec).__name__!r} object has no attribute {name!r}")
