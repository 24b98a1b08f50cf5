"""A finding's content read again, after detection, for live validation's context (the ``client_email`` beside a
GCP key on another line of its key file, the Atlassian site a few lines above a token).

Only two kinds of origin can be read again: a file (from disk, at the path the scan saw) and a git blob (the blob at
``commit:path``, through libgit2 as the git source's blob reader falls back to). Everything else (image layers,
Terraform state, stdin, commit messages) gives None, as does anything that fails: the caller then validates with
the snippet alone. Content is turned into text as every source does (``textcodec``), so its lines are the lines the
scan numbered.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from scanner.errors import InputError
from scanner.models import FileOrigin, GitOrigin, Origin
from scanner.sources.git.repo import open_repository, pygit2_module
from scanner.sources.textcodec import readable

MAX_READ = 8 * 1024 * 1024  # bytes of one file or blob read again; a bigger one gives no context


class Rereader:
    """``content(origin)``: the text of a file or blob origin, or None. ``repo_path`` is the scanned repository
    (git origins are read only when it is given); the repository is opened on first use."""

    def __init__(self, repo_path: str = "", object_dirs: Sequence[str] = (), max_size: int = 0) -> None:
        self.repo_path = repo_path
        self.object_dirs = tuple(object_dirs)
        self.max_size = min(max_size, MAX_READ) if max_size else MAX_READ
        self._repo: Any = None

    def content(self, origin: Origin) -> bytes | None:
        if isinstance(origin, FileOrigin) and origin.path != "-":
            return self._file(origin.path)
        if isinstance(origin, GitOrigin) and origin.where == "blob" and origin.commit and self.repo_path:
            return self._blob(origin.commit, origin.path)
        return None

    def _file(self, path: str) -> bytes | None:
        try:
            if not os.path.isfile(path) or os.stat(path).st_size > self.max_size:  # a FIFO now would block
                return None
            with open(path, "rb") as handle:
                data = handle.read(self.max_size + 1)
        except OSError:  # vanished, unreadable, a directory now: no context, quietly
            return None
        return readable(data, False) if len(data) <= self.max_size else None

    def _blob(self, commit: str, path: str) -> bytes | None:
        pygit2 = pygit2_module()
        try:
            if self._repo is None:
                self._repo = open_repository(self.repo_path, self.object_dirs)
            blob = self._repo[self._repo[commit].tree[path].id]
            if blob.type_str != "blob" or blob.size > self.max_size:
                return None
            data: bytes = blob.data
        except (InputError, KeyError, ValueError, AttributeError, pygit2.GitError):  # gone, not a blob: no context
            return None
        return readable(data, False)
