"""Stored files written whole or not at all: a temporary file in the same directory, flushed to disk (fsync),
renamed over the target, the directory synced. A reader never sees half a baseline or cache entry, and a crash or
a full disk leaves the old file in place and no temporary file behind.

A file changed by read-modify-write (the baseline: ``update``, ``prune``, ``audit``, ``import``) is read and
written under ``locked``: an exclusive ``flock`` on a sidecar lock file, so two writers at once each see the
other's entries instead of the last rename winning."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import time
from collections.abc import Iterator
from pathlib import Path

LOCK_WAIT = 60.0  # seconds a writer waits for another to finish before it gives up
_POLL = 0.02


class LockTimeout(OSError):
    """Another process held the lock for longer than the wait."""


@contextlib.contextmanager
def locked(path: Path, wait: float | None = None) -> Iterator[None]:
    """Hold an exclusive lock for a read-modify-write of ``path``: ``flock`` on ``.<name>.lock`` beside it.

    The lock file is removed on release (before unlocking), so nothing is left beside the file; a waiter that
    locked a file already removed sees that its inode is no longer the one at the path and tries again. Where
    the lock file cannot be made (a read-only directory) the body runs unlocked: nothing can be written there
    anyway, and the write says so. Waits at most ``wait`` seconds (default ``LOCK_WAIT``; ``LockTimeout``)."""
    lock_path = path.parent / f".{path.name}.lock"
    fd = _lock(lock_path, time.monotonic() + (LOCK_WAIT if wait is None else wait))
    try:
        yield
    finally:
        if fd is not None:
            with contextlib.suppress(OSError):
                os.unlink(lock_path)
            os.close(fd)  # releases the lock


def _lock(lock_path: Path, deadline: float) -> int | None:
    """The locked descriptor of ``lock_path``; None where it cannot be made (read-only: go on unlocked)."""
    while True:
        try:
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError as exc:
            if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM, errno.ENOENT):
                return None
            raise
        if _acquire(fd, lock_path, deadline):
            return fd


def _acquire(fd: int, lock_path: Path, deadline: float) -> bool:
    """Lock ``fd``; True when it is still the file at ``lock_path`` (else it was closed: try again)."""
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            if time.monotonic() >= deadline:
                os.close(fd)
                raise LockTimeout(errno.ETIMEDOUT, f"locked by another process ({lock_path})") from None
            time.sleep(_POLL)
    try:
        current = os.stat(lock_path)
    except FileNotFoundError:
        current = None
    mine = os.fstat(fd)
    if current is not None and (current.st_ino, current.st_dev) == (mine.st_ino, mine.st_dev):
        return True
    os.close(fd)  # the holder before us removed it: lock the new one
    return False


def write_atomic(path: Path, data: bytes, mode: int | None = None) -> None:
    """Replace ``path`` with ``data``; an ``OSError`` leaves ``path`` as it was. ``mode``: the new file's
    permissions (default: the old file's, else 0o644 less the umask, as ``open`` would create it)."""
    import tempfile  # only to write: tempfile brings random and shutil onto every scan's start-up

    directory = path.parent
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode if mode is not None else _mode(path))
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    with contextlib.suppress(OSError):  # some file systems cannot sync a directory; the rename is done anyway
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def _mode(path: Path) -> int:
    try:
        return path.stat().st_mode & 0o7777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask
