"""Prefilters for a scan that starts small (the commit hook): no Hyperscan for the first few hundred bytes, then
Hyperscan by groups of rules, then (a larger scan) the whole database. Same findings all along (the contract in
``prefilter.py``).

Why groups: the whole database is 5.7 MB. Loading it reads the cache entry into a ``bytes`` and Hyperscan copies
that into its own allocation: two fresh 5.7 MB regions, 2,800 page faults and 7-18 ms of a 95 ms hook run on the
bench machine, of which a scan of 56 KB then touches 15 pages. A rule whose keywords a chunk does not hold cannot
be reported from it (``Detector.raw_matches`` skips a candidate without a keyword position), so only the rules
whose keywords occur need their regexes run. ``GroupedPrefilter`` finds which groups of ``GROUP_SIZE`` rules have
a keyword in the chunk (one pass of a database of every keyword, reported once per group), and runs those
groups' databases: each is cached on its own and loaded on first use. A group's database reports exactly the
rules the whole one would (Hyperscan matches each pattern on its own), so the candidates differ only by rules
without a keyword in the chunk, which the detector skips either way. The hook's 10 staged files hold keywords of
14 rules, in 8 groups: 0.8 MB of database instead of 5.7.

Past ``GROUPED_INPUT`` bytes, or once a chunk would bring the groups loaded past one in ``MAX_GROUP_SHARE``, the
whole database is loaded: it is one pass a chunk, and many groups cost more than it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from scanner import cache
from scanner.detect.hscompile import compile_entries
from scanner.detect.prefilter import (
    _NO_CANDIDATE,
    KeywordHits,
    KeywordPrefilter,
    Prefilter,
    Scanned,
    cached_rules_database,
    load_entry,
    make_prefilter,
)
from scanner.ruleset.model import CompiledRule

SMALL_INPUT = 256  # bytes a scan reads through the keyword prefilter before it loads Hyperscan
GROUPED_INPUT = 256 * 1024  # bytes a scan reads through the grouped databases before it loads the whole one
# Rules a group. The hook's files: 8 groups, 0.8 MB (4: 1.2 MB; 16: 1.3 MB); 75 recent commits of three projects:
# median 0.82 MB, 90th percentile 15 groups (4: 1.0 MB; 16: 1.25 MB).
GROUP_SIZE = 8
MAX_GROUP_SHARE = 4  # a chunk that needs more than 1 / 4 of the groups loaded: the whole database instead


def _letters(number: int) -> str:
    """``number`` in letters, at least three (a cache entry's kind may not end in digits: ``cache._VERSIONED``)."""
    letters = ""
    while number or len(letters) < 3:
        number, digit = divmod(number, 26)
        letters = chr(ord("a") + digit) + letters
    return letters


class GroupedPrefilter:
    """Hyperscan over the groups of rules whose keywords a chunk holds (see the module's docstring)."""

    name = "hyperscan"

    def __init__(self, rules: Sequence[CompiledRule], ruleset_hash: str) -> None:
        import hyperscan

        self._hs = hyperscan
        self._rules = rules
        self._stem = f"{ruleset_hash[:32]}-{getattr(hyperscan, '__version__', '0')}.db"
        self._groups: dict[int, tuple[Any | None, list[int]]] = {}  # loaded: database, rules it refused
        self.group_count = -(-len(rules) // GROUP_SIZE)
        self._selector = self._selector_database()
        self._rules_hit: list[int] = []

    def _selector_database(self) -> Any:
        """Every keyword, caseless (the detector looks for them in the lower-cased chunk), reported by its rule's
        group, once a group and chunk; None when no rule has a keyword."""
        hs = self._hs
        name = f"hs6s-{self._stem}"
        loaded = load_entry(hs, cache.read_self_checked(name), lambda index: False)  # its header line is empty
        if loaded is not None:
            return loaded[0]
        pairs = sorted({(k, i // GROUP_SIZE) for i, rule in enumerate(self._rules) for k in rule.keywords})
        if not pairs:
            return None
        db = hs.Database()
        literal = hs.HS_FLAG_CASELESS | hs.HS_FLAG_SINGLEMATCH
        compile_entries(db, [(b"".join(b"\\x%02x" % c for c in k), group, literal) for k, group in pairs])
        cache.write_self_checked(name, b"", hs.dumpb(db))
        return db

    def _group(self, group: int) -> tuple[Any | None, list[int]]:
        if group not in self._groups:
            indices = range(group * GROUP_SIZE, min((group + 1) * GROUP_SIZE, len(self._rules)))
            name = f"hs6g{_letters(group)}-{self._stem}"
            self._groups[group] = cached_rules_database(self._hs, name, self._rules, indices)
        return self._groups[group]

    def groups_in(self, content: bytes) -> list[int]:
        """The groups with a rule whose keyword ``content`` holds."""
        found: list[int] = []
        if content and self._selector is not None:
            self._selector.scan(content, match_event_handler=lambda group, *_: found.append(group))
        return found

    def loaded_with(self, groups: Sequence[int]) -> int:
        """How many groups would be loaded once ``groups`` are."""
        return len(self._groups) + sum(group not in self._groups for group in groups)

    def _on_match(self, pattern_id: int, start: int, end: int, flags: int, context: object) -> None:
        self._rules_hit.append(pattern_id)

    def scan(self, content: bytes, groups: Sequence[int] | None = None) -> Scanned:
        """As ``HyperscanPrefilter.scan``, over the databases of ``groups`` (default: ``groups_in(content)``)."""
        self._rules_hit = []
        for group in self.groups_in(content) if groups is None else groups:
            db, always = self._group(group)
            self._rules_hit.extend(always)
            if db is not None:
                db.scan(content, match_event_handler=self._on_match)
        if not self._rules_hit:
            return _NO_CANDIDATE
        # Keyword positions by ``bytes.find``, for the candidates' keywords only: in a small scan they are few (the
        # hook's 56 KB: 2 candidates, 60 keyword occurrences), and the keyword database would be one more load.
        lowered = content.lower()
        return Scanned(self._rules_hit, KeywordHits(lowered), lowered)


class SmallFirstPrefilter:
    """The keyword prefilter while the chunks scanned add up to ``SMALL_INPUT`` bytes or less, then Hyperscan by
    groups (``GroupedPrefilter``) while they stay within ``GROUPED_INPUT``, then the whole database.

    Importing Hyperscan is 2-3 ms; the keyword prefilter costs more with each rule whose keywords a text holds (it
    runs its regex): 0.4 ms for a 3-line file, 44-60 ms for the hook's 56 KB (the groups: 0.8 ms once loaded).
    Same findings (the contract)."""

    def __init__(self, rules: Sequence[CompiledRule], ruleset_hash: str) -> None:
        self._rules, self._hash = rules, ruleset_hash
        self._small: Prefilter = KeywordPrefilter(rules)
        self._grouped: GroupedPrefilter | None = None
        self._large: Prefilter | None = None
        self._scanned = 0

    @property
    def name(self) -> str:
        return (self._large or self._grouped or self._small).name

    @property
    def stage(self) -> str:
        """Which prefilter answers now: "keywords", "grouped" or "whole"."""
        return "whole" if self._large else "grouped" if self._grouped else "keywords"

    def load_all(self) -> Prefilter:
        self._large = self._large or make_prefilter(self._rules, self._hash)
        return self._large

    def scan(self, content: bytes) -> Scanned:
        large = self._large  # once loaded, one call a chunk (a history worker's every chunk comes here)
        if large is None:
            self._scanned += len(content)
            if self._scanned <= SMALL_INPUT:
                return self._small.scan(content)
            if self._scanned <= GROUPED_INPUT:
                scanned = self._scan_grouped(content)
                if scanned is not None:
                    return scanned
            large = self.load_all()
        return large.scan(content)

    def _scan_grouped(self, content: bytes) -> Scanned | None:
        """The grouped prefilter's answer, or None where the whole database should answer (Hyperscan is not
        installed, or the groups loaded would pass ``MAX_GROUP_SHARE``)."""
        if self._grouped is None:
            try:
                self._grouped = GroupedPrefilter(self._rules, self._hash)
            except ImportError:
                self._large = KeywordPrefilter(self._rules)
                return None
        groups = self._grouped.groups_in(content)
        if self._grouped.loaded_with(groups) * MAX_GROUP_SHARE > self._grouped.group_count:
            return None
        return self._grouped.scan(content, groups)
