"""The files of an image layout, a directory or a tarball (read in place, never extracted), and the digests that
name blobs."""

from __future__ import annotations

import io
import os
import posixpath
import re
import tarfile
import zlib
from typing import IO, Protocol

from scanner.errors import InputError
from scanner.sources.base import Skips

_DIGEST = re.compile(r"^(sha256):([0-9a-f]{64})$")
_BLOB_PATH = re.compile(r"(?:^|/)blobs/(sha256)/([0-9a-f]{64})$")


class Blobs(Protocol):
    """Read access to the files of an image layout: a directory, a tar, or a registry (``RegistryBlobs``)."""

    def exists(self, name: str) -> bool: ...

    def open(self, name: str) -> IO[bytes]: ...


class DirBlobs:
    def __init__(self, root: str) -> None:
        self.root = root

    def _path(self, name: str) -> str:
        name = posixpath.normpath(name)
        if name.startswith(("../", "/")) or name == "..":
            raise KeyError(name)  # a manifest naming a file outside the layout
        return os.path.join(self.root, *name.split("/"))

    def exists(self, name: str) -> bool:
        try:
            return os.path.isfile(self._path(name))
        except KeyError:
            return False

    def open(self, name: str) -> IO[bytes]:
        return open(self._path(name), "rb")


class TarBlobs:
    """The members of an image tarball, by normalised name; read in place, never extracted.

    ``sequential``: the tarball is compressed (``docker save | gzip``), so reading a member before the last one
    read starts the decompression over from the beginning; read such a tarball's members in ``offset`` order.
    """

    def __init__(self, path: str, skips: Skips, shown: str) -> None:
        try:
            self.tar = tarfile.open(path, "r:*")  # noqa: SIM115 - closed by close(), after the scan
        except (tarfile.TarError, EOFError, zlib.error) as exc:
            raise InputError(f"{path}: not an image tarball: {exc}") from None
        except OSError as exc:
            raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from None
        self.sequential = not isinstance(self.tar.fileobj, io.BufferedReader)
        self.members: dict[str, tarfile.TarInfo] = {}
        try:
            for info in self.tar:
                if info.isfile():
                    self.members[posixpath.normpath(info.name.lstrip("/"))] = info
        except (tarfile.TarError, EOFError, zlib.error, OSError) as exc:
            # Keep what was indexed: the layers before the damage can still be scanned.
            skips.skip(shown, "truncated", f"image tarball ends early or is damaged: {exc}")

    def exists(self, name: str) -> bool:
        return posixpath.normpath(name) in self.members

    def offset(self, name: str) -> int:
        info = self.members.get(posixpath.normpath(name))
        return info.offset if info is not None else -1

    def open(self, name: str) -> IO[bytes]:
        fh = self.tar.extractfile(self.members[posixpath.normpath(name)])
        assert fh is not None  # only regular files are indexed
        return fh

    def close(self) -> None:
        self.tar.close()


def digest_of_name(name: str) -> str:
    """``sha256:<hex>`` for a layout path ending in ``blobs/sha256/<hex>``, else ""."""
    match = _BLOB_PATH.search(name)
    return f"{match.group(1)}:{match.group(2)}" if match else ""


def blob_name(digest: str) -> str | None:
    """The layout path of a blob digest; None for a digest that is not sha256."""
    match = _DIGEST.match(digest)
    return f"blobs/{match.group(1)}/{match.group(2)}" if match else None


def matches_digest(expected: str, sha256_hex: str) -> bool | None:
    """True or False for a sha256 digest; None when there is nothing to compare against."""
    match = _DIGEST.match(expected)
    if match is None:
        return None
    return match.group(2) == sha256_hex
