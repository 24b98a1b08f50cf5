"""Find encoded spans (base64, hex, percent-encoding, JSON string escapes) and decode them for a rescan.

A secret stored base64-encoded in a Kubernetes Secret, hex-encoded in a dump, percent-encoded in a URL or with
``\\/`` escapes in JSON is invisible to the rules until decoded. Only spans that decode to mostly printable text
are kept: digests, images and compressed data decode to binary and are dropped at once.

Speed matters here: this runs over every byte scanned. Candidate runs are found on a translated copy of the
content (every base64 character mapped to ``A``) with ``bytes.find``, instead of a character-class regex
tried at every offset; where the optional C extension ``_spans`` is built, it does that search (and the
checks on the encoded form) in one pass, a fifth of a history scan's CPU otherwise.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from urllib.parse import unquote_to_bytes

from scanner.lazyre import LazyPattern

MIN_RUN = 20
_B64_CHARS = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/-_"
_B64_TABLE = bytes(ord("A") if bytes([b]) in _B64_CHARS and b != 0 else ord(" ") for b in range(256))
_HEX_RUN = LazyPattern(rb"(?:[0-9a-fA-F]{2}){12,}")
_PERCENT_ESCAPE = re.compile(rb"%[0-9A-Fa-f]{2}")
_TOKEN_RIGHT = LazyPattern(rb"[^\s\"'<>`]*")
_DELIMITERS = b" \t\r\n\"'<>`"
_JSON_STRING = LazyPattern(rb'"(?:[^"\\\r\n]|\\.)*"')
_JSON_ESCAPE = re.compile(rb"\\(?:/|u[0-9a-fA-F]{4})")
_PRINTABLE = bytes([9, 10, 13, *range(32, 127)])
# The first character of each base64 quartet holds the top six bits of a byte: for an ASCII byte (< 0x80) it is
# one of these. Counting the others tells, before decoding, how many decoded bytes at least are not ASCII.
_TEXT_LEADS = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdef"


@dataclass(frozen=True, slots=True)
class DecodedSpan:
    """A span of the content that decodes (base64, hex, percent, JSON escapes), and what it decodes to."""

    start: int
    end: int
    content: bytes
    encoding: str


def _mostly_printable(data: bytes) -> bool:
    if len(data) < 8:
        return False
    unprintable = len(data.translate(None, _PRINTABLE))  # deleting the printable bytes leaves the others
    return unprintable <= 0.05 * len(data)


def _base64_decode(token: bytes) -> bytes | None:
    body = token.rstrip(b"=")
    if len(body) % 4 == 1:
        return None
    padded = body + b"=" * (-len(body) % 4)
    try:
        if b"-" in body or b"_" in body:
            if b"+" in body or b"/" in body:
                return None
            return base64.urlsafe_b64decode(padded)
        return base64.b64decode(padded, validate=True)
    except (binascii.Error, ValueError):
        return None


def _runs(translated: bytes) -> Iterator[tuple[int, int]]:
    """Runs of at least MIN_RUN ``A``s. ``bytes.find`` of a literal is far faster than ``re`` on ``A{20,}``.
    Each search starts at the start or on a space, so the first ``A``s it finds begin a run."""
    needle = b"A" * MIN_RUN
    start = translated.find(needle)
    while start != -1:
        end = translated.find(b" ", start + MIN_RUN)
        if end == -1:
            end = len(translated)
        yield start, end
        start = translated.find(needle, end)


Candidate = tuple[int, int, str]  # (start, end, "hex" or "base64"): a span worth decoding


def py_candidates(content: bytes) -> list[Candidate]:
    """The base64 and hex spans worth decoding: runs of base64 characters, filtered by what the encoded form
    shows. ``_spans.candidates`` (C) gives exactly the same; this is its twin, used when it is not built."""
    found: list[Candidate] = []
    for start, run_end in _runs(content.translate(_B64_TABLE)):
        end = run_end
        token = content[start:end]
        if token.islower() or token.isupper() or token.isdigit():
            # One case only: snake_case identifiers, ALL_CAPS names, or hex. Base64 of text has both cases.
            if len(token) % 2 == 0 and _HEX_RUN.fullmatch(token):
                found.append((start, end, "hex"))
            continue
        if len(token[::4].translate(None, _TEXT_LEADS)) * 20 > len(token) * 3 // 4:
            continue  # more than 5% of its bytes would be non-ASCII: not text (a DER certificate line, a digest)
        while end < len(content) and end - run_end < 2 and content[end] == 61:  # '=' padding
            end += 1
        found.append((start, end, "base64"))
    return found


PERCENT, JSON_ESCAPE = 1, 2  # what ``escapes`` says a content holds


def py_escapes(content: bytes) -> int:
    """``PERCENT`` if ``content`` holds a percent escape, ``JSON_ESCAPE`` if a JSON string escape, or'ed: whether
    ``_percent`` and ``_json_escapes`` can find anything in it. ``_spans.escapes`` (C) gives the same; most
    chunks hold a ``%`` or a backslash and no escape, and there it answers without the regexes' passes."""
    percent = b"%" in content and _PERCENT_ESCAPE.search(content) is not None
    json_escape = b"\\" in content and _JSON_ESCAPE.search(content) is not None
    return (PERCENT if percent else 0) | (JSON_ESCAPE if json_escape else 0)


def _native() -> tuple[Callable[[bytes], list[Candidate]], Callable[[bytes], int]] | None:
    """The C span search and escape test (``scanner/detect/_spans.c``), None where it was not built (an optional
    extension)."""
    try:
        from scanner.detect._spans import candidates, escapes
    except ImportError:
        return None
    return candidates, escapes


candidates: Callable[[bytes], list[Candidate]]
escapes: Callable[[bytes], int]
candidates, escapes = _native() or (py_candidates, py_escapes)


def _base64_and_hex(content: bytes, found: list[Candidate]) -> Iterator[DecodedSpan]:
    for start, end, kind in found:
        if kind == "hex":
            decoded: bytes | None = binascii.unhexlify(content[start:end])
        else:
            decoded = _base64_decode(content[start:end])
        if decoded is not None and _mostly_printable(decoded):
            yield DecodedSpan(start, end, decoded, kind)


def _percent(content: bytes) -> Iterator[DecodedSpan]:
    covered = -1
    for m in _PERCENT_ESCAPE.finditer(content):
        if m.start() < covered:
            continue
        left = m.start()
        limit = max(0, left - 4096)
        while left > limit and content[left - 1] not in _DELIMITERS:
            left -= 1
        right_match = _TOKEN_RIGHT.match(content, m.start(), min(len(content), m.start() + 4096))
        right = right_match.end() if right_match else m.end()
        covered = right
        token = content[left:right]
        decoded = unquote_to_bytes(token)
        if decoded != token:
            yield DecodedSpan(left, right, decoded, "percent")


def _json_escapes(content: bytes) -> Iterator[DecodedSpan]:
    done_lines: set[int] = set()
    for m in _JSON_ESCAPE.finditer(content):
        line_start = content.rfind(b"\n", 0, m.start()) + 1
        if line_start in done_lines:
            continue
        done_lines.add(line_start)
        line_end = content.find(b"\n", m.start())
        line_end = len(content) if line_end == -1 else line_end
        for s in _JSON_STRING.finditer(content, line_start, line_end):
            if not _JSON_ESCAPE.search(s.group()):
                continue
            import json  # per escaped string found: a run without one never imports it (``cache.read_json``)

            try:
                text = json.loads(s.group())
            except (ValueError, UnicodeDecodeError):
                continue
            if isinstance(text, str) and text:
                yield DecodedSpan(s.start() + 1, s.end() - 1, text.encode("utf-8", "surrogatepass"), "json-escape")


def encoded_spans(content: bytes, limit: int = 1 << 20) -> Iterator[DecodedSpan]:
    """The decoded spans of ``content``; they stop after ``limit`` decoded bytes (a bomb of tiny spans). Most
    chunks have none: they get an empty iterator, not a generator of their own (one per chunk of a history)."""
    generators = []
    listed = candidates(content)
    if listed:
        generators.append(_base64_and_hex(content, listed))
    found = escapes(content)
    if found & PERCENT:
        generators.append(_percent(content))
    if found & JSON_ESCAPE:
        generators.append(_json_escapes(content))
    return _bounded(generators, limit) if generators else iter(())


def _bounded(generators: list[Iterator[DecodedSpan]], limit: int) -> Iterator[DecodedSpan]:
    budget = limit
    for generator in generators:
        for span in generator:
            budget -= len(span.content)
            if budget < 0:
                return
            yield span
