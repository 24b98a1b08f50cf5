"""The parsed rule specs as the on-disk cache holds them: ``marshal`` of plain values, one row per rule.

Every start loads every spec (the commit hook's too). The JSON form it replaces cost about 11 ms for the built-in
rules (5 ms to parse 0.9 MB of JSON, 6 ms to check and build 610 frozen dataclasses through their ``__init__``);
this one about 3 ms. ``marshal`` is data here: rows of strings, numbers, booleans and tuples of strings, in the
order of ``RuleSpec``'s fields. An entry is data from a file anyone with write access to the cache directory could
have planted (``marshal.loads`` runs no code): a read checks the whole shape and that every field has the type the
dataclass declares (a severity one of its words), or the whole entry is a miss and the rule files are parsed again.
Only then are the specs built, without ``__init__``: the checks are the ones ``__init__`` would not make anyway.
"""

from __future__ import annotations

import dataclasses
import marshal
from collections.abc import Sequence
from typing import Any, get_args

from scanner.models import Confidence, Severity
from scanner.ruleset.model import RuleSpec

# Bump with the row layout; the cache entry's name also carries marshal's version.
ROW_FORMAT = 1
_WORDS = {"Severity": set(get_args(Severity)), "Confidence": set(get_args(Confidence))}
_NAMES = tuple(field.name for field in dataclasses.fields(RuleSpec))
_KINDS = tuple(str(field.type) for field in dataclasses.fields(RuleSpec))


def entry_name(key: str) -> str:
    """The cache entry's name for the rules whose content hash is ``key``."""
    return f"rules-{key[:32]}-m{marshal.version}.{ROW_FORMAT}"


def specs_to_bytes(specs: Sequence[RuleSpec]) -> bytes:
    rows = [tuple(getattr(spec, name) for name in _NAMES) for spec in specs]
    return marshal.dumps((ROW_FORMAT, _NAMES, rows))


def specs_from_bytes(data: bytes | None) -> list[RuleSpec] | None:
    """The specs of an entry, or None (a miss: the caller parses the rule files) unless every row checks out."""
    if data is None:
        return None
    try:
        value = marshal.loads(data)
    except (EOFError, ValueError, TypeError):
        return None
    if type(value) is not tuple or len(value) != 3 or value[0] != ROW_FORMAT or value[1] != _NAMES:
        return None
    rows = value[2]
    if type(rows) is not list or not all(_well_typed(row) for row in rows):
        return None
    return [_spec(row) for row in rows]


def _well_typed(row: Any) -> bool:
    if type(row) is not tuple or len(row) != len(_KINDS):
        return False
    for kind, item in zip(_KINDS, row, strict=True):
        if kind == "str":
            if type(item) is not str:
                return False
        elif kind == "tuple[str, ...]":
            if type(item) is not tuple or not all(type(part) is str for part in item):
                return False
        elif not _checked(kind, item):
            return False
    return True


def _checked(kind: str, value: Any) -> bool:
    """Whether ``value`` has the declared type ``kind`` (the fields other than strings and string tuples)."""
    if kind in _WORDS:
        return type(value) is str and value in _WORDS[kind]  # a list or dict is not hashable: no lookup
    if kind == "float":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kind == "int | None":
        return value is None or (isinstance(value, int) and not isinstance(value, bool))
    if kind == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, {"bool": bool}[kind])


def _spec(row: tuple[Any, ...]) -> RuleSpec:
    """A checked row as a spec: the frozen dataclass's fields set as its ``__init__`` sets them (RuleSpec has no
    ``__post_init__``; tests/test_speccache.py holds the result equal to ``RuleSpec(**fields)``)."""
    spec = object.__new__(RuleSpec)
    spec.__dict__.update(zip(_NAMES, row, strict=True))
    return spec
