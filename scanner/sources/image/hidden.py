"""What later layers hide: a file that a later layer deletes (a whiteout of it or of a parent directory, an opaque
whiteout of a parent) or overwrites is gone from the merged view, but its bytes stay in its own layer's blob, so
its findings say "deleted in layer N, still extractable" or "overwritten in layer N, still extractable" (5.3).

Every layer above a layer is known (read or listed) before that layer's files are read, so each status is final
when the chunk is made: no finding is rewritten afterwards.
"""

from __future__ import annotations

from dataclasses import dataclass, field

VISIBLE = "visible"


@dataclass
class LayerPaths:
    """What one layer adds and removes."""

    files: set[str] = field(default_factory=set)
    deleted: set[str] = field(default_factory=set)  # whiteouts: ".wh.NAME" removes NAME
    opaque: set[str] = field(default_factory=set)  # ".wh..wh..opq" hides a directory's lower contents


class Hidden:
    """What the layers of an image add and remove, merged: for each path, the layers that touch it.

    ``status(path, index)`` looks only at the layers above ``index``: the lowest of them that deletes or replaces
    the path decides.
    """

    def __init__(self) -> None:
        self.deleted: dict[str, list[int]] = {}
        self.opaque: dict[str, list[int]] = {}
        self.files: dict[str, list[int]] = {}
        self._directories: dict[tuple[str, int], int | None] = {}  # what hides a directory's contents, by layer

    def add(self, index: int, paths: LayerPaths) -> None:
        for merged, names in ((self.deleted, paths.deleted), (self.opaque, paths.opaque), (self.files, paths.files)):
            for name in names:
                merged.setdefault(name, []).append(index)
        self._directories.clear()

    def status(self, path: str, index: int) -> str:
        """The status of ``path`` in the layer at ``index``. An archive's members share the archive's fate: ``path``
        is the layer file's own."""
        if not (self.deleted or self.opaque or self.files):
            return VISIBLE
        deleted = _lowest(_above(self.deleted.get(path), index), self._hiding(_parent(path), index))
        overwritten = _above(self.files.get(path), index)
        # A layer that both removes and adds the path (a whiteout, then the file again) deleted it first.
        if deleted is not None and (overwritten is None or deleted <= overwritten):
            return f"deleted in layer {deleted}, still extractable"
        if overwritten is not None:
            return f"overwritten in layer {overwritten}, still extractable"
        return VISIBLE

    def _hiding(self, directory: str, index: int) -> int | None:
        """The lowest layer above ``index`` that hides what ``directory`` ("" = the root) holds: a whiteout of it or
        of a parent, an opaque whiteout of it or of a parent. Worked out once per directory and layer."""
        cache = self._directories
        chain = []  # from ``directory`` up to the first one known
        while (directory, index) not in cache:
            chain.append(directory)
            if not directory:
                break
            directory = _parent(directory)
        found = cache.get((directory, index)) if not chain or chain[-1] != directory else None
        for name in reversed(chain):  # from the top down
            found = _lowest(found, _above(self.opaque.get(name), index))
            if name:
                found = _lowest(found, _above(self.deleted.get(name), index))
            cache[name, index] = found
        return found


def _parent(path: str) -> str:
    return path.rpartition("/")[0]


def _above(indexes: list[int] | None, index: int) -> int | None:
    """The lowest of ``indexes`` above ``index``."""
    if indexes is None:
        return None
    found = None
    for i in indexes:
        if i > index and (found is None or i < found):
            found = i
    return found


def _lowest(a: int | None, b: int | None) -> int | None:
    if a is None:
        return b
    return a if b is None or a <= b else b
