"""Refuse user regexes that can backtrack catastrophically (integrations.md 8.2; issue #5).

Python's ``re`` backtracks with no time limit, so one bad custom rule or allowlist regex can hang a hook. This is
a static check on the parse tree (``re._parser``), run when a config is loaded; built-in rules are covered by a
test instead. It looks for the shapes behind nearly all real ReDoS reports:

* a quantifier over a body that can match a run of one character in more than one way or at more than one
  length: nested quantifiers ``(a+)+``, ``(\\w+\\s?)*``, ``(.*a){10}`` and alternations whose branches overlap
  ``(a|a)*``, ``(\\w|\\d)+``, ``(a|aa)+``;
* inside a repeated group, two unbounded quantifiers that can take the same characters with nothing required
  between them: ``(a*a*b)*``; anywhere, three of them in a row: ``[a-z]*\\w*[a-z]+!`` (polynomial, of a degree
  that grows with their number);
* inside a repeated group, alternatives of the same width that can match the same text: ``(ab|ab)*``.

The analysis runs once per representative character ``c`` (every Latin-1 character and one beyond): for each
node it computes the lengths of runs of ``c`` the node can match (a ``Span``) and whether it can match one of them
in two ways. A quantifier that may repeat at least ``MIN_REPEATS`` times over a body that can match runs of ``c``
at several lengths, or ambiguously, lets ``re`` try exponentially (or high-polynomially) many splits of a long run
of ``c`` followed by a character that makes the match fail. Atomic groups and possessive quantifiers never give
back what they took, so their bodies count as rigid. The check is conservative by design: it may refuse a
pattern that is in fact safe, and every refusal names the part to rewrite.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from scanner.errors import ConfigError
from scanner.ruleset.charset import SYMBOLS, atoms, member_set, sre_parse
from scanner.ruleset.unparse import unparse

MIN_REPEATS = 3  # a body repeated at most twice costs at most a quadratic number of splits
MAX_ADJACENT_RUNS = 3  # unbounded runs in a row over a common character: n^3 splits per start is already too many
MAX_SPLITS = 10_000  # ways a bounded repetition of a bounded body may split a text before it counts as costly
_INF = float("inf")


@dataclass(frozen=True, slots=True)
class Hazard:
    kind: str  # nested-quantifier | overlapping-alternatives | adjacent-quantifiers
    part: str  # the offending part, written back as a regex

    def message(self) -> str:
        what = {
            "nested-quantifier": "a quantifier over a body that can match the same text in several ways",
            "overlapping-alternatives": "a repeated alternation whose branches can match the same text",
            "adjacent-quantifiers": "adjacent unbounded quantifiers that can match the same characters",
        }[self.kind]
        return f"may backtrack catastrophically: {what}: {self.part}"


@dataclass(frozen=True, slots=True)
class Span:
    """What a node can match from a run of one character: lengths ``lo``..``hi``; ``var``: more than one length
    (and free to give some back); ``amb``: the kind of hazard if some run can be matched in two ways, else ""."""

    lo: float
    hi: float
    var: bool
    amb: str = ""


_EMPTY = Span(0, 0, False)


def check(pattern: str, flags: int = 0) -> Hazard | None:
    """The first hazard in ``pattern`` (which must compile), or None. Never raises for a compilable pattern."""
    try:
        tree = sre_parse().parse(pattern, flags)
    except (re.error, RecursionError, OverflowError):
        return None  # not ours to judge: compiling reports the error
    try:
        return _Analysis(int(tree.state.flags)).run(list(tree))
    except RecursionError:
        return Hazard("nested-quantifier", "(too deeply nested to analyse)")


def refuse_catastrophic(pattern: str, where: str) -> None:
    """Raise a ``ConfigError`` naming ``where`` (file, rule, field) and the offending part, if ``pattern`` may
    backtrack catastrophically."""
    hazard = check(pattern)
    if hazard is not None:
        raise ConfigError(f"{where}: {hazard.message()}")


class _Analysis:
    def __init__(self, flags: int) -> None:
        self.flags = flags
        self.hazard: Hazard | None = None
        self.symbol = 0
        self._members: dict[tuple[str, object, int], frozenset[int]] = {}

    def matches(self, name: str, av: Any, flags: int) -> bool:
        """Whether the current symbol is in a character atom (``LITERAL``, ``NOT_LITERAL``, ``ANY``, ``IN``)."""
        return self.symbol in self.members(name, av, flags)

    def members(self, name: str, av: Any, flags: int) -> frozenset[int]:
        key = (name, id(av) if name == "IN" else av, flags)  # the tree outlives the analysis: ids are stable
        found = self._members.get(key)
        if found is None:
            hashable = tuple((str(op), arg) for op, arg in av) if name == "IN" else av
            found = self._members[key] = member_set(name, hashable, flags)
        return found

    def run(self, items: list[tuple[Any, Any]]) -> Hazard | None:
        self._structure(items, self.flags, repeat=None)
        if self.hazard is not None:
            return self.hazard
        for symbol in self._representatives(items):
            self.symbol = symbol
            self._seq(items, self.flags, in_repeat=False)
            if self.hazard is not None:
                return self.hazard
        return None

    def _flag(self, kind: str, part: str) -> None:
        if self.hazard is None:
            self.hazard = Hazard(kind, part)

    # --- per-character spans ---

    def _seq(self, items: list[tuple[Any, Any]], flags: int, in_repeat: bool) -> Span | None:
        total: Span | None = _EMPTY
        # The unbounded variable items since the last item that needs a character of another kind: in a repeated
        # group two of them are exponential; anywhere, ``MAX_ADJACENT_RUNS`` of them split a run of the character
        # in n^k ways (eight ``[a-z]*`` in a row hang on a 90-byte line).
        unbounded: list[int] = []
        for index, (op, av) in enumerate(items):
            span = self._node(op, av, flags, in_repeat)
            if span is None:
                total = None
                unbounded = []
                continue
            if span.var and span.hi == _INF:
                unbounded.append(index)
                if len(unbounded) >= (2 if in_repeat else MAX_ADJACENT_RUNS):
                    self._flag("adjacent-quantifiers", unparse(items[unbounded[0] : index + 1]))
            elif span.lo > 0:
                unbounded = []
            if total is not None:
                amb = total.amb or span.amb or ("adjacent-quantifiers" if total.var and span.var else "")
                total = Span(total.lo + span.lo, total.hi + span.hi, total.var or span.var, amb)
        return total

    def _node(self, op: Any, av: Any, flags: int, in_repeat: bool) -> Span | None:
        name = str(op)
        if name in ("LITERAL", "NOT_LITERAL", "ANY", "IN"):
            return Span(1, 1, False) if self.matches(name, av, flags) else None
        if name == "SUBPATTERN":
            _group, add, remove, sub = av
            return self._seq(list(sub), (flags | int(add)) & ~int(remove), in_repeat)
        if name == "BRANCH":
            return self._branch([list(b) for b in av[1]], flags, in_repeat)
        if name == "GROUPREF_EXISTS":
            _group, yes, no = av
            return self._branch([list(yes), list(no) if no is not None else []], flags, in_repeat)
        if name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
            return self._repeat(name, av, flags, in_repeat)
        if name == "ATOMIC_GROUP":
            inner = self._seq(list(av), flags, in_repeat)
            return None if inner is None else Span(inner.lo, inner.hi, False)
        if name in ("ASSERT", "ASSERT_NOT"):
            self._seq(list(av[1]), flags, in_repeat)  # for hazards inside; a lookaround consumes nothing
            return _EMPTY
        if name == "AT":
            return _EMPTY
        # A backreference matches what its group did: some length, fixed by then.
        return Span(0, _INF, False)

    def _branch(self, branches: list[list[tuple[Any, Any]]], flags: int, in_repeat: bool) -> Span | None:
        spans = [s for s in (self._seq(b, flags, in_repeat) for b in branches) if s is not None]
        if not spans:
            return None
        amb = next((s.amb for s in spans if s.amb), "")
        if not amb:
            for i, a in enumerate(spans):
                # Two branches that can both match nothing are two ways too: ``(a|a)*`` parses as ``(a(?:|))*``.
                if any(max(a.lo, b.lo) <= min(a.hi, b.hi) for b in spans[i + 1 :]):
                    amb = "overlapping-alternatives"
                    break
        lo = min(s.lo for s in spans)
        hi = max(s.hi for s in spans)
        return Span(lo, hi, lo < hi or any(s.var for s in spans), amb)

    def _repeat(self, name: str, av: Any, flags: int, in_repeat: bool) -> Span | None:
        low, high, sub = av
        many = high == sre_parse().MAXREPEAT or high >= MIN_REPEATS
        body = self._seq(list(sub), flags, in_repeat or many)
        if body is None:
            return _EMPTY if low == 0 else None
        top = _INF if high == sre_parse().MAXREPEAT else high
        if many and body.hi >= 1 and (body.amb or body.var) and name != "POSSESSIVE_REPEAT" and _costly(body, top):
            self._flag(body.amb or "nested-quantifier", unparse([(name, av)]))
        hi = 0 if body.hi == 0 or top == 0 else body.hi * top
        lo = body.lo * low
        if name == "POSSESSIVE_REPEAT":
            return Span(lo, hi, False)
        amb = body.amb or ("nested-quantifier" if top >= 2 and body.var and body.hi >= 1 else "")
        return Span(lo, hi, lo < hi, amb)

    def _same_text_possible(self, branches: list[list[tuple[Any, Any]]], flags: int) -> bool:
        """Two branches made only of single characters, of the same width, matching a common text (two empty
        branches included: that is how ``(ab|ab)`` parses, the common prefix taken out)."""
        simple = [b for b in branches if all(str(op) in ("LITERAL", "NOT_LITERAL", "ANY", "IN") for op, _ in b)]
        for i, a in enumerate(simple):
            for b in simple[i + 1 :]:
                if len(a) == len(b) and all(
                    self.members(str(x[0]), x[1], flags) & self.members(str(y[0]), y[1], flags)
                    for x, y in zip(a, b, strict=True)
                ):
                    return True
        return False

    def _representatives(self, items: list[tuple[Any, Any]]) -> list[int]:
        """One character per class of characters that every character atom of the pattern treats alike: spans
        depend only on which atoms a character is in, so one of each class is enough."""
        found: list[tuple[str, Any, int]] = []
        atoms(items, self.flags, found)
        sets = [self.members(name, av, f) for name, av, f in found]
        seen: dict[tuple[bool, ...], int] = {}
        for symbol in SYMBOLS:
            seen.setdefault(tuple(symbol in m for m in sets), symbol)
        return list(seen.values())

    # --- multi-character alternatives (``(ab|ab)*``), which runs of one character cannot show ---

    def _structure(self, items: list[tuple[Any, Any]], flags: int, repeat: tuple[Any, Any] | None) -> None:
        """``repeat``: the innermost enclosing quantifier that may repeat ``MIN_REPEATS`` times or more."""
        for op, av in items:
            name = str(op)
            if name == "SUBPATTERN":
                self._structure(list(av[3]), (flags | int(av[1])) & ~int(av[2]), repeat)
            elif name in ("MAX_REPEAT", "MIN_REPEAT"):
                many = av[1] == sre_parse().MAXREPEAT or av[1] >= MIN_REPEATS
                self._structure(list(av[2]), flags, (op, av) if many else repeat)
            elif name == "POSSESSIVE_REPEAT":
                self._structure(list(av[2]), flags, repeat)
            elif name == "ATOMIC_GROUP":
                self._structure(list(av), flags, repeat)
            elif name in ("ASSERT", "ASSERT_NOT"):
                self._structure(list(av[1]), flags, repeat)
            elif name == "BRANCH":
                branches = [list(b) for b in av[1]]
                for branch in branches:
                    self._structure(branch, flags, repeat)
                if repeat is not None and self._same_text_possible(branches, flags):
                    self._flag("overlapping-alternatives", unparse([repeat]))


def _costly(body: Span, top: float) -> bool:
    """Whether ``top`` repetitions of an ambiguous or variable ``body`` grow with the input: an unbounded count
    (exponential), an unbounded body (polynomial of degree ``top``), or a bounded one with over ``MAX_SPLITS``
    ways to split (``(?:[0-9]{1,2}){0,3}`` has 8 and is fine)."""
    if _INF in (top, body.hi):
        return True
    ways = (body.hi - body.lo + 1) * (2 if body.amb else 1)
    return bool(ways ** min(top, 64) > MAX_SPLITS)
