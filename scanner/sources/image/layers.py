"""One layer's files as chunks: the blob decompressed as it streams (tar, gzip or zstd, with the caps of
``streams``), its tar members read in order, archives in it opened (``nested``), each file a chunk whose
``ImageOrigin`` carries the layer's digest, index and build step and the file's final status (``hidden``).

Whiteouts and the layer's own file names are recorded on the layer's ``LayerPaths`` as the members pass, for the
layers below. A reader made with ``listing=True`` records only those (no chunks, no issues).
"""

from __future__ import annotations

import importlib
import posixpath
import tarfile
import zlib
from collections.abc import Generator, Iterator

from scanner.models import Chunk, ImageOrigin
from scanner.sources.base import Skips, blob_id, printable_path
from scanner.sources.image.blobs import Blobs, matches_digest
from scanner.sources.image.hidden import Hidden, LayerPaths
from scanner.sources.image.layout import Layer, located
from scanner.sources.image.options import ImageOptions
from scanner.sources.nested import ArchiveLimits, ArchiveWalker, Opened, archive_suffix, member_path
from scanner.sources.streams import Budget, Chained, Decompressed, HashingReader, LimitExceeded, compression_of
from scanner.sources.textcodec import BINARY_MESSAGE, readable

IMAGE_ORDER = 1 << 20  # more layers than any image has (the OCI limit in practice is 127)


class LayerReader:
    def __init__(self, image: str, options: ImageOptions, skips: Skips, listing: bool = False) -> None:
        self.image = image  # as the user gave it: the first part of every location
        self.options = options
        self.skips = skips
        self.listing = listing
        self.total = 0  # uncompressed bytes read so far, against the image's cap
        # Chunks' ``order``: the image's place in the layout (``IMAGE_ORDER`` apart) plus the layer's place in the
        # image, bottom = 1 (the config is 0), though the layers are read from the top.
        self.image_order = 0
        self.limits = ArchiveLimits(
            max_depth=options.max_archive_depth,
            max_members=options.max_members,
            max_member_size=options.max_member_size,
            max_zip_bytes=options.max_zip_bytes,
            max_ratio=options.max_ratio,
        )

    def read(self, blobs: Blobs, layer: Layer, paths: LayerPaths, hidden: Hidden) -> Iterator[Chunk]:
        """The layer's files; ``hidden`` holds every layer above this one (and maybe others)."""
        where = located(self.image, layer.digest)
        if not blobs.exists(layer.name):
            self.skips.skip(where, "missing-blob", f"layer {layer.index} ({layer.name}) is not in the image")
            return
        budget = Budget(min(self.options.max_layer_bytes, self.options.max_image_bytes - self.total))
        try:
            with blobs.open(layer.name) as raw:
                reader = HashingReader(raw)
                head = reader.read(4)
                kind = compression_of(head)
                if kind == "zstd" and not _zstd_available():
                    self.skips.skip(where, "unsupported", "zstd layer: install the zstandard package to scan it")
                    return
                stream = Decompressed(reader, head, kind, budget, self.options.max_ratio)
                try:
                    yield from self._members(stream, layer, paths, hidden)
                finally:
                    self.total += budget.limit - budget.left
                reader.drain()
            expected = layer.expected or (layer.digest if kind == "tar" else "")
            if matches_digest(expected, reader.hash.hexdigest()) is False:
                self.skips.skip(where, "digest-mismatch", f"layer {layer.index} does not hash to {expected}")
        except LimitExceeded as exc:
            self.skips.skip(where, "limit", f"layer {layer.index}: {exc}")
        except FileNotFoundError as exc:  # a registry's 404 for a blob its manifest names
            self.skips.skip(where, "missing-blob", f"layer {layer.index} ({layer.name}): {exc}")
        except (tarfile.TarError, EOFError, zlib.error, OSError) as exc:
            self.skips.skip(
                where, "truncated", f"layer {layer.index} is truncated or damaged ({exc}); rest not scanned"
            )
        except Exception as exc:  # zstandard raises its own error type
            if not type(exc).__module__.startswith("zstandard"):
                raise
            self.skips.skip(where, "truncated", f"layer {layer.index}: zstd stream damaged ({exc})")

    def _members(self, stream: Decompressed, layer: Layer, paths: LayerPaths, hidden: Hidden) -> Iterator[Chunk]:
        def skip(path: str, reason: str, message: str) -> None:
            self.skips.skip(located(self.image, layer.digest, path), reason, message)

        walker = ArchiveWalker(self.limits, stream.budget, skip)
        # Plain "r|": the stream is already decompressed by Decompressed, whose caps tarfile's own would skip.
        with tarfile.open(fileobj=stream, mode="r|") as tar:  # type: ignore[call-overload]
            for count, info in enumerate(tar, 1):
                if count > self.options.max_members:
                    raise LimitExceeded(f"more than {self.options.max_members} members")
                if info.offset_data + info.size - stream.produced > stream.budget.left:
                    # Skipping its data would read up to the claimed size: stop before, whatever the header says.
                    raise LimitExceeded(
                        f"{printable_path(info.name)} claims {info.size} bytes, past the layer's"
                        f" {stream.budget.limit}-byte cap; rest not scanned"
                    )
                yield from self._member(tar, info, layer, paths, hidden, walker)
            if tar.offset > stream.produced:
                raise tarfile.ReadError("unexpected end of data")  # tarfile stops quietly at a short last member

    def _member(
        self,
        tar: tarfile.TarFile,
        info: tarfile.TarInfo,
        layer: Layer,
        paths: LayerPaths,
        hidden: Hidden,
        walker: ArchiveWalker,
    ) -> Iterator[Chunk]:
        name, safe = member_path(info.name)
        shown = located(self.image, layer.digest, printable_path(name))
        if not safe:
            self.skips.skip(shown, "unsafe-path", "member name escapes the image root; read in place, not followed")
        directory, base = posixpath.split(name)
        if base == ".wh..wh..opq":
            paths.opaque.add(directory)
            return
        if base.startswith(".wh."):
            paths.deleted.add(posixpath.join(directory, base[4:]))
            return
        if info.issym() or info.islnk():
            self.skips.skip(shown, "symlink", "link in a layer: metadata, not followed", listed=False)
            return
        if not info.isfile():
            return  # directories, devices, FIFOs
        paths.files.add(name)
        fh = None if self.listing else tar.extractfile(info)
        if fh is None:
            return
        status = hidden.status(name, layer.index)  # an archive's members share the archive's fate
        head = b""
        if self.options.max_archive_depth > 0 and archive_suffix(name):
            sniffed = yield from self._archive(walker.open(fh, name, printable_path(name), info.size, 1), layer, status)
            if sniffed is None:
                return  # opened as an archive (or reported)
            head = sniffed
        cap = self.options.max_member_size
        if cap and info.size > cap:
            self.skips.skip(shown, "too-large", f"{info.size} bytes is over the {cap}-byte cap (--max-file-size)")
            return
        data = Chained(head, fh).read()
        if len(data) != info.size:
            raise tarfile.ReadError(f"{printable_path(name)}: unexpected end of data")
        chunk = self._chunk(layer, status, printable_path(name), data)
        if chunk is not None:
            yield chunk

    def _archive(self, files: Opened, layer: Layer, status: str) -> Generator[Chunk, None, bytes | None]:
        """The chunks of an archive's files; returns what ``ArchiveWalker.open`` returns."""
        while True:
            try:
                path, data = next(files)
            except StopIteration as stop:
                head: bytes | None = stop.value
                return head
            chunk = self._chunk(layer, status, path, data)
            if chunk is not None:
                yield chunk

    def _chunk(self, layer: Layer, status: str, path: str, data: bytes) -> Chunk | None:
        """One file of a layer; ``path`` is ``file`` or, inside archives, ``outer.tar!inner/file``."""
        text = readable(data, self.options.scan_binary)
        if text is None:
            where = located(self.image, layer.digest, path)
            self.skips.skip(where, "binary", BINARY_MESSAGE, listed=False)
            return None
        origin = ImageOrigin(self.image, path, layer.digest, layer.index, layer.created_by, status)
        return Chunk(text, origin, blob_id(data), order=self.image_order + layer.index + 1)


def list_paths(blobs: Blobs, layer: Layer, image: str, options: ImageOptions) -> LayerPaths:
    """What a layer adds and removes, its files unread; for a layer whose files are read further down."""
    paths = LayerPaths()
    for _ in LayerReader(image, options, Skips(), listing=True).read(blobs, layer, paths, Hidden()):
        pass
    return paths


def _zstd_available() -> bool:
    try:
        importlib.import_module("zstandard")
    except ImportError:
        return False
    return True
