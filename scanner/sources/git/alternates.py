"""Object directories beyond a repository's own, as git lists them in ``GIT_ALTERNATE_OBJECT_DIRECTORIES``.

A pre-receive hook reads the pushed objects from git's quarantine directory (integrations.md 4.2): git passes it
to the hook's ``git`` processes in the environment, and libgit2 needs it as an extra object store. The list is
``:``-separated; an entry holding ``:`` or starting with ``"`` is C-quoted (git's ``alt_odb`` parsing).
"""

from __future__ import annotations

import os
from collections.abc import Iterable

_ESCAPES = {"\\": "\\\\", '"': '\\"', "\a": "\\a", "\b": "\\b", "\t": "\\t", "\n": "\\n", "\v": "\\v", "\f": "\\f"}
_ESCAPES["\r"] = "\\r"
_UNESCAPES = {v[1]: k for k, v in _ESCAPES.items()}


def quote(path: str) -> str:
    """``path`` as one entry of the list: as it is, or C-quoted when it holds ``:`` or starts with ``"``."""
    if ":" not in path and not path.startswith('"'):
        return path
    out = []
    for ch in path:
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\{ord(ch):03o}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def join(paths: Iterable[str]) -> str:
    return ":".join(quote(p) for p in paths)


def split(value: str) -> list[str]:
    """The entries of a ``GIT_ALTERNATE_OBJECT_DIRECTORIES`` value, unquoted; empty entries dropped.

    Raises ``ValueError`` naming the problem for a quoted entry that does not end or is not followed by ``:``.
    """
    entries: list[str] = []
    pos = 0
    while pos < len(value):
        if value[pos] == '"':
            entry, pos = _unquote(value, pos)
            if pos < len(value) and value[pos] != ":":
                raise ValueError(f"text after a quoted entry at character {pos}")
        else:
            end = value.find(":", pos)
            end = len(value) if end == -1 else end
            entry, pos = value[pos:end], end
        if entry:
            entries.append(entry)
        pos += 1  # the ':'
    return entries


def _unquote(value: str, start: int) -> tuple[str, int]:
    """The C-quoted string starting at ``value[start] == '"'`` (octal escapes are bytes), and the index after it."""
    out = bytearray()
    pos = start + 1
    while pos < len(value):
        ch = value[pos]
        if ch == '"':
            return os.fsdecode(bytes(out)), pos + 1
        if ch != "\\":
            out += os.fsencode(ch)
            pos += 1
            continue
        escaped = value[pos + 1 : pos + 2]
        if escaped in _UNESCAPES:
            out += _UNESCAPES[escaped].encode()
            pos += 2
        elif len(digits := value[pos + 1 : pos + 4]) == 3 and all(c in "01234567" for c in digits):
            out.append(int(digits, 8) & 0xFF)
            pos += 4
        else:
            raise ValueError(f"bad escape at character {pos}")
    raise ValueError(f"a quoted entry at character {start} does not end")
