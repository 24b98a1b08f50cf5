r"""Prefilters: which rules are worth running on a chunk, and where their keywords are. Two engines, one contract.

The contract (called from several processes; each builds its own): ``scan(content)`` returns a
``Scanned``: the indices of rules that *may* match (never too few; too many is fine) and a ``KeywordHits`` that
gives the exact start offsets of each keyword in the lower-cased content. The final decision is always Python
``re`` near those keywords plus the keyword check in ``engine.py``, so both engines give identical findings.

* ``HyperscanPrefilter`` runs every rule's regex (one report per rule) in one Hyperscan pass. Rules Hyperscan
  cannot compile are returned as candidates every time. Keyword positions come from a second database of the
  keyword literals, run only when a chunk has a candidate rule: most chunks have none, and each keyword
  occurrence costs a Python callback (220,000 on pytest's history). The compiled databases are cached on disk,
  keyed by the ruleset hash and the Hyperscan version: compiling takes seconds, loading a millisecond. Hyperscan
  gets each regex with its long bounded repeats opened up (``relaxed``: ``[\w.-]{0,20}`` → ``[\w.-]*``): a
  candidate only needs a superset of the rule's matches, and bounded repeats are what Hyperscan compiles slowly
  (600 rules: 7.2 s exact, 2.1 s relaxed).
* ``KeywordPrefilter`` is the pure-Python fallback: a rule is a candidate when one of its keywords occurs, and
  keyword positions come from ``bytes.find``.

A scan that starts small (the commit hook) uses ``scanner.detect.smallscan``: the keyword prefilter, then
Hyperscan over the groups of rules whose keywords a chunk holds, then the whole database.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, Protocol

from scanner import cache
from scanner.detect.hscompile import compile_entries
from scanner.lazyre import LazyPattern
from scanner.ruleset.model import CompiledRule

RELAX_ABOVE = 8  # a bounded repeat {m,n} with n above this is opened to {m,} for Hyperscan
_BOUNDED = LazyPattern(r"\{(\d+),(\d+)\}")


def hs_entries(rule: CompiledRule, index: int, hs: Any) -> list[tuple[bytes, int, int]]:
    """What Hyperscan looks for on behalf of ``rule`` (expression, id, flags): its relaxed regex, or (``prefilter:
    keywords``) each keyword, caseless: exactly the candidates ``KeywordPrefilter`` gives for that rule."""
    single = hs.HS_FLAG_SINGLEMATCH
    if rule.spec.prefilter_keywords and rule.keywords:
        caseless = single | hs.HS_FLAG_CASELESS
        return [(re.escape(k.decode("latin-1")).encode("latin-1"), index, caseless) for k in rule.keywords]
    return [(relaxed(rule.spec.regex).encode(), index, single)]


def relaxed(regex: str) -> str:
    """``regex`` with each bounded repeat ``{m,n}`` (n > ``RELAX_ABOVE``) outside a character class made
    unbounded: it matches wherever ``regex`` matches (and more), so it can only add candidates."""
    out: list[str] = []
    i, in_class = 0, False
    while i < len(regex):
        char = regex[i]
        step = 2 if char == "\\" else 1
        if in_class:
            in_class = char != "]"
        elif char == "[":
            in_class = True
            # a "]" right after "[" or "[^" is a member, not the end
            step += regex.startswith("^", i + 1)
            step += regex.startswith("]", i + step)
        elif char == "{" and (bound := _BOUNDED.match(regex, i)) and int(bound[2]) > RELAX_ABOVE:
            out.append(f"{{{bound[1]},}}" if int(bound[1]) else "*")
            i = bound.end()
            continue
        out.append(regex[i : i + step])
        i += step
    return "".join(out)


class KeywordHits:
    """Start offsets of keywords in a chunk's lower-cased content, found on first request: every keyword at
    once by ``find_every`` (one Hyperscan pass) when given, else one ``bytes.find`` loop per keyword."""

    __slots__ = ("_complete", "_find_every", "_found", "_lowered")

    def __init__(self, lowered: bytes, find_every: Callable[[], dict[bytes, list[int]]] | None = None) -> None:
        self._lowered = lowered
        self._find_every = find_every
        self._complete = False  # _found holds every keyword that occurs: an absent one has no occurrence
        self._found: dict[bytes, list[int]] = {}

    def positions(self, keyword: bytes) -> list[int]:
        if self._find_every is not None:
            self._found, self._find_every, self._complete = self._find_every(), None, True
        hits = self._found.get(keyword)
        if hits is None:
            if self._complete:
                return []
            hits = self._found[keyword] = _find_all(self._lowered, keyword)
        return hits


def _find_all(haystack: bytes, needle: bytes) -> list[int]:
    found = []
    pos = haystack.find(needle)
    while pos != -1:
        found.append(pos)
        pos = haystack.find(needle, pos + 1)
    return found


@dataclass(frozen=True, slots=True)
class Scanned:
    """What the prefilter found in a chunk: the candidate rules and where their keywords are."""

    candidates: Sequence[int]
    hits: KeywordHits
    lowered: bytes  # the content lower-cased (empty when there is no candidate: nothing will need it)


# What a chunk without a candidate rule gets (most chunks): nothing in it is ever asked for, so one will do.
_NO_CANDIDATE = Scanned((), KeywordHits(b""), b"")


class Prefilter(Protocol):
    @property
    def name(self) -> str: ...

    def scan(self, content: bytes) -> Scanned: ...


class KeywordPrefilter:
    name = "python"

    def __init__(self, rules: Sequence[CompiledRule]) -> None:
        self._keywords = [(i, rule.keywords) for i, rule in enumerate(rules)]

    def scan(self, content: bytes) -> Scanned:
        lowered = content.lower()
        candidates = [i for i, keywords in self._keywords if any(k in lowered for k in keywords)]
        return Scanned(candidates, KeywordHits(lowered), lowered)


def compile_rules(hs: Any, rules: Sequence[CompiledRule], indices: Sequence[int]) -> tuple[Any | None, list[int]]:
    """One database of the rules at ``indices`` (each reported by its index), and the indices of the rules
    Hyperscan refuses (they are candidates wherever the database is used); None without a rule it takes."""

    def build(usable: list[int]) -> Any:
        db = hs.Database()
        compile_entries(db, [entry for i in usable for entry in hs_entries(rules[i], i, hs)])
        return db

    if not indices:
        return None, []
    try:
        return build(list(indices)), []
    except hs.HyperscanError:
        pass  # find the rules Hyperscan refuses; they run on every chunk instead
    usable: list[int] = []
    always: list[int] = []
    for i in indices:
        probe = hs.Database()
        try:
            compile_entries(probe, hs_entries(rules[i], i, hs))
            usable.append(i)
        except hs.HyperscanError:
            always.append(i)
    return (build(usable) if usable else None), always


def load_entry(
    hs: Any, entry: tuple[bytes, bytes] | None, allowed: Callable[[int], bool]
) -> tuple[Any, list[int]] | None:
    """A cached database and the rules it left out (``write_self_checked``: their indices, a line, then the
    serialised database), or None when there is none, an index is not ``allowed`` or the database does not load."""
    if entry is None:
        return None
    header, blob = entry
    try:
        always = [int(x) for x in header.split(b",") if x]
        if not all(allowed(index) for index in always):
            return None
        db = hs.loadb(blob, hs.HS_MODE_BLOCK)
        # A deserialised database comes without scratch space; scanning without it fails.
        db.scratch = hs.Scratch(db)
    except (ValueError, TypeError, hs.HyperscanError):
        return None
    return db, always


def cached_rules_database(
    hs: Any, cache_name: str, rules: Sequence[CompiledRule], indices: range
) -> tuple[Any | None, list[int]]:
    """The database of the rules at ``indices`` from the cache, else compiled and stored."""
    loaded = load_entry(hs, cache.read_self_checked(cache_name), indices.__contains__)
    if loaded is not None:
        return loaded
    db, always = compile_rules(hs, rules, indices)
    if db is not None:
        cache.write_self_checked(cache_name, ",".join(map(str, always)).encode(), hs.dumpb(db))
    return db, always


class HyperscanPrefilter:
    name = "hyperscan"

    def __init__(self, rules: Sequence[CompiledRule], ruleset_hash: str) -> None:
        import hyperscan

        self._hs = hyperscan
        # "hs6": as "hs5", in a self-checked entry (Hyperscan's CRC checks the database: cache.read_self_checked);
        # "hs5": rule regexes relaxed, or a rule's keywords (``prefilter: keywords``); "hs4": no keywords; "hs3":
        # exact regexes; "hs2" held keyword literals too.
        cache_name = f"hs6-{ruleset_hash[:32]}-{getattr(hyperscan, '__version__', '0')}.db"
        db, self._always = cached_rules_database(hyperscan, cache_name, rules, range(len(rules)))
        self._db = db  # None when Hyperscan takes none of the rules (or there are none): the ``always`` list decides
        self._rules_hit: list[int] = []
        self._keywords = sorted({k for rule in rules for k in rule.keywords})
        # "hs6k": as "hs5k", self-checked as the rules' database is (its SHA-256 frame was 7 M instructions of
        # the commit hook's run without OpenSSL, scanner/digests.py).
        self._keyword_cache_name = f"hs6k-{cache_name[4:]}"
        self._keyword_db: Any = None  # loaded on the first chunk with a candidate rule: most hook runs have none

    def _keyword_database(self, cache_name: str) -> Any:
        """Every keyword literal (every occurrence), for chunks that have a candidate rule; None without rules."""
        hs = self._hs
        if not self._keywords:
            return None  # Hyperscan cannot compile an empty database; no rule, no candidate, no lookup
        entry = cache.read_self_checked(cache_name)
        if entry is not None:
            try:
                db = hs.loadb(entry[1], hs.HS_MODE_BLOCK)
                db.scratch = hs.Scratch(db)
                return db
            except (ValueError, TypeError, hs.HyperscanError):
                pass
        db = hs.Database()
        literals = [re.escape(k.decode("latin-1")).encode("latin-1") for k in self._keywords]
        compile_entries(db, [(literal, i, 0) for i, literal in enumerate(literals)])
        cache.write_self_checked(cache_name, b"", hs.dumpb(db))
        return db

    def _keyword_positions(self, lowered: bytes) -> dict[bytes, list[int]]:
        found: dict[bytes, list[int]] = {}
        keywords = self._keywords

        def on_match(pattern_id: int, start: int, end: int, flags: int, context: object) -> None:
            keyword = keywords[pattern_id]
            found.setdefault(keyword, []).append(end - len(keyword))

        if self._keyword_db is None:
            self._keyword_db = self._keyword_database(self._keyword_cache_name)
        self._keyword_db.scan(lowered, match_event_handler=on_match)
        return found

    def _on_match(self, pattern_id: int, start: int, end: int, flags: int, context: object) -> None:
        self._rules_hit.append(pattern_id)

    def scan(self, content: bytes) -> Scanned:
        self._rules_hit = list(self._always)
        if content and self._db is not None:
            self._db.scan(content, match_event_handler=self._on_match)
        # Most chunks have no candidate rule; lower-casing them, or finding their keywords, would be wasted.
        if not self._rules_hit:
            return _NO_CANDIDATE
        lowered = content.lower()
        return Scanned(self._rules_hit, KeywordHits(lowered, partial(self._keyword_positions, lowered)), lowered)


def make_prefilter(rules: Sequence[CompiledRule], ruleset_hash: str, choice: str = "auto") -> Prefilter:
    """Hyperscan where it loads, else the pure-Python prefilter; ``choice`` "hyperscan" or "python" forces one
    (``scanner.detect.smallscan``: a scan that starts small)."""
    if choice != "python":
        try:
            return HyperscanPrefilter(rules, ruleset_hash)
        except ImportError:
            if choice == "hyperscan":
                raise
    return KeywordPrefilter(rules)
