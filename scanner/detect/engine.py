"""The detector: keyword prefilter → regex → secret group → entropy → checksum → false-positive heuristics,
then a rescan of decoded spans (base64, hex, percent, JSON escapes) to a bounded depth.

``Detector.detect`` is a pure function of the content given the ruleset; it is safe to build one per worker
process.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Protocol

from scanner.detect.decode import encoded_spans
from scanner.detect.entropy import shannon_entropy
from scanner.detect.examplekeys import is_published_example
from scanner.detect.heuristics import entropy_floor, generic_reason, is_lockfile, placeholder_reason
from scanner.detect.matches import RawMatch, to_matches
from scanner.detect.prefilter import KeywordHits, Prefilter, make_prefilter
from scanner.detect.smallscan import SmallFirstPrefilter
from scanner.models import CONFIDENCE_RANK, Match
from scanner.ruleset.checksums import CHECKSUMS
from scanner.ruleset.model import LINE_WINDOW, CompiledRule, Ruleset

# RawMatch and to_matches live in detect/matches.py; they are part of the detector's interface too.
__all__ = ["ContentProbe", "Detector", "RawMatch", "path_reason", "reject_reason", "rule_matches", "to_matches"]

CONTEXT_WINDOW = 120
# A whole-content rule that qualifies is searched on its keywords' lines in content of this size or more
# (``detect.linewindow``); below it, over the whole content: the same matches, and no regex parse for a small file.
LINE_SEARCH_FROM = 4096


class ContentProbe(Protocol):
    """An allowlist whose regexes look at the rule's whole match or its line (``scanner.policy.allowlists``): only the
    detector has the text, so it records which probes hold on each match (``Match.allow_hits``)."""

    @property
    def index(self) -> int: ...

    def content_hit(self, matched: str, line: str) -> bool: ...


def reject_reason(rule: CompiledRule, secret: str, context: str) -> str | None:
    """Why a regex match of ``rule`` is not reported, or None if it is a finding.

    Depends on the content only, never on the path, so a blob's matches can be computed once and reused for
    every path it appears at (see ``path_reason`` for the path-dependent part).
    """
    spec = rule.spec
    if not secret.strip():
        return "empty"
    if is_published_example(secret):
        return "published-example"
    if spec.min_entropy and shannon_entropy(secret) < entropy_floor(spec.min_entropy, secret, spec.generic):
        return "low-entropy"
    if spec.checksum:
        if not CHECKSUMS[spec.checksum](secret):
            return "bad-checksum"
        # A valid checksum means the provider's generator made it: 'todo' or 'xxxx' in it is chance, not a stand-in.
        return _allowlisted(rule, secret)
    reason = _allowlisted(rule, secret) or placeholder_reason(secret)
    if reason is None and spec.generic:
        reason = generic_reason(secret, context)
    return reason


def _allowlisted(rule: CompiledRule, secret: str) -> str | None:
    lowered = secret.lower()
    if any(word in lowered for word in rule.spec.allow_stopwords):
        return "rule-stopword"
    if any(rx.search(secret) for rx in rule.allow_regexes):
        return "rule-allowlist"
    return None


def _context_before(content: bytes, start: int) -> str:
    """The text before the secret on its line, at most CONTEXT_WINDOW bytes: it names what the secret is."""
    line_start = content.rfind(b"\n", max(0, start - CONTEXT_WINDOW), start) + 1
    return content[max(line_start, start - CONTEXT_WINDOW) : start].decode("utf-8", "replace")


def path_reason(rule: CompiledRule, path: str) -> str | None:
    """Why a match of ``rule`` at ``path`` is not reported: the rule's path allowlist, lockfiles for generic rules."""
    if any(rx.search(path) for rx in rule.allow_paths):
        return "rule-allowlist-path"
    if rule.spec.generic and is_lockfile(path):
        return "lockfile"
    return None


class Detector:
    def __init__(
        self,
        ruleset: Ruleset,
        max_decode_depth: int = 2,
        allow_probes: Mapping[str, Sequence[ContentProbe]] | None = None,
        engine: str = "auto",
        small_first: bool = False,
    ) -> None:
        """``engine``: "auto" (Hyperscan where it loads), "hyperscan" or "python"; the same findings either way.
        ``small_first``: "auto" loads Hyperscan once the input passes a few hundred bytes (``SmallFirstPrefilter``)."""
        self.rules: tuple[CompiledRule, ...] = ruleset.rules
        self.prefilter: Prefilter = (
            SmallFirstPrefilter(self.rules, ruleset.hash)
            if small_first and engine == "auto"
            else make_prefilter(self.rules, ruleset.hash, engine)
        )
        self.max_decode_depth = max_decode_depth
        self.allow_probes: Mapping[str, Sequence[ContentProbe]] = allow_probes or {}

    @property
    def engine(self) -> str:
        return self.prefilter.name

    def load_all(self) -> None:
        """Load now what a small input would not (the Hyperscan database): processes forked after it share it."""
        if isinstance(self.prefilter, SmallFirstPrefilter):
            self.prefilter.load_all()

    def raw_matches(
        self, content: bytes, depth: int = 0, before_rules: Callable[[], None] | None = None
    ) -> list[RawMatch]:
        """``before_rules`` is called before a rule's regex runs in ``re`` (where a regex time bound starts)."""
        found: list[RawMatch] = []
        # Spans a specific rule recognised by format but rejected as never issued (a wrong checksum): a generic
        # rule must not report the same token again just because it sits after "token =".
        vetoed: list[tuple[int, int]] = []
        scanned = self.prefilter.scan(content)
        hits, lowered = scanned.hits, scanned.lowered
        if scanned.candidates and before_rules is not None:
            before_rules()
        for index in scanned.candidates:
            rule = self.rules[index]
            if not any(hits.positions(k) for k in rule.keywords):
                continue
            group = rule.secret_group
            for m in rule_matches(rule, content, lowered, hits):
                start, end = m.span(group)
                if start < 0 or start == end:
                    continue
                secret = content[start:end].decode("utf-8", "replace")
                reason = reject_reason(rule, secret, _context_before(content, start) if rule.spec.generic else "")
                if reason is None:
                    probed = _probe(self.allow_probes.get(rule.id), content, m) if self.allow_probes else ()
                    found.append(RawMatch(rule, start, end, secret, shannon_entropy(secret), allow_hits=probed))
                elif reason == "bad-checksum":
                    vetoed.append((start, end))
        if vetoed:
            found = [
                r
                for r in found
                if not (r.rule.spec.generic and any(r.start < v_end and v_start < r.end for v_start, v_end in vetoed))
            ]
        if depth < self.max_decode_depth:
            for span in encoded_spans(content):
                for inner in self.raw_matches(span.content, depth + 1, before_rules):
                    found.append(
                        RawMatch(
                            inner.rule,
                            span.start,
                            span.end,
                            inner.secret,
                            inner.entropy,
                            (span.encoding, *inner.decoded),
                            inner.allow_hits,
                        )
                    )
        return _dedupe(found)

    def detect(
        self, content: bytes, first_line: int = 1, before_rules: Callable[[], None] | None = None
    ) -> list[Match]:
        """Matches in ``content``; ``first_line`` numbers its lines when it is a part of a file."""
        raw = self.raw_matches(content, 0, before_rules)
        if not raw:
            return []
        return to_matches(content, raw, first_line)


def _probe(probes: Sequence[ContentProbe] | None, content: bytes, m: re.Match[bytes]) -> tuple[int, ...]:
    """The indexes of the probes whose regexes hold on the whole match or the line(s) holding it."""
    if not probes:
        return ()
    start, end = m.span()
    line_start = content.rfind(b"\n", 0, start) + 1
    line_end = content.find(b"\n", max(end - 1, start))
    line = content[line_start : len(content) if line_end == -1 else line_end]
    matched = content[start:end].decode("utf-8", "replace")
    text = line.decode("utf-8", "replace").rstrip("\r")
    return tuple(p.index for p in probes if p.content_hit(matched, text))


def rule_matches(rule: CompiledRule, content: bytes, lowered: bytes, hits: KeywordHits) -> Iterator[re.Match[bytes]]:
    """The rule's regex matches: over the whole content, or for a keyword-anchored rule only in windows around
    keyword occurrences (its line, or its bounded width either side), keeping matches that contain a keyword
    (see ``ruleset.model.scan_window``).

    A window always ends beyond where a keyword-holding match can end (past the line's newline and one more
    byte, or one byte past the widest match), so ``re`` treating the window's end as the end of the string can
    only change matches that hold no keyword, and those are dropped.
    """
    width = rule.spec.window
    back = 0  # bytes a line's window starts before the line
    if not width:
        if len(content) < LINE_SEARCH_FROM or not _newline_led(rule):
            yield from rule.pattern.finditer(content)
            return
        width, back = LINE_WINDOW, 1  # see detect.linewindow: the same matches, on their keywords' lines
    windows = []
    for keyword in rule.keywords:
        line_end = -1
        for pos in hits.positions(keyword):
            if width == LINE_WINDOW:
                if pos < line_end:
                    continue  # the rest of this line is in the window already
                line_end = content.find(b"\n", pos)
                line_end = len(content) if line_end == -1 else line_end
                windows.append((max(0, content.rfind(b"\n", 0, pos) + 1 - back), line_end + 2))
            else:
                windows.append((max(0, pos - width), pos + len(keyword) + width + 1))
    windows.sort()
    resume = 0
    index = 0
    while index < len(windows):
        lo, hi = windows[index]
        index += 1
        while index < len(windows) and windows[index][0] <= hi:
            hi = max(hi, windows[index][1])
            index += 1
        for m in rule.pattern.finditer(content, max(lo, resume), min(hi, len(content))):
            if any(k in lowered[m.start() : m.end()] for k in rule.keywords):
                resume = m.end()
                yield m


def _newline_led(rule: CompiledRule) -> bool:
    from scanner.detect.linewindow import newline_led  # imported by a large chunk only: a hook's files seldom are

    return newline_led(rule)


def _dedupe(found: list[RawMatch]) -> list[RawMatch]:
    """One report per secret site.

    Where matches overlap, a specific rule wins over a generic one, a raw match over a decoded one, and of two
    specific rules whose secrets contain one another, the one that captured more (a service-account key file
    rule over the bare private-key rule inside it); of two rules capturing the same secret, one that recognises
    the token by its own format (its keyword is inside the secret: ``pscale_pw_``) wins over one that found it
    by context (a database URL), then the higher confidence, then the rule id, so every run picks the same one.
    """
    if len(found) < 2:
        return found
    found.sort(
        key=lambda r: (
            r.rule.spec.generic,
            len(r.decoded),
            -len(r.secret),
            not _self_identifying(r),
            -CONFIDENCE_RANK[r.rule.spec.confidence],
            r.rule.id,
            r.start,
        )
    )
    kept: list[RawMatch] = []
    for cand in found:
        if not any(_covered_by(cand, other) for other in kept):
            kept.append(cand)
    kept.sort(key=lambda r: (r.start, r.rule.id))
    return kept


def _self_identifying(r: RawMatch) -> bool:
    lowered = r.secret.lower()
    return any(k in lowered for k in r.rule.spec.keywords)


def _covered_by(cand: RawMatch, other: RawMatch) -> bool:
    """Is ``cand`` the same secret site as ``other``, which sorts before it?"""
    if not (cand.start < other.end and other.start < cand.end):
        return False
    if cand.rule.spec.generic and not other.rule.spec.generic:
        return True
    if cand.decoded and not other.decoded and cand.rule.id == other.rule.id:
        return True  # the same rule on the percent-decoded text of its own raw match (a SAS sig=...%2B...)
    return cand.secret in other.secret or other.secret in cand.secret
