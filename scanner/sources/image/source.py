"""``ImageSource``: an image's config, then its layers from the top down, as chunks with their final provenance.

Reading from the top layer down means every later layer's files and whiteouts are known when a layer's files
are read, so each chunk's ``ImageOrigin`` already says whether the file is visible, deleted or overwritten
(``hidden``), and nothing rewrites a finding afterwards. Tarballs and OCI directories are read by random access
and a registry serves blobs in any order, so the order costs nothing; findings come out config first, then the
top layer's, down to the bottom layer's. A compressed tarball (``docker save | gzip``) is the exception: going
back in it means decompressing it again from the start, so its upper layers are listed (names and whiteouts, in
one pass in stored order) and then all are read bottom up.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator
from typing import Any

from scanner.errors import InputError
from scanner.models import Chunk, ImageOrigin, Target
from scanner.sources.base import PlainSource, Skips, blob_id
from scanner.sources.image.blobs import Blobs, DirBlobs, TarBlobs
from scanner.sources.image.config import assign_history, config_text
from scanner.sources.image.hidden import Hidden, LayerPaths
from scanner.sources.image.layers import IMAGE_ORDER, LayerReader, list_paths
from scanner.sources.image.layout import Image, Layout, located, manifest_image
from scanner.sources.image.options import ImageOptions


class ImageSource(PlainSource):
    target: Target = "image"

    def __init__(self, image: str, options: ImageOptions) -> None:
        self.image = image  # as the user gave it: the first part of every location
        self.options = options

    def detail(self) -> str:
        return f"image {self.image}"

    def items(self, skips: Skips) -> Iterator[Chunk]:
        path = self.image
        if os.path.isdir(path):
            blobs: Blobs = DirBlobs(path)
            yield from self._images(blobs, self._layout(blobs, skips).images(), skips)
            return
        if not os.path.exists(path):
            yield from self._pull(path, skips)
            return
        tarball = TarBlobs(path, skips, self.image)
        try:
            yield from self._images(tarball, self._layout(tarball, skips).images(), skips)
        finally:
            tarball.close()

    def _layout(self, blobs: Blobs, skips: Skips) -> Layout:
        return Layout(blobs, self.image, self.options.max_metadata_size, skips)

    def _pull(self, reference: str, skips: Skips) -> Iterator[Chunk]:
        """Not a local path: an image reference, read from its registry (scanner.sources.registry)."""
        from scanner.sources import registry

        if registry.looks_like_path(reference):
            raise InputError(f"{reference}: no such file or directory")
        options = registry.RegistryOptions(
            platform=self.options.platform,
            insecure=self.options.insecure_registries,
            max_metadata_size=self.options.max_metadata_size,
        )
        if self.options.http is not None:
            options = dataclasses.replace(options, http=self.options.http)
        try:
            pulled = registry.pull(reference, options)
        except InputError as exc:
            if registry.names_registry(reference):
                raise
            # "myimage" is a Docker Hub name and maybe a mistyped path: say both.
            raise InputError(f"{exc} (and no file or directory {reference} here)") from None
        image = manifest_image(pulled.manifest, pulled.tag, self.image, skips)
        if image is None:
            raise InputError(f"{reference}: manifest {pulled.digest} is not an image (an artifact?)")
        yield from self._images(pulled.blobs, [image], skips)

    def _images(self, blobs: Blobs, images: list[Image], skips: Skips) -> Iterator[Chunk]:
        layout = self._layout(blobs, skips)
        reader = LayerReader(self.image, self.options, skips)
        paths: dict[str, LayerPaths] = {}  # by layer digest, once read
        for number, image in enumerate(images):
            reader.image_order = number * IMAGE_ORDER
            config = self._config(layout, image)
            text = config_text(config)
            if text:
                data = text.encode("utf-8", "surrogateescape")
                origin = ImageOrigin(image=self.image, path="config")
                yield Chunk(data, origin, blob_id(data), order=reader.image_order)
            assign_history(image, config)
            yield from self._layers(blobs, image, reader, paths)

    def _config(self, layout: Layout, image: Image) -> dict[str, Any]:
        if not layout.blobs.exists(image.config_name):
            where = located(self.image, "config")
            layout.skips.skip(where, "missing-blob", f"config {image.config_name} not in the image")
            return {}
        config = layout.read_json(image.config_name, image.config_digest)
        return config if isinstance(config, dict) else {}

    def _layers(self, blobs: Blobs, image: Image, reader: LayerReader, paths: dict[str, LayerPaths]) -> Iterator[Chunk]:
        """The image's layers, each read once (a layer shared with an image read before is not read again; one
        that appears twice in this image is read at its lowest place), every layer above it known by then."""
        lowest: dict[str, int] = {}
        for layer in image.layers:
            lowest.setdefault(layer.digest, layer.index)
        hidden = Hidden()
        if isinstance(blobs, TarBlobs) and blobs.sequential:
            # Going back in a compressed tarball decompresses it again from the start: list the layers above the
            # bottom one in the order they are stored, then read them all bottom up, as they are stored.
            for layer in sorted(image.layers[1:], key=lambda layer: blobs.offset(layer.name)):
                hidden.add(layer.index, paths.get(layer.digest) or list_paths(blobs, layer, self.image, self.options))
            order = image.layers
        else:
            order = image.layers[::-1]
        for layer in order:
            known = paths.get(layer.digest)
            if known is None and layer.index == lowest[layer.digest]:
                known = paths[layer.digest] = LayerPaths()
                yield from reader.read(blobs, layer, known, hidden)
            elif known is None:  # above its lowest place: listed, read further down
                known = list_paths(blobs, layer, self.image, self.options)
            if order is not image.layers:
                hidden.add(layer.index, known)
