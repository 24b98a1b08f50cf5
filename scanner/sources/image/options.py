"""How an image is read: the caps on what a layer may produce, and the registry settings."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from scanner.httpsettings import HttpSettings


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
    http: HttpSettings | None = None  # proxies, CA bundle, timeouts for a pull (None: no proxy, the system's CAs)
