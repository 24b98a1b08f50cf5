"""Go RE2 regexes (gitleaks' ``regex``, ``paths``, allowlist ``regexes``) as Python ``re`` patterns.

The few Go-only forms with a Python equivalent are rewritten (``\\z``, named groups, POSIX classes, ``\\Q…\\E``,
flags after the start as scoped flags); the rest (``\\p{…}`` classes, the ungreedy flag, anything Python ``re``
refuses or reads differently) is refused with the reason.
"""

from __future__ import annotations

import re
import warnings
from typing import Any

from scanner.pathmatch import POSIX_CLASSES
from scanner.policy.migrate.gitleaks_rewrite import scope_flags

_GO_ONLY = (
    (re.compile(r"\\[pP]"), "Unicode classes (\\p{...})"),
    (re.compile(r"\(\?[a-zA-Z]*U[a-zA-Z]*[:)]"), "the ungreedy flag (?U)"),
)


def translate_regex(pattern: str) -> tuple[str | None, str]:
    """``pattern`` (Go RE2) as a Python ``re`` pattern and what was rewritten ("" if nothing that changes how it
    reads), or (None, why not)."""
    for construct, name in _GO_ONLY:
        if construct.search(pattern):
            return None, f"uses {name}, which Python re does not have"
    text = re.sub(r"\\Q(.*?)(?:\\E|$)", lambda m: re.escape(m.group(1)), pattern, flags=re.S)
    text = text.replace(r"\z", r"\Z")
    text = re.sub(r"\(\?P?<[A-Za-z_][A-Za-z0-9_]*>", "(", text)  # named groups: numbered the same
    text = re.sub(r"\[:(\^?)([a-z]+):\]", _posix_class, text)
    note = ""
    if re.search(r".\(\?[a-zA-Z-]+\)", text, flags=re.S):
        text = scope_flags(text)
        note = "flags set after the start ((?i) mid-pattern) scoped as (?i:...)"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # "possible nested set": Python would read it differently
        try:
            re.compile(text)
        except (re.error, FutureWarning, DeprecationWarning) as exc:
            return None, f"does not compile in Python re: {exc}"
    return text, note


def _posix_class(m: re.Match[str]) -> str:
    ranges = POSIX_CLASSES.get(m.group(2))
    if ranges is None or m.group(1):
        return m.group(0)  # left for the compile check to refuse
    return ranges


def required_literal(pattern: str) -> str | None:
    """The longest run of literal characters (3 or more) that every match of ``pattern`` contains, lowercased:
    a keyword for a rule that has none (leakstop's prefilter needs one)."""
    from scanner.ruleset.charset import sre_parse

    best = ""
    run: list[str] = []

    def walk(items: Any) -> None:
        nonlocal best
        for op, av in items:
            name = str(op)
            if name == "LITERAL":
                run.append(chr(av))
                continue
            if name == "SUBPATTERN" and not av[1] and not av[2]:
                walk(av[3])  # a group without flags is part of the same sequence
                continue
            best = max(best, "".join(run), key=len)
            run.clear()

    walk(sre_parse().parse(pattern))
    best = max(best, "".join(run), key=len)
    return best.lower() if len(best) >= 3 else None
