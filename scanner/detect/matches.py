"""A raw match (offsets into the scanned content) and how it becomes a ``Match``: line and column, a snippet with
every secret on it redacted, and the inline allow markers around it."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass

from scanner.models import NEXT_LINE_MARKER, SAME_LINE_MARKERS, Match, Secret
from scanner.redact import redact
from scanner.ruleset.model import CompiledRule

SNIPPET_WIDTH = 160
_NEXT_LINE_BYTES = NEXT_LINE_MARKER.encode()
_SAME_LINE_BYTES = tuple(m.encode() for m in SAME_LINE_MARKERS)


@dataclass(frozen=True, slots=True)
class RawMatch:
    """A match before positions and snippets are worked out; offsets are into the scanned content."""

    rule: CompiledRule
    start: int
    end: int
    secret: str
    entropy: float
    decoded: tuple[str, ...] = ()
    allow_hits: tuple[int, ...] = ()


class _Lines:
    """Line lookups in one chunk, built only when a chunk has a match."""

    def __init__(self, content: bytes) -> None:
        self.content = content
        starts = [0]
        pos = content.find(b"\n")
        while pos != -1:
            starts.append(pos + 1)
            pos = content.find(b"\n", pos + 1)
        self.starts = starts

    def position(self, offset: int) -> tuple[int, int]:
        index = bisect_right(self.starts, offset) - 1
        return index + 1, offset - self.starts[index] + 1

    def bounds(self, line: int) -> tuple[int, int]:
        start = self.starts[line - 1]
        end = self.starts[line] - 1 if line < len(self.starts) else len(self.content)
        return start, end


def to_matches(content: bytes, raw: Sequence[RawMatch], first_line: int = 1) -> list[Match]:
    lines = _Lines(content)
    shift = first_line - 1
    # Every secret span is redacted in every snippet, so a line holding two secrets shows neither.
    spans = sorted((r.start, r.end, _mask(r)) for r in raw)
    out: list[Match] = []
    for r in raw:
        line, column = lines.position(r.start)
        end_line, end_column = lines.position(max(r.end - 1, r.start))
        out.append(
            Match(
                rule_id=r.rule.id,
                secret=Secret(r.secret),
                start=r.start,
                end=r.end,
                line=line + shift,
                column=column,
                end_line=end_line + shift,
                end_column=end_column + 1,
                snippet=_snippet(lines, line, r.start, spans),
                entropy=round(r.entropy, 3),
                decoded=r.decoded,
                inline_markers=_inline_markers(lines, line, end_line),
                allow_hits=r.allow_hits,
            )
        )
    return out


def _inline_markers(lines: _Lines, line: int, end_line: int) -> tuple[str, ...]:
    """The inline allow markers on the match's first or last line, and a next-line marker on the line before.

    Only lines holding a match get here, so the detector stays fast. Case-insensitive; ``leakstop:allow`` inside
    ``leakstop:allow-next-line`` does not allow its own line.
    """
    content = lines.content
    found: list[str] = []
    for number in (line,) if line == end_line else (line, end_line):
        start, end = lines.bounds(number)
        text = content[start:end].lower()
        if b":allow" not in text and b"pragma" not in text:
            continue
        for marker, raw in zip(SAME_LINE_MARKERS, _SAME_LINE_BYTES, strict=True):
            if marker in found:
                continue
            pos = text.find(raw)
            while pos != -1 and text.startswith(_NEXT_LINE_BYTES, pos):
                pos = text.find(raw, pos + 1)
            if pos != -1:
                found.append(marker)
    if line > 1:
        start, end = lines.bounds(line - 1)
        if _NEXT_LINE_BYTES in content[start:end].lower():
            found.append(NEXT_LINE_MARKER)
    return tuple(found)


def _mask(r: RawMatch) -> str:
    secret = Secret(r.secret)
    if r.decoded:
        return f"[{'+'.join(r.decoded)}-encoded secret {secret.redacted()}]"
    return secret.redacted()


def _snippet(lines: _Lines, line: int, anchor: int, spans: Sequence[tuple[int, int, str]]) -> str:
    line_start, line_end = lines.bounds(line)
    lo = max(line_start, anchor - SNIPPET_WIDTH // 2)
    hi = min(line_end, lo + SNIPPET_WIDTH)
    pieces: list[str] = []
    pos = lo
    # The text between found secrets is masked too where it looks like a credential: a secret key beside the key
    # id a rule found, a password in the same connection string (issue #18 item 8).
    for start, end, mask in spans:
        if end <= pos or start >= hi:
            continue
        if start > pos:
            pieces.append(redact(lines.content[pos:start].decode("utf-8", "replace")))
        pieces.append(mask)
        pos = max(pos, end)
    if pos < hi:
        pieces.append(redact(lines.content[pos:hi].decode("utf-8", "replace")))
    text = "".join(pieces).rstrip("\r")
    return ("…" if lo > line_start else "") + text + ("…" if hi < line_end else "")
