"""The image source: ``docker save`` tarballs and OCI image layouts, as a directory or a tar of one, and images in a
registry.

Every layer is scanned, including files a later layer deletes or overwrites: a whiteout only hides a file in the
merged view, its bytes stay in the lower layer's blob (integrations.md 5.3). The image config is scanned too
(``Env``, labels, ``history[].created_by``, where build arguments leak; 5.4).

Nothing is extracted to disk. The outer tarball is read through its member index (random access); each layer is
decompressed incrementally and its tar members are streamed, with caps on member size, layer and image bytes,
member count and compression ratio (integrations.md 8.3). Links are metadata, never followed; names that would
escape the root are reported. A truncated tar, a missing blob or a digest that does not match becomes an issue on
the result and the scan goes on.

options     ImageOptions: the caps and the registry settings
blobs       the files of a layout (a directory or a tarball) and the digests that name them
layout      manifests and indexes → the images, their configs and layers
config      what of the config is scanned (``config_text``) and what it says about each layer
hidden      what later layers delete or overwrite: each file's status
layers      one layer's files as chunks, with their provenance
source      ImageSource: the config first, then the layers from the top down
"""

from scanner.sources.image.config import config_text
from scanner.sources.image.options import ImageOptions
from scanner.sources.image.source import ImageSource

__all__ = ["ImageOptions", "ImageSource", "config_text"]
