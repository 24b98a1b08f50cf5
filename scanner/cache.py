"""A small on-disk cache (``$LEAKSTOP_CACHE_DIR``, else ``$XDG_CACHE_HOME/leakstop``) for work that depends only
on content: parsed rules, validated configs, compiled Hyperscan databases.

Entries are named ``<kind>-<content hash>``; a write is atomic and keeps the newest few entries of its kind.
Every failure is silent: a read-only home directory costs speed, never correctness.
"""

from __future__ import annotations

import os
from pathlib import Path

KEEP_PER_KIND = 6


def cache_dir() -> Path:
    base = os.environ.get("LEAKSTOP_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "leakstop"
    )
    return Path(base)


def read(name: str) -> bytes | None:
    try:
        return (cache_dir() / name).read_bytes()
    except OSError:
        return None


def write(name: str, data: bytes) -> None:
    directory = cache_dir()
    kind = name.split("-", 1)[0]
    try:
        directory.mkdir(parents=True, exist_ok=True)
        tmp = directory / f".{name}.{os.getpid()}.tmp"
        tmp.write_bytes(data)
        os.replace(tmp, directory / name)
        entries = sorted(directory.glob(f"{kind}-*"), key=lambda p: p.stat().st_mtime, reverse=True)
        for stale in entries[KEEP_PER_KIND:]:
            stale.unlink(missing_ok=True)
    except OSError:
        pass
