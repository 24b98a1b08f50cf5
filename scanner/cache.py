"""A small on-disk cache (``$LEAKSTOP_CACHE_DIR``, else ``$XDG_CACHE_HOME/leakstop``) for work that depends only
on content: parsed rules, validated configs, compiled Hyperscan databases.

Entries are named ``<kind>-<content hash>``; a write is atomic (temp file, fsync, rename) and keeps the newest few
entries of its kind. Every entry is framed: a magic line with the format version and the SHA-256 of the payload (of
a self-checked entry, the Hyperscan database: of its header line and size; the body's own CRC is checked where it is
loaded, see ``read_self_checked``). A read returns the payload only when the frame checks out, from a regular file
(no link, FIFO or device) under a size cap; anything else is a miss and the caller rebuilds. Data is stored as JSON
or as a library's own serialisation, never as pickle: a planted entry is data to verify, never code to run
(issue #18). Every failure is silent: a read-only home directory costs speed, never correctness.
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path
from typing import Any

from scanner import digests
from scanner.atomicfile import write_atomic

KEEP_PER_KIND = 6
FORMAT = 1
MAX_ENTRY = 256 * 1024 * 1024  # bytes: far above any real entry; a planted huge file is not read
_MAGIC = b"leakstop-cache %d " % FORMAT
# A self-checked entry's frame: a header line, then a body that checks itself when used (see read_self_checked).
_SELF_CHECKED = b"leakstop-cache %d self-checked " % FORMAT
_VERSIONED = re.compile(r"([a-z]+)([0-9]+)([a-z]*)")  # an entry kind with a format number: hs6, hs5k
MAX_HEADER_LINE = 64 * 1024  # a self-checked entry's header line: a short list of numbers, far below this


def cache_dir() -> Path:
    base = os.environ.get("LEAKSTOP_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "leakstop"
    )
    return Path(base)


def _read_regular(path: Path, magic: bytes) -> tuple[bytes, bytes, bytes] | None:
    """(the frame's head, the header line or b"", the rest) of a regular file under the cap, or None. Never blocks
    on a FIFO, never follows a link. A ``_SELF_CHECKED`` entry's header line is split off.

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
            head = handle.read(len(magic) + 65)  # magic, hex digest, newline
            line = handle.readline(MAX_HEADER_LINE) if magic is _SELF_CHECKED else b""
            # The rest by the file's size (+1 to see it grew: then the frame fails), not the cap: ``read(n)``
            # first allocates n bytes, and a 256 MiB buffer for the database cost 3 ms at every start.
            rest = handle.read(max(info.st_size - handle.tell(), 0) + 1)
    except OSError:
        return None
    finally:
        os.close(fd)
    return head, line, rest


def _checked(head: bytes, magic: bytes, digest: str) -> bool:
    """Whether a frame's head is ``magic`` with ``digest`` as the checksum."""
    return head == magic + digest.encode() + b"\n"


def frame(data: bytes) -> bytes:
    return _MAGIC + digests.sha256(data).hexdigest().encode() + b"\n" + data


def unframe(raw: bytes) -> bytes | None:
    """The payload of a framed entry, or None when the magic, the version or the checksum does not match."""
    size = len(_MAGIC) + 65
    payload = raw[size:]
    return payload if _checked(raw[:size], _MAGIC, digests.sha256(payload).hexdigest()) else None


def read(name: str) -> bytes | None:
    """The payload of the entry ``name``, or None on a miss (absent, damaged, not a regular file, too large)."""
    parts = _read_regular(cache_dir() / name, _MAGIC)
    if parts is None or not _checked(parts[0], _MAGIC, digests.sha256(parts[2]).hexdigest()):
        return None
    return parts[2]


def _self_checked_digest(line: bytes, body_size: int) -> str:
    return digests.sha256(b"%s\n%d" % (line, body_size)).hexdigest()


def read_self_checked(name: str) -> tuple[bytes, bytes] | None:
    """(header line, body) of an entry ``write_self_checked`` stored, or None on a miss (as ``read``).

    The frame's checksum covers the header line and the body's size, not the body's bytes: the body must check
    itself where it is used. Hyperscan's serialised database does (``hs_deserialize_database`` verifies the CRC-32C
    over its bytecode and refuses a wrong length: a damaged body is a load error there, the caller's miss), and
    the SHA-256 of its 5.6 MB was 3 ms of every start. Neither checksum stops a planted entry (issue #18): the
    planter can compute either; what keeps one harmless is that the body is data to a parser that checks it.
    """
    parts = _read_regular(cache_dir() / name, _SELF_CHECKED)
    if parts is None:
        return None
    head, line, body = parts
    if not line.endswith(b"\n") or not _checked(head, _SELF_CHECKED, _self_checked_digest(line[:-1], len(body))):
        return None
    return line[:-1], body


def write(name: str, data: bytes) -> None:
    _store(name, frame(data))


def write_self_checked(name: str, line: bytes, body: bytes) -> None:
    """Store a header line (no newline in it) and a body that checks itself: see ``read_self_checked``."""
    if b"\n" not in line and len(line) < MAX_HEADER_LINE:
        digest = _self_checked_digest(line, len(body)).encode()
        _store(name, _SELF_CHECKED + digest + b"\n" + line + b"\n" + body)


def _store(name: str, framed: bytes) -> None:
    """Write atomically, keep the newest few entries of the kind and none of its retired (older) versions (``hs5``
    once ``hs6`` is written: each is 5.6 MB); any failure leaves the cache as it was. An older build sharing the
    directory (a pre-commit environment pinned to an earlier release) never removes a newer build's entries, and
    loses its own only when the newer build compiles."""
    directory = cache_dir()
    kind = name.split("-", 1)[0]
    try:
        directory.mkdir(parents=True, exist_ok=True)
        write_atomic(directory / name, framed)
        entries = sorted(directory.glob(f"{kind}-*"), key=lambda p: p.stat().st_mtime, reverse=True)
        retired = [p for p in directory.iterdir() if _retired(p.name.split("-", 1)[0], kind)]
        for stale in entries[KEEP_PER_KIND:] + retired:
            stale.unlink(missing_ok=True)
    except OSError:
        pass


def _retired(other: str, kind: str) -> bool:
    """Whether ``other`` is an older version of ``kind``: the same letters around a smaller number."""
    mine, theirs = _VERSIONED.fullmatch(kind), _VERSIONED.fullmatch(other)
    return bool(mine and theirs and int(theirs[2]) < int(mine[2]) and (mine[1], mine[3]) == (theirs[1], theirs[3]))


def read_json(name: str) -> Any:
    """A JSON entry's value, or None on a miss (absent, damaged, not JSON). Callers still check its shape."""
    data = read(name)
    if data is None:
        return None
    import json  # where it is used, here and elsewhere: the commit hook's run reads no JSON and never imports it

    try:
        return json.loads(data)
    except (ValueError, RecursionError):
        return None


def write_json(name: str, value: Any) -> None:
    """Store ``value`` as JSON; a value JSON cannot hold exactly (bytes, sets, non-string keys) is not cached."""
    import json

    try:
        text = json.dumps(value, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError, RecursionError):
        return
    if json.loads(text) != value:
        return
    write(name, text.encode("utf-8"))
