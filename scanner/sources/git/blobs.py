"""Reading history blobs in a worker process: ``git cat-file --batch`` (or libgit2), then what to scan of each.

Every version of a path reaches the same reader in walk order, so a file's first version is scanned whole and
each later version only where it changed (``textdiff.changed_regions``): most of a new version is the previous
one again. A range's base commits give each path its starting version, so a range reports what it adds.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from scanner.models import Chunk, GitOrigin
from scanner.sources.base import BlobRead, BlobRef, structure_of
from scanner.sources.git.catfile import BlobData, CatFile
from scanner.sources.git.loose import guard, object_dirs_of
from scanner.sources.git.ranges import Base
from scanner.sources.git.repo import add_object_dirs, git_environment, git_usable, pygit2_module
from scanner.sources.textcodec import as_text, readable
from scanner.textdiff import changed_regions, new_line_numbers


@dataclass(frozen=True)
class BlobLimits:
    """What a reader leaves out (a docstring of its own: ``dataclasses`` would import ``inspect`` to make one)."""

    max_size: int  # 0 = no cap
    scan_binary: bool
    only_added_lines: bool = False  # ranges and pushes report what they add, not what the base already had


class GitBlobReader:
    """One per worker process, made after the fork: a pygit2 handle or a pipe must not cross it."""

    def __init__(
        self,
        repo_path: str,
        limits: BlobLimits,
        base: Base,
        object_dirs: Sequence[str] = (),
        corrupt: Mapping[str, str] | None = None,
    ) -> None:
        self._opening = (repo_path, tuple(object_dirs), dict(corrupt or {}))
        if object_dirs or base.commits or not git_usable():  # libgit2 reads now: a quarantine gone fails at once
            _ = self.repo
        self.limits = limits
        self.previous: dict[str, bytes] = {}
        self.base_trees = [self.repo[c].tree for c in base.commits]
        self.renamed_from = base.renamed_from
        env = git_environment(object_dirs)
        self.catfile = CatFile(repo_path, limits.max_size, env) if git_usable() else None
        if self.catfile is not None:  # made before the first batch: git starts while the walk finds it
            self.catfile.start()

    @cached_property
    def repo(self) -> Any:
        """libgit2's handle, opened at first use: a plain history's blobs all come from ``cat-file``, and a worker
        that never needs libgit2 does not import pygit2 (the parent of a history scan no longer has: gitcli.py)."""
        repo_path, object_dirs, corrupt = self._opening
        repo = pygit2_module().Repository(repo_path)
        add_object_dirs(repo, object_dirs)  # a push's quarantine: the forked worker opens its own handle
        guard(repo, object_dirs_of(repo_path, object_dirs), corrupt)  # see loose.py
        return repo

    def close(self) -> None:
        if self.catfile is not None:
            self.catfile.close()

    def read(self, refs: Sequence[BlobRef]) -> Iterator[BlobRead]:
        moved = self._moved_from(refs)
        contents = self.catfile.read([ref.oid for ref in refs]) if self.catfile is not None else None
        for ref in refs:
            yield self._read_one(ref, next(contents) if contents is not None else None, moved)

    def _moved_from(self, refs: Sequence[BlobRef]) -> dict[str, bytes]:
        """The last versions of paths that moved here from another worker (``BlobRef.previous``), as text, read
        before the batch (one ``cat-file`` answers in order); keyed by id, not path: this worker may hold an older
        version of the same path, which its other refs of the batch still follow."""
        wanted = [ref.previous for ref in refs if ref.previous]
        if not wanted:
            return {}
        contents = self.catfile.read(wanted) if self.catfile is not None else None
        found: dict[str, bytes] = {}
        for oid in wanted:
            raw = self._data(BlobRef(oid, "", "", -1), next(contents) if contents is not None else None)
            text = readable(raw, self.limits.scan_binary) if isinstance(raw, bytes) else None
            if text is not None:  # a binary or unreadable last version: this one is scanned whole, as before
                found[oid] = text
        return found

    def _read_one(self, ref: BlobRef, content: BlobData | None, moved: Mapping[str, bytes]) -> BlobRead:
        raw = self._data(ref, content)
        if isinstance(raw, BlobRead):
            return raw
        data = readable(raw, self.limits.scan_binary)  # UTF-16/32 decoded: versions are compared as text
        if data is None:
            return BlobRead(ref, len(raw), skipped="binary", message="binary blob")
        path = ref.path
        previous = moved.get(ref.previous) if ref.previous else self.previous.get(path)
        if previous is None and self.base_trees:
            previous = self._base_version(path)
        self.previous[path] = data
        origin = GitOrigin(path, ref.commit)
        added = new_line_numbers(previous, data) if self.limits.only_added_lines and previous is not None else None
        structure = structure_of(path, data)
        if structure:  # parsed whole: a change deep in the file needs the resources around it
            base = previous if structure == "tfstate" else None
            chunk = Chunk(data, origin, only_lines=added, structure=structure, base=base, order=ref.order)
            return BlobRead(ref, len(data), (chunk,))
        if previous is None:
            return BlobRead(ref, len(data), (Chunk(data, origin, order=ref.order),), whole=True)
        regions = changed_regions(previous, data)
        order = ref.order
        chunks = tuple([Chunk(r, origin, first_line=n, only_lines=added, order=order) for r, n in regions])
        return BlobRead(ref, len(data), chunks)

    def _data(self, ref: BlobRef, content: BlobData | None) -> bytes | BlobRead:
        if content is not None:
            if content.data is not None:
                return content.data
            if content.problem == "too-large":
                return BlobRead(ref, content.size, skipped="too-large", message=f"{content.size} bytes is over the cap")
        pygit2 = pygit2_module()  # no git, or git could not read it: libgit2 reads it, or says why it cannot
        try:
            data: bytes = self.repo.odb.read(pygit2.Oid(hex=ref.oid))[1]
        except (KeyError, ValueError, pygit2.GitError) as exc:
            return BlobRead(ref, 0, skipped="missing-object", message=f"cannot read blob {ref.oid}: {exc}")
        cap = self.limits.max_size
        if cap and len(data) > cap:
            return BlobRead(ref, len(data), skipped="too-large", message=f"{len(data)} bytes is over the cap")
        return data

    def _base_version(self, path: str) -> bytes | None:
        for tree in self.base_trees:
            for candidate in (path, self.renamed_from.get(path)):
                if candidate is None:
                    continue
                try:
                    return as_text(bytes(self.repo.odb.read(tree[candidate].id)[1]))
                except (KeyError, ValueError):
                    continue
        return None
