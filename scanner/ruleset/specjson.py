"""``RuleSpec`` to and from the JSON the on-disk cache holds, checked field by field on the way back.

A cached entry is data from a file anyone with write access to the cache directory could have planted: every
field must have the type the dataclass declares (a severity one of its words), or the whole entry is a miss and
the ruleset is parsed again.
"""

from __future__ import annotations

import dataclasses
from typing import Any, get_args

from scanner.models import Confidence, Severity
from scanner.ruleset.model import RuleSpec

_WORDS = {"Severity": set(get_args(Severity)), "Confidence": set(get_args(Confidence))}
_FIELDS = {field.name: str(field.type) for field in dataclasses.fields(RuleSpec)}


def spec_to_json(spec: RuleSpec) -> dict[str, Any]:
    return {
        name: list(value) if isinstance(value, tuple) else value
        for name, value in ((name, getattr(spec, name)) for name in _FIELDS)
    }


def _checked(kind: str, value: Any) -> tuple[bool, Any]:
    """(whether ``value`` has the declared type ``kind``, the value as the dataclass holds it)."""
    if kind in _WORDS:
        return type(value) is str and value in _WORDS[kind], value  # a list or dict is not hashable: no lookup
    if kind == "float":
        return isinstance(value, int | float) and not isinstance(value, bool), value
    if kind == "int | None":
        return value is None or (isinstance(value, int) and not isinstance(value, bool)), value
    if kind == "int":
        return isinstance(value, int) and not isinstance(value, bool), value
    return isinstance(value, {"bool": bool}[kind]), value


def spec_from_json(data: Any) -> RuleSpec | None:
    if not isinstance(data, dict) or data.keys() != _FIELDS.keys():
        return None
    values: dict[str, Any] = {}
    # Plain strings and string lists, most of the fields, are checked inline: this runs for every rule at every
    # start (the commit hook's), and a call per field was a third of loading a cached ruleset.
    for name, kind in _FIELDS.items():
        value = data[name]
        if kind == "str":
            if type(value) is not str:
                return None
        elif kind == "tuple[str, ...]":
            if type(value) is not list or not all(type(item) is str for item in value):
                return None
            value = tuple(value)
        else:
            ok, value = _checked(kind, value)
            if not ok:
                return None
        values[name] = value
    return RuleSpec(**values)


def specs_from_json(data: Any) -> list[RuleSpec] | None:
    """The specs of a cached entry, or None when it is not exactly a list of well-typed specs."""
    if not isinstance(data, list):
        return None
    specs = [spec_from_json(item) for item in data]
    return None if any(spec is None for spec in specs) else [spec for spec in specs if spec is not None]
