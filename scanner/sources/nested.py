"""Archives inside an image layer: tar, tar.gz/tgz and zip (with .jar, .war, .ear), opened to a bounded depth.

A file in a layer whose name says archive and whose first bytes agree is opened instead of being scanned as one
blob (a jar or a tarball is binary, so it would otherwise be skipped unread). Its members are scanned under the
path ``outer.tar!inner/file`` (``app.war!WEB-INF/lib/x.jar!config.properties`` two levels down).

Caps (integrations.md 8.3): nesting depth (``max_depth``; an archive deeper than that is reported, not opened);
member count per archive; member size (the ``--max-file-size`` cap); the compression ratio of every gzip stream
and zip entry; and the layer's :class:`~scanner.sources.streams.Budget` of uncompressed bytes, shared with the
layer itself, so nesting cannot multiply what a layer may produce. Tar archives are streamed. A zip needs its
central directory at the end, so it is read into memory first, up to ``max_zip_bytes``; a larger one is
reported, not opened. Inside archives, links, devices and whiteout-looking names are plain metadata; names that
would escape the root are reported. A damaged archive is an issue on its path and the layer goes on.
"""

from __future__ import annotations

import io
import posixpath
import tarfile
import zipfile
import zlib
from collections.abc import Callable, Generator
from dataclasses import dataclass

from scanner.sources.base import printable_path
from scanner.sources.streams import (
    GZIP_MAGIC,
    READ_SIZE,
    Budget,
    Chained,
    Decompressed,
    HashingReader,
    LimitExceeded,
    Readable,
)

TAR_SUFFIXES = (".tar",)
TAR_GZ_SUFFIXES = (".tar.gz", ".tgz")
ZIP_SUFFIXES = (".zip", ".jar", ".war", ".ear")
ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06")  # a local file header; an empty archive's end record
SNIFF = 512  # a tar header block: "ustar" sits at offset 257


@dataclass(frozen=True)
class ArchiveLimits:
    max_depth: int = 2  # archives inside a layer, and archives inside those; 0 = do not open archives
    max_members: int = 100_000  # per archive
    max_member_size: int = 10 * 1024 * 1024  # a scanned file inside an archive (0 = no cap)
    max_zip_bytes: int = 64 * 1024 * 1024  # what may be buffered to open one zip
    max_ratio: int = 200  # uncompressed / compressed, beyond a first MiB


def archive_suffix(name: str) -> bool:
    return name.lower().endswith(TAR_SUFFIXES + TAR_GZ_SUFFIXES + ZIP_SUFFIXES)


def archive_kind(name: str, head: bytes) -> str | None:
    """ "tar", "gzip" (a tar inside) or "zip" when the name and the first bytes agree; None otherwise."""
    lower = name.lower()
    if lower.endswith(TAR_GZ_SUFFIXES) and head[:2] == GZIP_MAGIC:
        return "gzip"
    if lower.endswith(TAR_SUFFIXES) and head[257:262] == b"ustar":
        return "tar"
    if lower.endswith(ZIP_SUFFIXES) and head[:4] in ZIP_MAGICS:
        return "zip"
    return None


def member_path(name: str) -> tuple[str, bool]:
    """A member's path relative to its archive's root, and whether the name stayed inside it."""
    stripped = name
    while stripped.startswith("./"):
        stripped = stripped[2:]
    safe = not stripped.startswith("/") and ".." not in stripped.split("/")
    return posixpath.normpath(stripped.lstrip("/")) if stripped.strip("/") else ".", safe


# skip(path shown, reason, message): record an issue.
Skip = Callable[[str, str, str], None]
# The files found in archives, as (path shown, data); a generator's return value is what ``open`` returns.
Files = Generator[tuple[str, bytes], None, None]
Opened = Generator[tuple[str, bytes], None, bytes | None]


class ArchiveWalker:
    """Reads the archives found in one layer, yielding their files one at a time (memory stays flat).
    ``LimitExceeded`` (the layer's budget) propagates to the layer."""

    def __init__(self, limits: ArchiveLimits, budget: Budget, skip: Skip) -> None:
        self.limits = limits
        self.budget = budget
        self.skip = skip

    def open(self, fh: Readable, name: str, path: str, size: int, depth: int) -> Opened:
        """Yield the files of ``fh`` if it is an archive (``head = yield from walker.open(...)``). Returns the bytes
        read to find out when it is not (the caller reads the file itself, those bytes first), else None: the file
        was handled here."""
        head = fh.read(SNIFF)
        kind = archive_kind(name, head)
        if kind is None:
            return head
        if depth > self.limits.max_depth:
            self.skip(path, "limit", f"archive nested more than {self.limits.max_depth} deep: not opened")
            return None
        try:
            if kind == "zip":
                yield from self._zip(Chained(head, fh), path, size, depth)
            else:
                yield from self._tar(Chained(head, fh), kind, path, depth)
        except (tarfile.TarError, zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError) as exc:
            self.skip(path, "unreadable", f"archive is damaged ({exc}); rest of it not scanned")
        return None

    # -- tar ------------------------------------------------------------------------------------------------

    def _tar(self, fh: Readable, kind: str, path: str, depth: int) -> Files:
        reader = HashingReader(fh)
        stream = Decompressed(reader, reader.read(SNIFF), kind, self.budget, self.limits.max_ratio)
        with tarfile.open(fileobj=stream, mode="r|") as tar:  # type: ignore[call-overload]
            for count, info in enumerate(tar, 1):
                if count > self.limits.max_members:
                    self.skip(path, "limit", f"more than {self.limits.max_members} members; rest not scanned")
                    return
                if info.offset_data + info.size - stream.produced > self.budget.left:
                    raise LimitExceeded(
                        f"{printable_path(path)}!{printable_path(info.name)} claims {info.size} bytes, past the"
                        f" layer's {self.budget.limit}-byte cap; rest not scanned"
                    )
                if not info.isfile():
                    continue  # directories, links (metadata, never followed), devices
                inner = self._inner(path, info.name)
                fh_inner = tar.extractfile(info)
                if fh_inner is None:
                    continue
                if archive_suffix(info.name):
                    head = yield from self.open(fh_inner, info.name, inner, info.size, depth + 1)
                    if head is None:
                        continue
                    fh_inner = Chained(head, fh_inner)
                if self._too_large(inner, info.size):
                    continue
                data = fh_inner.read()
                if len(data) != info.size:
                    raise tarfile.ReadError(f"{printable_path(inner)}: unexpected end of data")
                yield inner, data
            if tar.offset > stream.produced:
                raise tarfile.ReadError("unexpected end of data")

    # -- zip ------------------------------------------------------------------------------------------------

    def _zip(self, fh: Readable, path: str, size: int, depth: int) -> Files:
        if size > self.limits.max_zip_bytes:
            self.skip(
                path,
                "too-large",
                f"zip of {size} bytes is over the {self.limits.max_zip_bytes}-byte cap for"
                " opening a zip (it is read into memory); not opened",
            )
            return
        data = fh.read(self.limits.max_zip_bytes + 1)
        if len(data) > self.limits.max_zip_bytes:
            self.skip(path, "too-large", f"zip is over the {self.limits.max_zip_bytes}-byte cap; not opened")
            return
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            entries = archive.infolist()
            if len(entries) > self.limits.max_members:
                self.skip(path, "limit", f"more than {self.limits.max_members} members; rest not scanned")
                entries = entries[: self.limits.max_members]
            for info in entries:
                if info.is_dir():
                    continue
                inner = self._inner(path, info.filename)
                try:
                    yield from self._zip_entry(archive, info, inner, depth)
                except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError) as exc:
                    self.skip(inner, "unreadable", f"zip entry is damaged or unsupported ({exc})")

    def _zip_entry(self, archive: zipfile.ZipFile, info: zipfile.ZipInfo, inner: str, depth: int) -> Files:
        if info.flag_bits & 0x1:
            self.skip(inner, "encrypted", "encrypted zip entry: not scanned")
            return
        nested = archive_suffix(info.filename)
        cap = self.limits.max_zip_bytes if nested else self.limits.max_member_size
        if cap and info.file_size > cap:
            self.skip(inner, "too-large", f"{info.file_size} bytes is over the {cap}-byte cap (--max-file-size)")
            return
        if info.file_size > self.limits.max_ratio * max(info.compress_size, 1) + (1 << 20):
            self.skip(inner, "limit", f"decompresses more than {self.limits.max_ratio}x its stored size (a zip bomb?)")
            return
        chunks = []
        got = 0
        with archive.open(info) as fh:
            # The declared size may lie: read at most one byte more than it, and count every byte against the layer.
            while chunk := fh.read(min(READ_SIZE, info.file_size + 1 - got)):
                got += len(chunk)
                self.budget.take(len(chunk))
                chunks.append(chunk)
                if got > info.file_size:
                    raise zipfile.BadZipFile("entry is longer than its declared size")
        data = b"".join(chunks)
        if nested:
            head = yield from self.open(io.BytesIO(data), info.filename, inner, len(data), depth + 1)
            if head is None:
                return
            if self._too_large(inner, len(data)):
                return
        yield inner, data

    # -- helpers --------------------------------------------------------------------------------------------

    def _inner(self, path: str, name: str) -> str:
        clean, safe = member_path(name)
        shown = f"{path}!{clean}"
        if not safe:
            self.skip(
                f"{path}!{printable_path(name)}", "unsafe-path", "member name escapes the archive root; read in place"
            )
        return shown

    def _too_large(self, path: str, size: int) -> bool:
        cap = self.limits.max_member_size
        if cap and size > cap:
            self.skip(path, "too-large", f"{size} bytes is over the {cap}-byte cap (--max-file-size)")
            return True
        return False
