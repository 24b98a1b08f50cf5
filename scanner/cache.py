"""A small on-disk cache (``$LEAKSTOP_CACHE_DIR``, else ``$XDG_CACHE_HOME/leakstop``) for work that depends only
on content: parsed rules, validated configs, compiled Hyperscan databases.

Entries are named ``<kind>-<content hash>``; a write is atomic (temp file, fsync, rename) and keeps the newest few
entries of its kind. Every entry is framed: a magic line with the format version and the SHA-256 of the payload.
A read returns the payload only when the frame checks out, from a regular file (no link, FIFO or device) under a
size cap; anything else is a miss and the caller rebuilds. Data is stored as JSON or as a library's own
serialisation, never as pickle: a planted entry is data to verify, never code to run (issue #18).
Every failure is silent: a read-only home directory costs speed, never correctness.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from pathlib import Path
from typing import Any

from scanner.atomicfile import write_atomic

KEEP_PER_KIND = 6
FORMAT = 1
MAX_ENTRY = 256 * 1024 * 1024  # bytes: far above any real entry; a planted huge file is not read
_MAGIC = b"leakstop-cache %d " % FORMAT
_FRAME = len(_MAGIC) + 64 + 1  # magic, hex digest, newline
MAX_HEADER_LINE = 64 * 1024  # read_with_header's line: a short list of numbers, far below this


def cache_dir() -> Path:
    base = os.environ.get("LEAKSTOP_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "leakstop"
    )
    return Path(base)


def _read_regular(path: Path, header_line: bool) -> tuple[bytes, bytes] | None:
    """(b"", the payload), or with ``header_line`` (the payload's first line, the rest), when the file is a regular
    file under the cap and its frame checks out; else None. Never blocks on a FIFO, never follows a link.

    Each part is read straight into its own ``bytes``: no slice copies the payload. For the 5.6 MB Hyperscan
    database every copy was a fresh 5.6 MB to fault in and free again (1,400 pages), once for the frame and once
    for the header line.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_ENTRY:
            return None
        with os.fdopen(fd, "rb", closefd=False) as handle:
            head = handle.read(_FRAME)
            line = handle.readline(MAX_HEADER_LINE) if header_line else b""
            # The rest by the file's size (+1 to see it grew: then the frame fails), not the cap: ``read(n)``
            # first allocates n bytes, and a 256 MiB buffer for the database cost 3 ms at every start.
            rest = handle.read(max(info.st_size - handle.tell(), 0) + 1)
    except OSError:
        return None
    finally:
        os.close(fd)
    digest = hashlib.sha256(line)
    digest.update(rest)
    if not _checked(head, digest.hexdigest()) or (header_line and not line.endswith(b"\n")):
        return None
    return line[:-1], rest


def _checked(head: bytes, digest: str) -> bool:
    """Whether a frame's head is this format's with ``digest`` as the payload's checksum."""
    return len(head) == _FRAME and head.startswith(_MAGIC) and head[len(_MAGIC) :] == digest.encode() + b"\n"


def frame(data: bytes) -> bytes:
    return _MAGIC + hashlib.sha256(data).hexdigest().encode() + b"\n" + data


def unframe(raw: bytes) -> bytes | None:
    """The payload of a framed entry, or None when the magic, the version or the checksum does not match."""
    payload = raw[_FRAME:]
    return payload if _checked(raw[:_FRAME], hashlib.sha256(payload).hexdigest()) else None


def read(name: str) -> bytes | None:
    """The payload of the entry ``name``, or None on a miss (absent, damaged, not a regular file, too large)."""
    parts = _read_regular(cache_dir() / name, header_line=False)
    return None if parts is None else parts[1]


def read_with_header(name: str) -> tuple[bytes, bytes] | None:
    """An entry written as ``header line + b"\\n" + body``: (header line, body), the body read into a ``bytes`` of
    its own, or None on a miss (as ``read``, or no newline in the first ``MAX_HEADER_LINE`` bytes)."""
    return _read_regular(cache_dir() / name, header_line=True)


def write(name: str, data: bytes) -> None:
    directory = cache_dir()
    kind = name.split("-", 1)[0]
    try:
        directory.mkdir(parents=True, exist_ok=True)
        write_atomic(directory / name, frame(data))
        entries = sorted(directory.glob(f"{kind}-*"), key=lambda p: p.stat().st_mtime, reverse=True)
        for stale in entries[KEEP_PER_KIND:]:
            stale.unlink(missing_ok=True)
    except OSError:
        pass


def read_json(name: str) -> Any:
    """A JSON entry's value, or None on a miss (absent, damaged, not JSON). Callers still check its shape."""
    data = read(name)
    if data is None:
        return None
    try:
        return json.loads(data)
    except (ValueError, RecursionError):
        return None


def write_json(name: str, value: Any) -> None:
    """Store ``value`` as JSON; a value JSON cannot hold exactly (bytes, sets, non-string keys) is not cached."""
    try:
        text = json.dumps(value, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError, RecursionError):
        return
    if json.loads(text) != value:
        return
    write(name, text.encode("utf-8"))
