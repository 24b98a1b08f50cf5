"""Keyword lines for whole-content rules whose matches can start with the newline before their keyword's line.

A rule whose matches may hold a newline gets no keyword window (``ruleset.model.scan_window`` gives 0) and its
regex runs over the whole chunk: ``re`` tries a match at every offset. ``generic-password`` is such a rule only
because its name separator may be a newline (``\\npass=...``), and ``generic-secret-named-key`` and
``generic-cli-flag-secret`` alike; on pytest's history they were most of the rule regexes' time (0.08 of
0.11 CPU-s: 1.7 ms a chunk, scanned whole).

Where a newline can only be a match's first byte (its first item matches it, if at all, as one character) or in
its last item, and every example match holds a keyword (what keyword-anchored means for the windowed rules), a
match lies within its keyword's line, the newline before it and the byte after it: ``detect.engine.rule_matches``
searches those lines only, from one byte before each, as for ``LINE_WINDOW``. The same matches either way; a
chunk under ``engine.LINE_SEARCH_FROM`` bytes is still searched whole (the check parses the regex once per process).
"""

from __future__ import annotations

from functools import cache
from typing import Any

from scanner.ruleset.charset import sre_parse
from scanner.ruleset.model import CompiledRule, can_match_newline, keyword_anchored, last_stays


@cache
def newline_led(rule: CompiledRule) -> bool:
    """Are ``rule``'s matches on their keyword's line, give or take the newline before it and the byte after?
    Only asked of whole-content rules (``spec.window`` 0)."""
    spec = rule.spec
    if spec.window or not spec.examples or not rule.keywords:
        return False
    if not keyword_anchored(spec, rule.pattern, rule.keywords):
        return False
    parsed = sre_parse().parse(spec.regex)
    flags = parsed.state.flags
    items = list(parsed)
    if len(items) < 2 or not _first_only(items[0], flags):
        return False
    return not any(can_match_newline(op, av, flags) for op, av in items[1:-1]) and last_stays(parsed, items)


def _first_only(item: tuple[Any, Any], flags: int) -> bool:
    """Can this node consume a newline only as its first character (or not at all)?"""
    op, av = item
    if not can_match_newline(op, av, flags):
        return True
    name = str(op)
    if name in ("LITERAL", "NOT_LITERAL", "ANY", "IN"):
        return True  # one character
    if name == "BRANCH":
        return all(_sequence_first_only(list(branch), flags) for branch in av[1])
    if name == "SUBPATTERN":
        _group, add_flags, del_flags, sub = av
        return _sequence_first_only(list(sub), (flags | add_flags) & ~del_flags)
    return False


def _sequence_first_only(items: list[tuple[Any, Any]], flags: int) -> bool:
    return not items or (
        _first_only(items[0], flags) and not any(can_match_newline(op, av, flags) for op, av in items[1:])
    )
