"""SHA-256 and SHA-1 without loading OpenSSL for the few bytes a commit hook hashes.

``import hashlib`` loads OpenSSL (``_hashlib`` and libcrypto): 12 M instructions and about 4 ms of the commit
hook's start, to hash a few hundred kilobytes at most (a cache entry's frame, a config's cache key, a staged
file's blob id, a candidate secret against the published examples). CPython's own implementations (``_sha1``,
``_sha256``; ``_sha2`` from 3.12) load at no cost, but are 6 to 9 times slower than OpenSSL's with the CPU's SHA
extensions (4.9 against 0.54 ms a megabyte for SHA-1 here). So the first ``BUILTIN_BUDGET`` bytes a process hashes
go through them, and everything after through OpenSSL, which by then pays for its own loading: a large scan loses
at most what the budget costs (under 3 ms), a hook gains the import. The digests are the same either way.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

BUILTIN_BUDGET = 512 * 1024  # bytes hashed without OpenSSL before it is loaded: about its loading cost


class Hash(Protocol):
    def update(self, data: bytes, /) -> None: ...
    def digest(self) -> bytes: ...
    def hexdigest(self) -> str: ...


def _builtin(name: str) -> Callable[..., Any] | None:
    """CPython's own constructor of ``name``, or None in an interpreter built without it."""
    for module in {"sha256": ("_sha2", "_sha256"), "sha1": ("_sha1",)}[name]:
        try:
            return getattr(__import__(module), name)  # type: ignore[no-any-return]
        except (ImportError, AttributeError):
            continue
    return None


_BUILTIN = {name: _builtin(name) for name in ("sha256", "sha1")}
_SPENT = [0]


def _new(name: str, data: bytes) -> Hash:
    """Content ids and checksums, not security: ``usedforsecurity=False`` keeps SHA-1 usable under FIPS."""
    _SPENT[0] += len(data)
    builtin = _BUILTIN[name] if _SPENT[0] <= BUILTIN_BUDGET else None
    if builtin is not None:
        return builtin(data)  # type: ignore[no-any-return]
    import hashlib

    return hashlib.new(name, data, usedforsecurity=False)


def sha256(data: bytes = b"") -> Hash:
    return _new("sha256", data)


def sha1(data: bytes) -> Hash:
    return _new("sha1", data)
