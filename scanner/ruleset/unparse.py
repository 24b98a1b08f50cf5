"""A part of a parsed regex (``re._parser``) written back as a regex: what the backtracking check names."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from scanner.ruleset.charset import sre_parse

_CATEGORY_TEXT = {"DIGIT": r"\d", "SPACE": r"\s", "WORD": r"\w", "LINEBREAK": r"\n"}
_AT_TEXT = {
    "AT_BEGINNING": "^",
    "AT_BEGINNING_STRING": r"\A",
    "AT_END": "$",
    "AT_END_STRING": r"\Z",
    "AT_BOUNDARY": r"\b",
    "AT_NON_BOUNDARY": r"\B",
}


def _char(code: int) -> str:
    char = chr(code)
    return re.escape(char) if char.isprintable() else f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def _category_text(name: str) -> str:
    base = next((text for key, text in _CATEGORY_TEXT.items() if name.endswith(key)), "?")
    return base.upper() if "_NOT_" in name else base


def unparse(items: list[tuple[Any, Any]]) -> str:
    return "".join(_unparse_node(op, av) for op, av in items)


def _alternatives(av: Any) -> str:
    return "|".join(unparse(list(b)) for b in av[1])


def _unparse_node(op: Any, av: Any) -> str:
    name = str(op)
    if name in _WRITERS:
        return _WRITERS[name](av)
    if name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
        return _repeat(name, av)
    if name in ("ASSERT", "ASSERT_NOT"):
        direction, sub = av
        kind = ("=" if name == "ASSERT" else "!") if direction == 1 else ("<=" if name == "ASSERT" else "<!")
        return f"(?{kind}{unparse(list(sub))})"
    return "…"


def _set(av: Any) -> str:
    parts = []
    for item_op, item_av in av:
        item = str(item_op)
        if item == "NEGATE":
            parts.append("^")
        elif item == "LITERAL":
            parts.append(_char(item_av))
        elif item == "RANGE":
            parts.append(f"{_char(item_av[0])}-{_char(item_av[1])}")
        elif item == "CATEGORY":
            parts.append(_category_text(str(item_av)))
    if len(parts) == 1 and parts[0].startswith("\\") and len(parts[0]) == 2:
        return parts[0]
    return "[" + "".join(parts) + "]"


def _group(av: Any) -> str:
    group, _add, _remove, sub = av
    inner = list(sub)
    text = _alternatives(inner[0][1]) if len(inner) == 1 and str(inner[0][0]) == "BRANCH" else unparse(inner)
    return ("(" if group else "(?:") + text + ")"


def _repeat(name: str, av: Any) -> str:
    low, high, sub = av
    body = list(sub)
    text = unparse(body)
    if not (len(body) == 1 and str(body[0][0]) in ("LITERAL", "ANY", "IN", "SUBPATTERN", "NOT_LITERAL", "BRANCH")):
        text = f"(?:{text})"
    top = "" if high == sre_parse().MAXREPEAT else str(high)
    quantifier = {(0, ""): "*", (1, ""): "+", (0, "1"): "?"}.get((low, top))
    if quantifier is None:
        quantifier = f"{{{low}}}" if str(low) == top else f"{{{low},{top}}}"
    suffix = {"MIN_REPEAT": "?", "POSSESSIVE_REPEAT": "+"}.get(name, "")
    return text + quantifier + suffix


_WRITERS: dict[str, Callable[[Any], str]] = {
    "LITERAL": _char,
    "NOT_LITERAL": lambda av: f"[^{_char(av)}]",
    "ANY": lambda _av: ".",
    "IN": _set,
    "SUBPATTERN": _group,
    "BRANCH": lambda av: "(?:" + _alternatives(av) + ")",
    "ATOMIC_GROUP": lambda av: "(?>" + unparse(list(av)) + ")",
    "AT": lambda av: _AT_TEXT.get(str(av), ""),
    "GROUPREF": lambda av: f"\\{av}",
}
