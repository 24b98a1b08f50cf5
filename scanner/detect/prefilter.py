"""Prefilters: which rules are worth running on a chunk. Two engines, one contract.

The contract (called from several processes; each builds its own): ``candidates(content)`` returns the indices
of rules that *may* match. It may return too many, never too few: the final decision is always Python ``re``
plus the keyword check in ``engine.py``, so both prefilters give identical findings by construction.

* ``HyperscanPrefilter`` runs every rule's regex at once with Hyperscan (SIMD, one pass). Rules Hyperscan
  cannot compile are returned as candidates every time. The compiled database is cached on disk, keyed by the
  ruleset hash and the Hyperscan version: compiling ~200 rules takes about a second, loading it a millisecond.
* ``KeywordPrefilter`` is the pure-Python fallback: a rule is a candidate when one of its keywords occurs.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any, Protocol

from scanner import cache
from scanner.ruleset.model import CompiledRule


class Prefilter(Protocol):
    name: str

    def candidates(self, content: bytes, lowered: bytes) -> Sequence[int]: ...


class KeywordPrefilter:
    name = "python"

    def __init__(self, rules: Sequence[CompiledRule]) -> None:
        self._keywords = [(i, rule.keywords) for i, rule in enumerate(rules)]

    def candidates(self, content: bytes, lowered: bytes) -> Sequence[int]:
        return [i for i, keywords in self._keywords if any(k in lowered for k in keywords)]


class HyperscanPrefilter:
    name = "hyperscan"

    def __init__(self, rules: Sequence[CompiledRule], ruleset_hash: str) -> None:
        import hyperscan

        self._hs = hyperscan
        self._always: list[int] = []
        cache_name = f"hs-{ruleset_hash[:32]}-{getattr(hyperscan, '__version__', '0')}.db"
        db = self._load(cache.read(cache_name))
        if db is None:
            db, self._always = self._compile(rules)
            cache.write(cache_name, ",".join(map(str, self._always)).encode() + b"\n" + hyperscan.dumpb(db))
        self._db = db
        self._hits: list[int] = []

    def _load(self, data: bytes | None) -> Any:
        if data is None:
            return None
        header, _, blob = data.partition(b"\n")
        hs = self._hs
        try:
            always = [int(x) for x in header.split(b",") if x]
            db = hs.loadb(blob, hs.HS_MODE_BLOCK)
            # A deserialised database comes without scratch space; scanning without it fails.
            db.scratch = hs.Scratch(db)
        except (ValueError, TypeError, hs.HyperscanError):
            return None
        self._always = always
        return db

    def _compile(self, rules: Sequence[CompiledRule]) -> tuple[Any, list[int]]:
        hs = self._hs
        flags = hs.HS_FLAG_SINGLEMATCH
        everything = list(range(len(rules)))
        db = hs.Database()
        try:
            db.compile(expressions=[r.spec.regex.encode() for r in rules], ids=everything, flags=[flags] * len(rules))
            return db, []
        except hs.HyperscanError:
            pass  # find the rules Hyperscan refuses; they run on every chunk instead
        usable: list[int] = []
        always: list[int] = []
        for i, rule in enumerate(rules):
            probe = hs.Database()
            try:
                probe.compile(expressions=[rule.spec.regex.encode()], ids=[i], flags=flags)
                usable.append(i)
            except hs.HyperscanError:
                always.append(i)
        db = hs.Database()
        db.compile(expressions=[rules[i].spec.regex.encode() for i in usable], ids=usable, flags=[flags] * len(usable))
        return db, always

    def _on_match(self, rule_index: int, start: int, end: int, flags: int, context: object) -> None:
        self._hits.append(rule_index)

    def candidates(self, content: bytes, lowered: bytes) -> Sequence[int]:
        self._hits = list(self._always)
        if content:
            self._db.scan(content, match_event_handler=self._on_match)
        return self._hits


def make_prefilter(rules: Sequence[CompiledRule], ruleset_hash: str) -> Prefilter:
    """Hyperscan where it loads, else the pure-Python prefilter. ``LEAKSTOP_ENGINE`` forces one."""
    choice = os.environ.get("LEAKSTOP_ENGINE", "auto")
    if choice != "python":
        try:
            return HyperscanPrefilter(rules, ruleset_hash)
        except ImportError:
            if choice == "hyperscan":
                raise
    return KeywordPrefilter(rules)
