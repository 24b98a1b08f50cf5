"""Corrupt loose objects, found before libgit2 reads them.

libgit2 (up to 1.9, libgit2 issue #7342) loops forever inflating a truncated loose object: ``Z_BUF_ERROR`` is
taken as "try again" and no progress is ever made, at 100 % CPU with the GIL held, so neither a signal handler
nor a watchdog thread can stop it. git itself reports "object corrupt" at once. So before a walk every loose
object file is inflated here with Python's zlib (which ends on a truncated stream), its header checked against
its length; each corrupt one becomes an issue naming it, and when there is any, the repository's object store
is rebuilt (``guard``) with a loose backend that refuses those objects with an error instead of handing them to
libgit2's inflater. Packs are left to libgit2: their entries are checksummed and indexed.

The check reads the loose objects once (a fresh clone has none; ``git gc`` packs them): its cost is that of
inflating them, a fraction of reading them again for the scan.
"""

from __future__ import annotations

import os
import zlib
from collections.abc import Iterator, Sequence
from typing import Any

from scanner.sources.git.repo import pygit2_module

_HEX = frozenset("0123456789abcdef")
_TYPES = (b"blob", b"tree", b"commit", b"tag")
_CHUNK = 1 << 20


def object_dirs_of(git_dir: str, extra: Sequence[str] = ()) -> list[str]:
    """The repository's own object directory, those ``objects/info/alternates`` names, and ``extra``."""
    own = os.path.join(git_dir, "objects")
    found = [own]
    try:
        with open(os.path.join(own, "info", "alternates"), encoding="utf-8", errors="replace") as handle:
            lines = [line.strip() for line in handle]
    except OSError:
        lines = []
    found += [os.path.normpath(os.path.join(own, line)) for line in lines if line and not line.startswith("#")]
    found += [d for d in extra if os.path.realpath(d) not in {os.path.realpath(f) for f in found}]
    return found


def _loose_files(directory: str) -> Iterator[tuple[str, str]]:
    try:
        fans = sorted(os.listdir(directory))
    except OSError:
        return
    for fan in fans:
        if len(fan) != 2 or not set(fan) <= _HEX:
            continue
        try:
            names = sorted(os.listdir(os.path.join(directory, fan)))
        except OSError:
            continue
        for name in names:
            if len(name) in (38, 62) and set(name) <= _HEX:
                yield fan + name, os.path.join(directory, fan, name)


def check_loose(path: str) -> str:
    """Why the loose object file at ``path`` cannot be read ("" when it can): inflated in 1 MB steps, never
    held whole."""
    inflater = zlib.decompressobj()
    header = b""
    size = -1
    body = 0
    try:
        with open(path, "rb") as handle:
            while chunk := handle.read(_CHUNK):
                data = inflater.decompress(chunk)
                while inflater.unconsumed_tail:  # pragma: no cover - decompress without max_length never leaves one
                    data += inflater.decompress(inflater.unconsumed_tail)
                if size < 0:
                    header += data
                    if b"\0" not in header:
                        if len(header) > 64:
                            return "no object header"
                        continue
                    head, _, data = header.partition(b"\0")
                    kind, _, length = head.partition(b" ")
                    if kind not in _TYPES or not length.isdigit():
                        return "no object header"
                    size = int(length)
                body += len(data)
                if inflater.eof:
                    break
    except OSError as exc:
        return f"cannot read it: {exc.strerror or exc}"
    except zlib.error as exc:
        return f"cannot inflate it: {exc}"
    if not inflater.eof:
        return "truncated (its zlib stream ends early)"
    if size != body:
        return f"its header says {size} bytes, it holds {max(body, 0)}"
    return ""


def corrupt_loose(object_dirs: Sequence[str]) -> dict[str, str]:
    """Every corrupt loose object in ``object_dirs``: object id → where it is and why."""
    found: dict[str, str] = {}
    for directory in object_dirs:
        for oid, path in _loose_files(directory):
            problem = check_loose(path)
            if problem:
                found[oid] = f"object corrupt: loose object {oid} ({path}): {problem}"
    return found


def guard(repo: Any, object_dirs: Sequence[str], corrupt: dict[str, str]) -> None:
    """With corrupt loose objects, give ``repo`` an object store that refuses them (a ``GitError`` naming the
    object) instead of letting libgit2 inflate them; without any, leave it as it is."""
    if not corrupt:
        return
    pygit2 = pygit2_module()
    odb = pygit2.Odb()
    for priority, directory in enumerate(reversed(object_dirs)):
        if os.path.isdir(os.path.join(directory, "pack")):
            odb.add_backend(pygit2.OdbBackendPack(directory), 2 * priority + 2)
        odb.add_backend(_guarded_backend(directory, corrupt), 2 * priority + 1)
    repo.set_odb(odb)


def _guarded_backend(directory: str, corrupt: dict[str, str]) -> Any:
    pygit2 = pygit2_module()

    class GuardedLoose(pygit2.OdbBackend):  # type: ignore[misc,name-defined]
        """libgit2's own loose backend, but for the objects ``corrupt`` names."""

        def __init__(self) -> None:
            super().__init__()
            self.source = pygit2.OdbBackendLoose(directory, -1, False)

        def _check(self, oid: Any) -> None:
            problem = corrupt.get(str(oid))
            if problem:
                raise pygit2.GitError(problem)

        def read_cb(self, oid: Any) -> Any:
            self._check(oid)
            return self.source.read(oid)

        def read_prefix_cb(self, oid: Any) -> Any:
            self._check(self.source.exists_prefix(oid))
            return self.source.read_prefix(oid)

        def read_header_cb(self, oid: Any) -> Any:
            self._check(oid)
            kind, data = self.source.read(oid)
            return kind, len(data)

        def exists_cb(self, oid: Any) -> bool:
            return bool(self.source.exists(oid))

        def exists_prefix_cb(self, oid: Any) -> Any:
            return self.source.exists_prefix(oid)

        def refresh_cb(self) -> None:
            self.source.refresh()

        def __iter__(self) -> Iterator[Any]:
            return iter(self.source)

    return GuardedLoose()
