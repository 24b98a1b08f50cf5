"""Capped streaming reads for image layers and the archives inside them (integrations.md 8.3).

A :class:`Decompressed` stream turns stored bytes (tar, gzip or zstd) into tar bytes incrementally, with a cap on
the compression ratio and a :class:`Budget` of uncompressed bytes that a layer and every archive nested in it share,
so nesting cannot multiply what one layer may produce. A cap that is hit raises :class:`LimitExceeded`, whose
message is the issue text.
"""

from __future__ import annotations

import hashlib
import importlib
import zlib
from typing import Any, Protocol

GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
READ_SIZE = 1 << 16


class LimitExceeded(Exception):
    """A cap was hit while reading a layer; the message is the issue text."""


class Readable(Protocol):
    def read(self, n: int = -1, /) -> bytes: ...


class Budget:
    """Uncompressed bytes a layer may still produce, its nested archives included."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.left = limit

    def take(self, n: int) -> None:
        self.left -= n
        if self.left < 0:
            raise LimitExceeded(f"layer grew past its {self.limit}-byte cap; rest not scanned")


class Chained:
    """Bytes already read (a sniffed head) followed by the rest of a stream."""

    def __init__(self, head: bytes, rest: Readable) -> None:
        self.head = head
        self.rest = rest

    def read(self, n: int = -1) -> bytes:
        """Like a file's read: all that is left for n < 0, else up to n bytes, short only at the end."""
        head, self.head = self.head, b""
        if n is None or n < 0:
            return head + self.rest.read()
        if len(head) >= n:
            self.head = head[n:]
            return head[:n]
        return head + self.rest.read(n - len(head))


class HashingReader:
    """Reads a blob as stored, hashing and counting the bytes that pass."""

    def __init__(self, raw: Readable) -> None:
        self.raw = raw
        self.hash = hashlib.sha256()
        self.count = 0

    def read(self, n: int = -1) -> bytes:
        data = self.raw.read(n if n is not None and n >= 0 else READ_SIZE)
        self.hash.update(data)
        self.count += len(data)
        return data

    def drain(self) -> None:
        while self.read(READ_SIZE):
            pass


def compression_of(head: bytes) -> str:
    """Sniffed, never trusted from a media type or a name: "gzip", "zstd", else "tar"."""
    return "gzip" if head[:2] == GZIP_MAGIC else "zstd" if head[:4] == ZSTD_MAGIC else "tar"


class Decompressed:
    """A file-like view of a decompressed stream with caps on total bytes and on the compression ratio."""

    def __init__(self, source: HashingReader, head: bytes, kind: str, budget: Budget, max_ratio: int) -> None:
        self.source = source
        self.kind = kind
        self.budget = budget  # shared with every stream of the same layer
        self.max_ratio = max_ratio
        self.produced = 0
        self.pending = head
        self.buffer = b""
        self.eof = False
        self._zlib = zlib.decompressobj(16 + zlib.MAX_WBITS) if kind == "gzip" else None
        self._zstd: Any = None
        if kind == "zstd":
            zstandard = importlib.import_module("zstandard")  # the caller checked it imports
            # A stream reader, not a decompressobj: its reads are bounded, so a zstd bomb cannot expand a whole
            # input chunk (64 KiB can hold gigabytes) in memory before the caps see it.
            self._zstd = zstandard.ZstdDecompressor().stream_reader(
                _Input(self), read_size=READ_SIZE, read_across_frames=True, closefd=False
            )

    def _input(self) -> bytes:
        if self.pending:
            data, self.pending = self.pending, b""
            return data
        return self.source.read(READ_SIZE)

    def _more(self, want: int) -> bytes:
        if self.kind == "tar":
            return self._input()
        if self._zstd is not None:
            out: bytes = self._zstd.read(want)
            return out
        assert self._zlib is not None
        while True:
            if self._zlib.unconsumed_tail:
                return self._zlib.decompress(self._zlib.unconsumed_tail, want)
            if self._zlib.eof:
                # Concatenated gzip members are legal: start over on what follows; padding after the end is not.
                rest = self._zlib.unused_data + self.pending or self.source.read(READ_SIZE)
                if rest[:2] != GZIP_MAGIC:
                    return b""
                self._zlib = zlib.decompressobj(16 + zlib.MAX_WBITS)
                self.pending = rest
            data = self._input()
            if not data:
                return b""
            out = self._zlib.decompress(data, want)
            if out:
                return out

    def read(self, n: int = -1) -> bytes:
        want = n if n is not None and n >= 0 else READ_SIZE
        while len(self.buffer) < want and not self.eof:
            data = self._more(max(want, READ_SIZE))
            if not data:
                self.eof = True
                break
            self.produced += len(data)
            self.budget.take(len(data))
            if self.kind != "tar" and self.produced > self.max_ratio * max(self.source.count, 1) + (1 << 20):
                raise LimitExceeded(
                    f"decompresses more than {self.max_ratio}x its stored size (a decompression bomb?); "
                    "rest not scanned"
                )
            self.buffer += data
        out, self.buffer = self.buffer[:want], self.buffer[want:]
        return out


class _Input:
    """The compressed bytes of a :class:`Decompressed`, as the file the zstd stream reader pulls from."""

    def __init__(self, owner: Decompressed) -> None:
        self.owner = owner

    def read(self, n: int = -1) -> bytes:
        return self.owner._input()
