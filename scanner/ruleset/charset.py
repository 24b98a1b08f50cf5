"""Reading Python's parsed regexes (``re._parser``): which characters a character set holds. Shared by the
keyword-window analysis (``model.scan_window``) and the backtracking check (``redos``)."""

from __future__ import annotations

import functools
import re
from typing import Any

BEYOND = 0x100  # "Ā" stands for every character beyond Latin-1 (a letter, not a digit or space)


def sre_parse() -> Any:
    try:
        from re import _parser  # type: ignore[attr-defined]
    except ImportError:  # Python 3.10
        import sre_parse as _parser
    return _parser


@functools.cache
def category(name: str, symbol: int) -> bool:
    tests = {"DIGIT": r"\d", "SPACE": r"\s", "WORD": r"\w", "LINEBREAK": r"\n"}
    base = next((rx for key, rx in tests.items() if name.endswith(key)), None)
    if base is None:
        return True  # an unknown category: assume it matches
    hit = re.fullmatch(base, chr(symbol)) is not None
    return hit != ("_NOT_" in name)


def in_set(items: Any, symbol: int) -> bool:
    """Does the set (an ``IN`` node's items) hold ``symbol``? Unknown parts count as holding it."""
    negate = False
    found = False
    for op, av in items:
        name = str(op)
        if name == "NEGATE":
            negate = True
        elif name == "LITERAL":
            found |= av == symbol or (symbol == BEYOND and av > BEYOND)
        elif name == "RANGE":
            found |= av[0] <= symbol <= av[1] or (symbol == BEYOND and av[1] > BEYOND)
        elif name == "CATEGORY":
            found |= category(str(av), symbol)
        else:  # CHARSET / BIGCHARSET only appear after compilation; be conservative
            found = True
    return found != negate
