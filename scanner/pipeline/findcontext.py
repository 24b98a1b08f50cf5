"""The text around a finding, for a validator that needs a second value (``Validator.needs_context``): the
finding's file or git blob read again (``sources.reread``), cut to ±``LINES`` lines and at most ``MAX_BYTES``.

Only the scan kinds whose origins point at something that can be read again get a reader: ``paths`` (files on
disk) and the git walks (blobs at ``commit:path``). The text is kept only while the run's validation lasts and
only if it still holds the secret where the finding said (a file changed since the scan gives none).
"""

from __future__ import annotations

from scanner.models import Finding
from scanner.pipeline.request import ScanRequest
from scanner.sources.reread import Rereader

LINES = 25  # lines either side of the finding
MAX_BYTES = 16 * 1024  # of one finding's context

_WALKS = frozenset({"history", "range", "push"})


class FindingContext:
    """Callable: a finding → the text around it ("" when there is none). The last content read is kept (a run's
    findings come file by file), nothing more."""

    def __init__(self, reader: Rereader) -> None:
        self.reader = reader
        self._last: tuple[object, bytes | None] = (None, None)

    def __call__(self, finding: Finding) -> str:
        origin = finding.origin
        key = (origin.kind, origin.path, getattr(origin, "commit", ""), getattr(origin, "where", ""))
        if self._last[0] != key:
            self._last = (key, self.reader.content(origin))
        content = self._last[1]
        if content is None:
            return ""
        return window(content, finding.match.line, finding.match.end_line, finding.match.secret.reveal())


def for_request(request: ScanRequest) -> FindingContext | None:
    """The context reader of a scan's kind, or None (images, state, logs, staged changes: snippets only)."""
    options = request.options
    if request.kind == "paths":
        return FindingContext(Rereader(max_size=options.max_file_size))
    if request.kind in _WALKS and request.paths:
        return FindingContext(Rereader(request.paths[0], options.object_dirs, options.max_file_size))
    return None


def window(content: bytes, line: int, end_line: int, secret: str) -> str:
    """Lines ``line - LINES`` to ``end_line + LINES`` (1-based) of ``content``, at most ``MAX_BYTES`` centred on the
    secret; "" when the secret is not there (the content changed) or is itself too long."""
    lines = content.split(b"\n")
    first = max(0, line - 1 - LINES)
    text = b"\n".join(lines[first : max(first, end_line + LINES)])
    value = secret.encode()
    at = text.find(value)
    if at < 0 or len(value) > MAX_BYTES:
        return ""
    if len(text) > MAX_BYTES:
        start = min(max(0, at - (MAX_BYTES - len(value)) // 2), len(text) - MAX_BYTES)
        text = text[start : start + MAX_BYTES]
    return text.decode("utf-8", "ignore")
