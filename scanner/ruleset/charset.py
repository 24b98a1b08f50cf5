"""Reading Python's parsed regexes (``re._parser``): which characters a character set or any character atom holds.
Shared by the keyword-window analysis (``model.scan_window``) and the backtracking check (``redos``)."""

from __future__ import annotations

import functools
import re
from typing import Any

BEYOND = 0x100  # "Ā" stands for every character beyond Latin-1 (a letter, not a digit or space)
SYMBOLS = (*range(256), BEYOND)  # the characters an analysis tries: Latin-1, and one for all beyond


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


def atoms(items: list[tuple[Any, Any]], flags: int, found: list[tuple[str, Any, int]]) -> None:
    """Append every character atom (``LITERAL``, ``NOT_LITERAL``, ``ANY``, ``IN``) in ``items`` to ``found``, with
    the flags in force there."""
    for op, av in items:
        name = str(op)
        if name in ("LITERAL", "NOT_LITERAL", "ANY", "IN"):
            found.append((name, av, flags))
        elif name == "SUBPATTERN":
            atoms(list(av[3]), (flags | int(av[1])) & ~int(av[2]), found)
        elif name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
            atoms(list(av[2]), flags, found)
        elif name == "ATOMIC_GROUP":
            atoms(list(av), flags, found)
        elif name in ("ASSERT", "ASSERT_NOT"):
            atoms(list(av[1]), flags, found)
        elif name == "BRANCH":
            for branch in av[1]:
                atoms(list(branch), flags, found)
        elif name == "GROUPREF_EXISTS":
            atoms(list(av[1]), flags, found)
            if av[2] is not None:
                atoms(list(av[2]), flags, found)


@functools.cache
def member_set(name: str, av: Any, flags: int) -> frozenset[int]:
    """The symbols in a character atom; ``av`` of an ``IN`` as a tuple. Cached: rules repeat the same atoms."""
    return frozenset(s for s in SYMBOLS if _matches(name, av, s, flags))


_IGNORECASE, _DOTALL = int(re.IGNORECASE), int(re.DOTALL)


def _fold(symbol: int, flags: int) -> tuple[int, ...]:
    if flags & _IGNORECASE and symbol < 0x100:
        char = chr(symbol)
        return tuple({symbol, ord(char.lower()[0]), ord(char.upper()[0])})
    return (symbol,)


def _matches(name: str, av: Any, symbol: int, flags: int) -> bool:
    if name == "ANY":
        return symbol != 10 or bool(flags & _DOTALL)
    cases = _fold(symbol, flags)
    if name == "LITERAL":
        return av in cases or (symbol == BEYOND and av > BEYOND)
    if name == "NOT_LITERAL":
        return not _matches("LITERAL", av, symbol, flags)
    return any(in_set(av, c) for c in cases)  # IN
