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
from itertools import chain
from typing import Any, get_args

from scanner.models import Confidence, Severity
from scanner.ruleset.model import CompiledRule, RuleSpec
from scanner.ruleset.spectext import TEXT_FIELDS, UNREAD, Text

# Bump with the row layout; the cache entry's name also carries marshal's version.
ROW_FORMAT = 1
_WORDS = {"Severity": set(get_args(Severity)), "Confidence": set(get_args(Confidence))}
_TYPES: dict[str, set[type]] = {
    "str": {str},
    "bool": {bool},
    "int": {int},
    "int | None": {int, type(None)},
    "float": {int, float},
}
_NAMES = tuple(field.name for field in dataclasses.fields(RuleSpec))
_KINDS = tuple(str(field.type) for field in dataclasses.fields(RuleSpec))
CORE_NAMES = tuple(name for name in _NAMES if name not in TEXT_FIELDS)  # the built-in table's first part


def entry_name(key: str) -> str:
    """The cache entry's name for the rules whose content hash is ``key``."""
    return f"rules-{key[:32]}-m{marshal.version}.{ROW_FORMAT}"


def specs_to_bytes(specs: Sequence[RuleSpec]) -> bytes:
    rows = [tuple(getattr(spec, name) for name in _NAMES) for spec in specs]
    return marshal.dumps((ROW_FORMAT, _NAMES, rows))


def specs_from_bytes(data: bytes | None, trusted: bool = False) -> list[RuleSpec] | None:
    """The specs of an entry, or None (a miss: the caller parses the rule files) unless every row checks out.
    ``trusted`` rows (the package's own table, ``builtintable``) are checked for their layout, not every field's
    type: they are as trusted as the package's bytecode."""
    rows = None if data is None else _rows(data, _NAMES)
    if rows is None or not _well_typed(rows, trusted):
        return None
    return [_spec(row) for row in rows]


def _rows(data: bytes, names: tuple[str, ...]) -> list[Any] | None:
    """The rows of a marshalled ``(ROW_FORMAT, names, rows)``, or None when it is not one."""
    try:
        value = marshal.loads(data)
    except (EOFError, ValueError, TypeError):
        return None
    if type(value) is not tuple or len(value) != 3 or value[0] != ROW_FORMAT or value[1] != names:
        return None
    return value[2] if type(value[2]) is list else None


def stored_rows(specs: Sequence[RuleSpec]) -> bytes:
    """The built-in table's rows: each spec's ``CORE_NAMES`` fields as the dict its ``__dict__`` becomes."""
    return marshal.dumps(
        (ROW_FORMAT, CORE_NAMES, [{name: getattr(spec, name) for name in CORE_NAMES} for spec in specs])
    )


def stored_specs(data: bytes, text: Text) -> list[RuleSpec] | None:
    """The specs of the built-in table's rows (``stored_rows``; checked for their layout only, as ``trusted``
    rows are), each given ``text`` for its text fields (``spectext``); None when it is damaged. Each row's dict
    becomes its spec's ``__dict__`` (with the fields' names ``marshal`` shares between rows): building the 624
    specs field by field was 1 of the rules' 1.4 ms (warm)."""
    rows = _rows(data, CORE_NAMES)
    if rows is None or not all(type(row) is dict and len(row) == len(CORE_NAMES) for row in rows):
        return None
    specs = []
    new, set_attribute = object.__new__, object.__setattr__
    for row in rows:
        row[UNREAD] = text
        spec = new(RuleSpec)
        set_attribute(spec, "__dict__", row)
        specs.append(spec)
    return specs


def stored_rules(specs: Sequence[RuleSpec]) -> tuple[CompiledRule, ...] | None:
    """``compile_specs(specs, validate=False)`` for the built-in table's specs, which passed ``compile`` and the
    duplicate check when the table was written: each rule's fields set as its frozen ``__init__`` sets them,
    without its three ``object.__setattr__`` calls (the 624 rules: 0.76 -> 0.38 ms, warm). None (a miss) if a
    spec's secret group is not resolved, as ``compile`` leaves every spec it checks."""
    rules = []
    new, set_attribute = object.__new__, object.__setattr__
    for spec in specs:
        held = spec.__dict__
        if type(held["secret_group"]) is not int:
            return None
        rule = new(CompiledRule)
        keywords = tuple(map(str.encode, held["keywords"]))
        set_attribute(rule, "__dict__", {"spec": spec, "secret_group": held["secret_group"], "keywords": keywords})
        rules.append(rule)
    return tuple(rules)


def _well_typed(rows: list[Any], layout_only: bool = False) -> bool:
    """Whether every row is a tuple of ``RuleSpec``'s fields, each of its declared type (a severity one of its
    words). Column by column, a set of the column's types each: a Python loop per field of 624 rules × 23 fields
    cost about 3 ms of the commit hook's start. Exact types: ``marshal`` makes no subclasses (no bool for an int)."""
    if not all(type(row) is tuple and len(row) == len(_KINDS) for row in rows):
        return False
    if layout_only:
        return True
    columns = zip(*rows, strict=True)
    return not rows or all(_column_ok(kind, column) for kind, column in zip(_KINDS, columns, strict=True))


def _column_ok(kind: str, column: tuple[Any, ...]) -> bool:
    if kind == "tuple[str, ...]":
        return set(map(type, column)) <= {tuple} and set(map(type, chain.from_iterable(column))) <= {str}
    if kind in _WORDS:  # strings first: a list or dict is not hashable
        return set(map(type, column)) <= {str} and set(column) <= _WORDS[kind]
    return set(map(type, column)) <= _TYPES[kind]


def _spec(row: tuple[Any, ...]) -> RuleSpec:
    """A checked row as a spec: the frozen dataclass's fields set as its ``__init__`` sets them (RuleSpec has no
    ``__post_init__``; tests/test_speccache.py holds the result equal to ``RuleSpec(**fields)``)."""
    spec = object.__new__(RuleSpec)
    spec.__dict__.update(zip(_NAMES, row, strict=True))
    return spec
