"""Text from the scanned world (file names, paths, refs, commit messages, content) made safe for a terminal or a
log: every character that could move the cursor, clear the screen, end a line, fake a new one or reorder what a
reader sees (C0 and C1 controls, DEL, ESC sequences, CR, line and paragraph separators, bidi overrides and other
invisible format characters) is shown escaped, as Python writes it (``\\x1b``, ``\\r``, ``\\u202e``). A tab stays.

Used on every human-facing output: the text and markdown reports, hook messages, CI annotations, error lines.
Machine formats (JSON, SARIF) keep the exact text; their encoders escape controls themselves.
"""

from __future__ import annotations


def printable(text: str) -> str:
    """``text`` on one line with nothing hidden: non-printable characters escaped (idempotent)."""
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() or ch == "\t" else repr(ch)[1:-1] for ch in text)


def printable_lines(text: str) -> str:
    """Each line of a multi-line text made printable; the line breaks themselves stay."""
    return "\n".join(printable(line) for line in text.split("\n"))
