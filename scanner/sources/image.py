"""The image source: ``docker save`` tarballs and OCI image layouts, as a directory or a tar of one.

Every layer is scanned, including files a later layer deletes or overwrites: a whiteout only hides a file in the
merged view, its bytes stay in the lower layer's blob (integrations.md 5.3). The image config is scanned too
(``Env``, labels, ``history[].created_by``, where build arguments leak; 5.4).

Nothing is extracted to disk. The outer tarball is read through its member index (random access); each layer is
decompressed incrementally and its tar members are streamed, with caps on member size, layer and image bytes,
member count and compression ratio (integrations.md 8.3). Links are metadata, never followed; names that would
escape the root are reported. A truncated tar, a missing blob or a digest that does not match becomes an issue on
the result and the scan goes on.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib
import json
import os
import posixpath
import re
import tarfile
import zlib
from dataclasses import dataclass, field
from typing import IO, Any, Protocol

from scanner.errors import InputError
from scanner.models import Chunk, Finding, ImageOrigin, ScanResult, Secret
from scanner.scan import Scan
from scanner.sources.base import Skips, blob_id, is_binary, printable_path
from scanner.sources.nested import ArchiveLimits, ArchiveWalker, archive_suffix, member_path
from scanner.sources.streams import Budget, Chained, Decompressed, HashingReader, LimitExceeded, compression_of

_DIGEST = re.compile(r"^(sha256):([0-9a-f]{64})$")
_BLOB_PATH = re.compile(r"(?:^|/)blobs/(sha256)/([0-9a-f]{64})$")
IMAGE_CONFIG_TYPES = (
    "application/vnd.oci.image.config.v1+json",
    "application/vnd.docker.container.image.v1+json",
)
INDEX_TYPES = (
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
)
MAX_INDEX_DEPTH = 4


@dataclass(frozen=True)
class ImageOptions:
    max_member_size: int = 10 * 1024 * 1024  # a file inside a layer (the --max-file-size cap)
    max_layer_bytes: int = 8 * 1024**3  # uncompressed bytes of one layer
    max_image_bytes: int = 32 * 1024**3  # uncompressed bytes of all layers
    max_members: int = 1_000_000  # tar members in one layer
    max_ratio: int = 200  # uncompressed / compressed bytes, beyond a first MiB
    max_metadata_size: int = 16 * 1024 * 1024  # manifest, index and config JSON
    scan_binary: bool = False
    max_archive_depth: int = 2  # archives in a layer (tar, tar.gz, zip, jar, ...) and archives in those; 0 = off
    max_zip_bytes: int = 64 * 1024 * 1024  # a zip in a layer is read into memory to be opened
    platform: str = "linux/amd64"  # os/arch[/variant]: which image of a registry index to pull
    insecure_registries: tuple[str, ...] = ()  # host[:port] that may be pulled over plain HTTP


class _Blobs(Protocol):
    """Read access to the files of an image layout, a directory or a tar."""

    def exists(self, name: str) -> bool: ...

    def open(self, name: str) -> IO[bytes]: ...


class _DirBlobs:
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


class _TarBlobs:
    """The members of an image tarball, by normalised name; read in place, never extracted."""

    def __init__(self, path: str, skips: Skips, shown: str) -> None:
        try:
            self.tar = tarfile.open(path, "r:*")  # noqa: SIM115 - closed by close(), after the scan
        except (tarfile.TarError, EOFError, zlib.error) as exc:
            raise InputError(f"{path}: not an image tarball: {exc}") from None
        except OSError as exc:
            raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from None
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

    def open(self, name: str) -> IO[bytes]:
        fh = self.tar.extractfile(self.members[posixpath.normpath(name)])
        assert fh is not None  # only regular files are indexed
        return fh

    def close(self) -> None:
        self.tar.close()


@dataclass
class _Layer:
    name: str  # the file naming the layer blob inside the layout
    digest: str  # what locations show: the blob digest, else the config's diff_id
    expected: str  # the digest the stored bytes must hash to ("" when unknown)
    index: int
    created_by: str = ""


@dataclass
class _LayerPaths:
    """What one layer adds and removes, for the "deleted in layer N" status."""

    files: set[str] = field(default_factory=set)
    deleted: set[str] = field(default_factory=set)
    opaque: set[str] = field(default_factory=set)


@dataclass
class _Image:
    config_name: str
    config_digest: str
    layers: list[_Layer]
    tag: str = ""


class ImageScanner:
    def __init__(self, scan: Scan, image: str, options: ImageOptions, skips: Skips) -> None:
        self.scan = scan
        self.image = image  # as the user gave it: the first part of every location
        self.options = options
        self.skips = skips
        self.total = 0
        self.paths: dict[str, _LayerPaths] = {}  # by layer digest
        self.config_secrets: set[Secret] = set()

    # -- layout -------------------------------------------------------------------------------------------

    def run(self) -> None:
        path = self.image
        if os.path.isdir(path):
            self._scan_layout(_DirBlobs(path))
            return
        if not os.path.exists(path):
            self._pull(path)
            return
        blobs = _TarBlobs(path, self.skips, self._shown(""))
        try:
            self._scan_layout(blobs)
        finally:
            blobs.close()

    def _pull(self, reference: str) -> None:
        """Not a local path: an image reference, read from its registry (scanner.sources.registry)."""
        from scanner.sources import registry

        if registry.looks_like_path(reference):
            raise InputError(f"{reference}: no such file or directory")
        options = registry.RegistryOptions(
            platform=self.options.platform,
            insecure=self.options.insecure_registries,
            max_metadata_size=self.options.max_metadata_size,
        )
        try:
            pulled = registry.pull(reference, options)
        except InputError as exc:
            if registry.names_registry(reference):
                raise
            # "myimage" is a Docker Hub name and maybe a mistyped path: say both.
            raise InputError(f"{exc} (and no file or directory {reference} here)") from None
        image = self._manifest_image(pulled.manifest, pulled.tag)
        if image is None:
            raise InputError(f"{reference}: manifest {pulled.digest} is not an image (an artifact?)")
        self._scan_images(pulled.blobs, [image])

    def _scan_layout(self, blobs: _Blobs) -> None:
        if blobs.exists("manifest.json"):
            images = self._docker_images(blobs)
        elif blobs.exists("index.json"):
            images = self._oci_images(blobs)
        else:
            raise InputError(f"{self.image}: not an image: no manifest.json (docker save) or index.json (OCI layout)")
        if not images:
            raise InputError(f"{self.image}: no image manifest found")
        self._scan_images(blobs, images)

    def _scan_images(self, blobs: _Blobs, images: list[_Image]) -> None:
        first_seen: dict[str, int] = {}
        for image in images:
            config = self._config(blobs, image)
            self._assign_history(image, config)
            for layer in image.layers:
                if layer.digest in first_seen:
                    continue  # shared by several images in the layout: scanned once
                first_seen[layer.digest] = layer.index
                self._scan_layer(blobs, layer)
            self._mark_deleted(image)

    def _json(self, blobs: _Blobs, name: str, expected: str = "") -> Any:
        try:
            with blobs.open(name) as fh:
                data = fh.read(self.options.max_metadata_size + 1)
        except (KeyError, OSError, tarfile.TarError, EOFError, zlib.error) as exc:
            self.skips.skip(self._shown(name), "unreadable", f"cannot read {name}: {exc}")
            return None
        if len(data) > self.options.max_metadata_size:
            self.skips.skip(self._shown(name), "too-large", f"{name} is over {self.options.max_metadata_size} bytes")
            return None
        if expected and _matches_digest(expected, hashlib.sha256(data).hexdigest()) is False:
            self.skips.skip(self._shown(name), "digest-mismatch", f"{name} does not hash to {expected}")
        try:
            return json.loads(data)
        except (ValueError, UnicodeDecodeError) as exc:
            self.skips.skip(self._shown(name), "invalid-json", f"{name}: invalid JSON: {exc}")
            return None

    def _docker_images(self, blobs: _Blobs) -> list[_Image]:
        manifest = self._json(blobs, "manifest.json")
        if not isinstance(manifest, list):
            raise InputError(f"{self.image}: manifest.json is not a list of images")
        images = []
        for entry in manifest:
            if not isinstance(entry, dict) or not isinstance(entry.get("Config"), str):
                continue
            config_name = entry["Config"]
            config_digest = _digest_of_name(config_name)
            layers = [
                _Layer(name=n, digest=_digest_of_name(n), expected=_digest_of_name(n), index=i)
                for i, n in enumerate(entry.get("Layers") or [])
                if isinstance(n, str)
            ]
            tags = entry.get("RepoTags") or []
            images.append(_Image(config_name, config_digest, layers, tags[0] if tags else ""))
        return images

    def _oci_images(self, blobs: _Blobs) -> list[_Image]:
        index = self._json(blobs, "index.json")
        if not isinstance(index, dict):
            raise InputError(f"{self.image}: index.json is not an image index")
        images: list[_Image] = []
        self._walk_index(blobs, index, images, 0)
        return images

    def _walk_index(self, blobs: _Blobs, index: dict[str, Any], images: list[_Image], depth: int) -> None:
        for desc in index.get("manifests") or []:
            if not isinstance(desc, dict) or not isinstance(desc.get("digest"), str):
                continue
            name = _blob_name(desc["digest"])
            if name is None or not blobs.exists(name):
                self.skips.skip(self._shown(str(desc.get("digest"))), "missing-blob", "manifest blob not in the layout")
                continue
            doc = self._json(blobs, name, desc["digest"])
            if not isinstance(doc, dict):
                continue
            media = desc.get("mediaType") or doc.get("mediaType") or ""
            if media in INDEX_TYPES or "manifests" in doc:
                if depth < MAX_INDEX_DEPTH:
                    self._walk_index(blobs, doc, images, depth + 1)
                continue
            tag = (desc.get("annotations") or {}).get("org.opencontainers.image.ref.name", "")
            image = self._manifest_image(doc, str(tag))
            if image is not None:
                images.append(image)

    def _manifest_image(self, doc: dict[str, Any], tag: str) -> _Image | None:
        """An image manifest's config and layers; None for an unknown media type or an artifact (image-spec)."""
        config = doc.get("config")
        if not isinstance(config, dict) or not isinstance(config.get("digest"), str):
            return None  # an unknown media type: ignored, not fatal (image-spec)
        if config.get("mediaType") not in IMAGE_CONFIG_TYPES:
            return None  # an artifact or attestation, not an image
        config_name = _blob_name(config["digest"])
        if config_name is None:
            return None
        layers = []
        for i, layer in enumerate(doc.get("layers") or []):
            digest = layer.get("digest") if isinstance(layer, dict) else None
            layer_name = _blob_name(digest) if isinstance(digest, str) else None
            if layer_name is None or not isinstance(digest, str):
                self.skips.skip(self._shown(""), "invalid-manifest", f"layer {i} has no usable digest")
                continue
            layers.append(_Layer(name=layer_name, digest=digest, expected=digest, index=i))
        return _Image(config_name, config["digest"], layers, tag)

    # -- config -------------------------------------------------------------------------------------------

    def _config(self, blobs: _Blobs, image: _Image) -> dict[str, Any]:
        if not blobs.exists(image.config_name):
            self.skips.skip(self._shown("config"), "missing-blob", f"config {image.config_name} not in the image")
            return {}
        config = self._json(blobs, image.config_name, image.config_digest)
        if not isinstance(config, dict):
            return {}
        text = config_text(config)
        if text:
            data = text.encode("utf-8", "surrogateescape")
            before = len(self.scan.result.findings)
            self.scan.add(Chunk(data, ImageOrigin(image=self.image, path="config"), blob_id(data)))
            self.config_secrets.update(f.match.secret for f in self.scan.result.findings[before:])
        return config

    def _assign_history(self, image: _Image, config: dict[str, Any]) -> None:
        """Give each layer its ``created_by`` and, where the layout names no blob digest, the config's diff_id."""
        history = [h for h in config.get("history") or [] if isinstance(h, dict) and not h.get("empty_layer")]
        rootfs = config.get("rootfs") if isinstance(config.get("rootfs"), dict) else {}
        diff_ids = [d for d in (rootfs or {}).get("diff_ids") or [] if isinstance(d, str)]
        for layer in image.layers:
            if layer.index < len(history):
                layer.created_by = self._redact(str(history[layer.index].get("created_by") or ""))
            if not layer.digest and layer.index < len(diff_ids):
                layer.digest = diff_ids[layer.index]
            if not layer.digest:
                layer.digest = layer.name  # a legacy layout without a config: the layer's path names it

    # -- layers -------------------------------------------------------------------------------------------

    def _scan_layer(self, blobs: _Blobs, layer: _Layer) -> None:
        where = self._shown(layer.digest)
        if not blobs.exists(layer.name):
            self.skips.skip(where, "missing-blob", f"layer {layer.index} ({layer.name}) is not in the image")
            return
        budget = Budget(min(self.options.max_layer_bytes, self.options.max_image_bytes - self.total))
        paths = self.paths.setdefault(layer.digest, _LayerPaths())
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
                    self._members(stream, layer, paths)
                finally:
                    self.total += budget.limit - budget.left
                reader.drain()
            expected = layer.expected or (layer.digest if kind == "tar" else "")
            if _matches_digest(expected, reader.hash.hexdigest()) is False:
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
            if type(exc).__module__.startswith("zstandard"):
                self.skips.skip(where, "truncated", f"layer {layer.index}: zstd stream damaged ({exc})")
            else:
                raise

    def _members(self, stream: Decompressed, layer: _Layer, paths: _LayerPaths) -> None:
        limits = ArchiveLimits(
            max_depth=self.options.max_archive_depth,
            max_members=self.options.max_members,
            max_member_size=self.options.max_member_size,
            max_zip_bytes=self.options.max_zip_bytes,
            max_ratio=self.options.max_ratio,
        )
        walker = ArchiveWalker(
            limits,
            stream.budget,
            emit=lambda path, data: self._emit(layer, path, data),
            skip=lambda path, reason, message: self.skips.skip(self._shown(layer.digest, path), reason, message),
        )
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
                self._member(tar, info, layer, paths, walker)
            if tar.offset > stream.produced:
                raise tarfile.ReadError("unexpected end of data")  # tarfile stops quietly at a short last member

    def _member(
        self, tar: tarfile.TarFile, info: tarfile.TarInfo, layer: _Layer, paths: _LayerPaths, walker: ArchiveWalker
    ) -> None:
        name, safe = member_path(info.name)
        shown = self._shown(layer.digest, printable_path(name))
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
        fh = tar.extractfile(info)
        if fh is None:
            return
        head = b""
        if self.options.max_archive_depth > 0 and archive_suffix(name):
            sniffed = walker.open(fh, name, printable_path(name), info.size, 1)
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
        self._emit(layer, printable_path(name), data)

    def _emit(self, layer: _Layer, path: str, data: bytes) -> None:
        """Scan one file of a layer; ``path`` is ``file`` or, inside archives, ``outer.tar!inner/file``."""
        if not self.options.scan_binary and is_binary(data):
            self.skips.skip(
                self._shown(layer.digest, path),
                "binary",
                "binary file (NUL byte in the first 8000 bytes)",
                listed=False,
            )
            return
        origin = ImageOrigin(
            image=self.image,
            path=path,
            layer_digest=layer.digest,
            layer_index=layer.index,
            created_by=layer.created_by,
        )
        self.scan.add(Chunk(data, origin, blob_id(data)))

    def _mark_deleted(self, image: _Image) -> None:
        """Give findings in files that a later layer deletes or replaces their status (whiteouts, 5.3)."""
        later: list[tuple[int, _LayerPaths]] = [
            (layer.index, self.paths[layer.digest]) for layer in image.layers if layer.digest in self.paths
        ]
        findings = self.scan.result.findings
        for i, finding in enumerate(findings):
            origin = finding.origin
            if not isinstance(origin, ImageOrigin) or origin.image != self.image or origin.path == "config":
                continue
            if origin.status != "visible":
                continue
            # A file inside an archive ("a.tar!x") shares the archive's fate.
            status = _status(origin.path.split("!", 1)[0], origin.layer_index, later)
            if status != "visible":
                findings[i] = _with_origin(finding, dataclasses.replace(origin, status=status))

    def _redact(self, created_by: str) -> str:
        """``created_by`` goes into every finding of its layer: the build arguments found in it must not."""
        for secret in self.config_secrets:
            created_by = created_by.replace(secret.reveal(), secret.redacted())
        return created_by if len(created_by) <= 300 else created_by[:299] + "…"

    def _shown(self, digest: str, path: str = "") -> str:
        if not digest:
            return self.image
        return f"{self.image}!{digest}!{path}" if path else f"{self.image}!{digest}"


def _status(path: str, index: int, layers: list[tuple[int, _LayerPaths]]) -> str:
    parents = []
    parent = posixpath.dirname(path)
    while parent:
        parents.append(parent)
        parent = posixpath.dirname(parent)
    parents.append("")  # an opaque whiteout at the layer root
    for later_index, paths in layers:
        if later_index <= index:
            continue
        deleted = path in paths.deleted or any(p in paths.deleted for p in parents if p)
        if deleted or any(p in paths.opaque for p in parents):
            return f"deleted in layer {later_index}, still extractable"
        if path in paths.files:
            return f"overwritten in layer {later_index}, still extractable"
    return "visible"


def _with_origin(finding: Finding, origin: ImageOrigin) -> Finding:
    return dataclasses.replace(finding, origin=origin)


def _digest_of_name(name: str) -> str:
    match = _BLOB_PATH.search(name)
    return f"{match.group(1)}:{match.group(2)}" if match else ""


def _blob_name(digest: str) -> str | None:
    match = _DIGEST.match(digest)
    return f"blobs/{match.group(1)}/{match.group(2)}" if match else None


def _matches_digest(expected: str, sha256_hex: str) -> bool | None:
    """True or False for a sha256 digest; None when there is nothing to compare against."""
    match = _DIGEST.match(expected)
    if match is None:
        return None
    return match.group(2) == sha256_hex


def _zstd_available() -> bool:
    try:
        importlib.import_module("zstandard")
    except ImportError:
        return False
    return True


def config_text(config: dict[str, Any]) -> str:
    """The parts of an image config that carry credentials, one per line (integrations.md 5.4)."""
    lines: list[str] = []
    inner = config.get("config") if isinstance(config.get("config"), dict) else {}
    inner = inner or {}
    for env in inner.get("Env") or []:
        lines.append(f"ENV {env}")
    for key, value in (inner.get("Labels") or {}).items():
        lines.append(f"LABEL {key}={value}")
    for key in ("Entrypoint", "Cmd", "OnBuild"):
        value = inner.get(key)
        if isinstance(value, list) and value:
            lines.append(f"{key.upper()} {' '.join(str(v) for v in value)}")
    health = inner.get("Healthcheck")
    if isinstance(health, dict) and isinstance(health.get("Test"), list):
        lines.append(f"HEALTHCHECK {' '.join(str(v) for v in health['Test'])}")
    for entry in config.get("history") or []:
        if isinstance(entry, dict) and entry.get("created_by"):
            lines.append(f"HISTORY {entry['created_by']}")
    return "\n".join(lines) + "\n" if lines else ""


def scan_image(scan: Scan, image: str, options: ImageOptions) -> ScanResult:
    result = scan.result
    skips = Skips(result.issues, result.stats)
    ImageScanner(scan, image, options, skips).run()
    return result
