"""A log stream with every secret the rules find replaced by its redacted form (``leakstop redact``); pure: bytes
in, bytes out, no I/O (the command owns reading, timeouts and writing).

Throughput comes from detecting over big buffers: everything up to the last complete line of what has arrived
is one detection (one Hyperscan pass), not a Python loop over lines. Memory is bounded: a line without a newline
is cut once it passes ``max_line`` bytes, keeping ``overlap`` bytes (and any match that reaches into them) for
the next window, so a secret on the cut is still found whole; an open PEM block (a BEGIN line without its END
yet) is held back until its END arrives, up to ``max_pem`` bytes. ANSI escape sequences are taken out for
detection (``\\x1b[32mghp_…`` must not hide a token behind a word character) and put back in the output: bytes
that are not part of a secret pass through unchanged, binary garbage included.
"""

from __future__ import annotations

import bisect
import re
from collections import Counter

from scanner.detect.engine import Detector
from scanner.detect.matches import RawMatch
from scanner.models import Secret

# CSI (colours, cursor), OSC (titles, hyperlinks; ended by BEL or ST) and the two-byte escapes.
_ANSI = re.compile(rb"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)|[@-Z\\-_])")
_PEM_BEGIN = b"-----BEGIN "
_PEM_END = b"-----END "

Span = tuple[int, int, str, str]  # start, end (bytes into the buffer), rule id, the redacted form


class _Stripped:
    """Content without its escape sequences, and the way back to the original's offsets."""

    def __init__(self, content: bytes) -> None:
        self.text = bytearray()
        self._kept: list[int] = []  # where each kept run starts in ``text``
        self._orig: list[int] = []  # ... and in the original
        pos = 0
        for m in _ANSI.finditer(content):
            self._keep(content, pos, m.start())
            pos = m.end()
        self._keep(content, pos, len(content))

    def _keep(self, content: bytes, start: int, end: int) -> None:
        if start < end:
            self._kept.append(len(self.text))
            self._orig.append(start)
            self.text += content[start:end]

    def original(self, offset: int) -> int:
        index = bisect.bisect_right(self._kept, offset) - 1
        return self._orig[index] + offset - self._kept[index]


def _escapes_inside(content: bytes, start: int, end: int) -> bytes:
    """The escape sequences within a secret's span: a colour change inside a token survives its redaction."""
    return b"".join(m.group(0) for m in _ANSI.finditer(content, start, end))


class LogRedactor:
    def __init__(
        self, detector: Detector, max_line: int = 1 << 20, overlap: int = 8192, max_pem: int = 64 << 10
    ) -> None:
        self.detector = detector
        self.max_line = max_line
        self.overlap = overlap
        self.max_pem = max_pem
        self.counts: Counter[str] = Counter()  # secrets redacted, by rule id
        self.bytes_in = 0
        self._buffer = bytearray()

    @property
    def pending(self) -> int:
        """Bytes read and not written yet (a partial line, an open PEM block, a window's overlap)."""
        return len(self._buffer)

    def feed(self, data: bytes) -> bytes:
        """What can be written now that ``data`` arrived: every complete line (but an open PEM block)."""
        self.bytes_in += len(data)
        self._buffer += data
        out = bytearray()
        while True:
            ready = self._ready()
            if ready:
                out += self._emit(ready)
            elif len(self._buffer) > self.max_line:
                out += self._emit_window()
            else:
                return bytes(out)

    def flush(self, hold_pem: bool = True) -> bytes:
        """After a quiet spell: the partial line too (an open PEM block stays held while ``hold_pem``)."""
        end = len(self._buffer)
        if hold_pem:
            end = self._before_open_pem(end)
        return self._emit(end) if end else b""

    def finish(self) -> bytes:
        """At the end of input: everything left."""
        return self._emit(len(self._buffer)) if self._buffer else b""

    def _ready(self) -> int:
        end = self._buffer.rfind(b"\n") + 1
        return self._before_open_pem(end) if end else 0

    def _before_open_pem(self, end: int) -> int:
        """``end``, or the start of the line of a PEM block that begins before it and has not ended yet."""
        begin = self._buffer.rfind(_PEM_BEGIN, 0, end)
        if begin == -1 or self._buffer.find(_PEM_END, begin, end) != -1:
            return end
        if len(self._buffer) - begin > self.max_pem:
            return end  # too long to be a key: not held any longer
        return self._buffer.rfind(b"\n", 0, begin) + 1

    def _emit(self, end: int) -> bytes:
        content = bytes(self._buffer[:end])
        del self._buffer[:end]
        return self._redacted(content, self._spans(content))

    def _emit_window(self) -> bytes:
        """A line longer than ``max_line``: write all but the overlap, and any match reaching into the overlap."""
        content = bytes(self._buffer)
        spans = self._spans(content)
        cut = len(content) - self.overlap
        for start, end, _, _ in spans:
            if end > cut:
                cut = min(cut, start)
        if cut <= 0:
            cut = len(content)  # a match as long as the window itself: written redacted as it is
        kept = [span for span in spans if span[1] <= cut]
        del self._buffer[:cut]
        return self._redacted(content[:cut], kept)

    def _spans(self, content: bytes) -> list[Span]:
        if b"\x1b" not in content:
            return [_span(raw, raw.start, raw.end) for raw in self.detector.raw_matches(content)]
        stripped = _Stripped(content)
        return [
            _span(raw, stripped.original(raw.start), stripped.original(raw.end - 1) + 1)
            for raw in self.detector.raw_matches(bytes(stripped.text))
        ]

    def _redacted(self, content: bytes, spans: list[Span]) -> bytes:
        if not spans:
            return content
        out = bytearray()
        pos = 0
        for start, end, rule_id, shown in sorted(spans):
            if start < pos:
                continue  # overlaps one already replaced (the detector reports one per site; decoded spans may nest)
            out += content[pos:start]
            out += shown.encode("utf-8") + _escapes_inside(content, start, end)
            pos = end
            self.counts[rule_id] += 1
        out += content[pos:]
        return bytes(out)


def _span(raw: RawMatch, start: int, end: int) -> Span:
    return start, end, raw.rule.id, Secret(raw.secret).redacted()
