"""The shape a parser expects of a JSON value it did not make, or an empty one: a field that should be a list or
an object and is something else (a fuzzed or hand-edited file) reads as absent instead of crashing the parser."""

from __future__ import annotations

from typing import Any


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}
