"""Manifests and indexes → the images of a layout: each image's config blob and its layers, bottom first.

``docker save`` writes ``manifest.json`` (a list of images; Docker 25 points it into ``blobs/``), an OCI layout
``index.json`` (manifests and nested indexes). A registry pull gives one manifest (``manifest_image``).
"""

from __future__ import annotations

import hashlib
import json
import tarfile
import zlib
from dataclasses import dataclass
from typing import Any

from scanner.errors import InputError
from scanner.formats.shapes import as_dict, as_list
from scanner.sources.base import Skips
from scanner.sources.image.blobs import Blobs, blob_name, digest_of_name, matches_digest

IMAGE_CONFIG_TYPES = (
    "application/vnd.oci.image.config.v1+json",
    "application/vnd.docker.container.image.v1+json",
)
INDEX_TYPES = (
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
)
MAX_INDEX_DEPTH = 4


@dataclass
class Layer:
    name: str  # the file naming the layer blob inside the layout
    digest: str  # what locations show: the blob digest, else the config's diff_id
    expected: str  # the digest the stored bytes must hash to ("" when unknown)
    index: int
    created_by: str = ""  # as the config's history says, unredacted (the pipeline redacts)


@dataclass
class Image:
    config_name: str
    config_digest: str
    layers: list[Layer]
    tag: str = ""


def located(image: str, digest: str = "", path: str = "") -> str:
    """Where an issue sits: the image, a layer of it, or a file in a layer (``image!digest!path``)."""
    if not digest:
        return image
    return f"{image}!{digest}!{path}" if path else f"{image}!{digest}"


class Layout:
    """Reads the images a layout holds; ``image`` is the layout as the user named it."""

    def __init__(self, blobs: Blobs, image: str, max_metadata_size: int, skips: Skips) -> None:
        self.blobs = blobs
        self.image = image
        self.max_metadata_size = max_metadata_size
        self.skips = skips

    def images(self) -> list[Image]:
        if self.blobs.exists("manifest.json"):
            images = self._docker_images()
        elif self.blobs.exists("index.json"):
            images = self._oci_images()
        else:
            raise InputError(f"{self.image}: not an image: no manifest.json (docker save) or index.json (OCI layout)")
        if not images:
            raise InputError(f"{self.image}: no image manifest found")
        return images

    def read_json(self, name: str, expected: str = "") -> Any:
        """A metadata blob, parsed; None (and an issue) when it cannot be read or is not JSON."""
        where = located(self.image, name)
        try:
            with self.blobs.open(name) as fh:
                data = fh.read(self.max_metadata_size + 1)
        except (KeyError, OSError, tarfile.TarError, EOFError, zlib.error) as exc:
            self.skips.skip(where, "unreadable", f"cannot read {name}: {exc}")
            return None
        if len(data) > self.max_metadata_size:
            self.skips.skip(where, "too-large", f"{name} is over {self.max_metadata_size} bytes")
            return None
        if expected and matches_digest(expected, hashlib.sha256(data).hexdigest()) is False:
            self.skips.skip(where, "digest-mismatch", f"{name} does not hash to {expected}")
        try:
            return json.loads(data)
        except (ValueError, UnicodeDecodeError) as exc:
            self.skips.skip(where, "invalid-json", f"{name}: invalid JSON: {exc}")
            return None

    def _docker_images(self) -> list[Image]:
        manifest = self.read_json("manifest.json")
        if not isinstance(manifest, list):
            raise InputError(f"{self.image}: manifest.json is not a list of images")
        images = []
        for entry in manifest:
            if not isinstance(entry, dict) or not isinstance(entry.get("Config"), str):
                continue
            config_name = entry["Config"]
            layers = [
                Layer(name=n, digest=digest_of_name(n), expected=digest_of_name(n), index=i)
                for i, n in enumerate(as_list(entry.get("Layers")))
                if isinstance(n, str)
            ]
            tags = as_list(entry.get("RepoTags"))
            images.append(Image(config_name, digest_of_name(config_name), layers, str(tags[0]) if tags else ""))
        return images

    def _oci_images(self) -> list[Image]:
        index = self.read_json("index.json")
        if not isinstance(index, dict):
            raise InputError(f"{self.image}: index.json is not an image index")
        images: list[Image] = []
        self._walk_index(index, images, 0)
        return images

    def _walk_index(self, index: dict[str, Any], images: list[Image], depth: int) -> None:
        for desc in as_list(index.get("manifests")):
            if not isinstance(desc, dict) or not isinstance(desc.get("digest"), str):
                continue
            name = blob_name(desc["digest"])
            if name is None or not self.blobs.exists(name):
                where = located(self.image, str(desc.get("digest")))
                self.skips.skip(where, "missing-blob", "manifest blob not in the layout")
                continue
            doc = self.read_json(name, desc["digest"])
            if not isinstance(doc, dict):
                continue
            media = desc.get("mediaType") or doc.get("mediaType") or ""
            if media in INDEX_TYPES or "manifests" in doc:
                if depth < MAX_INDEX_DEPTH:
                    self._walk_index(doc, images, depth + 1)
                continue
            tag = as_dict(desc.get("annotations")).get("org.opencontainers.image.ref.name", "")
            image = manifest_image(doc, str(tag), self.image, self.skips)
            if image is not None:
                images.append(image)


def manifest_image(doc: dict[str, Any], tag: str, image: str, skips: Skips) -> Image | None:
    """An image manifest's config and layers; None for an unknown media type or an artifact (image-spec)."""
    config = doc.get("config")
    if not isinstance(config, dict) or not isinstance(config.get("digest"), str):
        return None  # an unknown media type: ignored, not fatal (image-spec)
    if config.get("mediaType") not in IMAGE_CONFIG_TYPES:
        return None  # an artifact or attestation, not an image
    config_name = blob_name(config["digest"])
    if config_name is None:
        return None
    layers = []
    for i, layer in enumerate(as_list(doc.get("layers"))):
        digest = layer.get("digest") if isinstance(layer, dict) else None
        layer_name = blob_name(digest) if isinstance(digest, str) else None
        if layer_name is None or not isinstance(digest, str):
            skips.skip(image, "invalid-manifest", f"layer {i} has no usable digest")
            continue
        layers.append(Layer(name=layer_name, digest=digest, expected=digest, index=i))
    return Image(config_name, config["digest"], layers, tag)
