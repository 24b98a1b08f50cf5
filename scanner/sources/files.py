"""The files source: a directory walk, explicit paths, or stdin.

Every file not scanned is counted with its reason (binary, over the size cap, unreadable, a symlink, ignored):
nothing is dropped silently. The content id of a file is its git blob id, so identical content is scanned once
and matches what the git source computes.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from scanner.errors import InputError
from scanner.models import Chunk, FileOrigin
from scanner.pathmatch import IgnoreRules
from scanner.sources.base import (
    DEFAULT_MAX_FILE_SIZE,
    PlainSource,
    Skips,
    blob_id,
    printable_path,
    structure_of,
)
from scanner.sources.gitignores import repository_ignores
from scanner.sources.textcodec import BINARY_MESSAGE, as_text, readable


@dataclass(frozen=True)
class FileSourceOptions:
    """Which files a scan of paths reads: size cap, binary files, excludes and ignore files."""

    max_file_size: int = DEFAULT_MAX_FILE_SIZE
    scan_binary: bool = False
    excludes: tuple[str, ...] = ()
    respect_gitignore: bool = True  # .gitignore files, and in a repository info/exclude and core.excludesFile
    default_excludes_file: str = ""  # core.excludesFile when it is not set (``gitignores.default_excludes_file``)


def _display(path: str) -> str:
    path = printable_path(path.replace(os.sep, "/"))
    return path[2:] if path.startswith("./") else path


def _join(prefix: str, rel: str) -> str:
    return f"{prefix}/{rel}" if prefix and rel else prefix or rel


@dataclass(frozen=True)
class _Ignoring:
    """What the walk leaves out. Git's ignore rules apply to untracked files only (a file in the index is scanned
    whatever ``.gitignore`` says, as git itself shows its changes); ``--exclude`` applies to every file."""

    rules: IgnoreRules  # git's ignore files, then --exclude
    excludes: IgnoreRules  # --exclude alone
    tracked: frozenset[str] = frozenset()
    tracked_dirs: frozenset[str] = frozenset()

    def verdict(self, path: str, is_dir: bool, under_ignored: bool) -> tuple[bool, bool]:
        """(skip ``path``, is it an ignored directory entered for its tracked files). ``under_ignored``: a
        directory above it is ignored, so an untracked path here is too."""
        if path in (self.tracked_dirs if is_dir else self.tracked):
            if self.excludes.ignored(path, is_dir, check_parents=False):
                return True, False
            return False, under_ignored or (is_dir and self.rules.ignored(path, is_dir, check_parents=False))
        return under_ignored or self.rules.ignored(path, is_dir, check_parents=False), False


class FileSource(PlainSource):
    def __init__(self, paths: Sequence[str], options: FileSourceOptions) -> None:
        self.paths = list(paths) or ["."]
        self.options = options

    def items(self, skips: Skips) -> Iterator[Chunk]:
        for path in self.paths:
            if path == "-":
                yield from self._stdin()
                continue
            try:
                st = os.stat(path)
            except FileNotFoundError:
                raise InputError(f"{path}: no such file or directory") from None
            except OSError as exc:
                raise InputError(f"{path}: cannot access: {exc.strerror}") from None
            if stat.S_ISDIR(st.st_mode):
                yield from self._walk(path, skips)
            elif not stat.S_ISREG(st.st_mode):
                skips.skip(_display(path), "special-file", "not a regular file (a FIFO, socket or device)")
            else:
                chunk = self._read(path, _display(path), st.st_size, skips)
                if chunk is not None:
                    yield chunk

    def _stdin(self) -> Iterator[Chunk]:
        import sys

        data = sys.stdin.buffer.read()
        yield Chunk(as_text(data), FileOrigin("-"), blob_id(data))

    def _ignore_rules(self, root: str) -> tuple[_Ignoring, str]:
        """The patterns known before the walk starts, and the walk root's path from its repository's top (the
        paths patterns are matched against): git's other ignore files (``gitignores``), then ``--exclude``."""
        rules, excludes = IgnoreRules(), IgnoreRules()
        repo = repository_ignores(root, self.options.default_excludes_file) if self.options.respect_gitignore else None
        prefix = repo.prefix if repo is not None else ""
        for file in repo.files if repo is not None else ():
            rules.add_lines(file.lines, base=file.base, source=file.source)
        for each in (rules, excludes):
            each.add_lines(list(self.options.excludes), base=prefix, source="--exclude")
        if repo is None:
            return _Ignoring(rules, excludes), prefix
        return _Ignoring(rules, excludes, repo.tracked, repo.tracked_dirs), prefix

    def _walk(self, root: str, skips: Skips) -> Iterator[Chunk]:
        ignoring, prefix = self._ignore_rules(root)
        rules = ignoring.rules
        gitignore = self.options.respect_gitignore
        # Explicit stack instead of os.walk: one scandir per directory, file sizes from the same call.
        # A directory, and whether it is ignored (entered for the tracked files in it); the root too, as git
        # shows only the tracked files of an ignored directory it is asked about.
        stack = [("", bool(prefix) and gitignore and rules.ignored(prefix, True))]
        while stack:
            rel_dir, dir_ignored = stack.pop()
            abs_dir = os.path.join(root, rel_dir) if rel_dir else root
            if gitignore:
                ignore_file = os.path.join(abs_dir, ".gitignore")
                try:
                    with open(ignore_file, encoding="utf-8", errors="replace") as fh:
                        rules.add_lines(fh.read().splitlines(), base=_join(prefix, rel_dir), source=ignore_file)
                except OSError:
                    pass
            try:
                entries = sorted(os.scandir(abs_dir), key=lambda e: e.name)
            except OSError as exc:
                skips.skip(_display(abs_dir), "unreadable", f"cannot list directory: {exc.strerror}")
                continue
            subdirs = []
            for entry in entries:
                rel = f"{rel_dir}/{entry.name}" if rel_dir else entry.name
                shown = _display(os.path.join(root, rel))
                try:
                    if entry.is_symlink():
                        skips.skip(shown, "symlink", "symbolic link not followed")
                        continue
                    is_dir = entry.is_dir(follow_symlinks=False)
                except OSError as exc:
                    skips.skip(shown, "unreadable", f"cannot stat: {exc.strerror}")
                    continue
                if is_dir and entry.name == ".git":
                    continue  # repository internals: the git source scans history
                skip, ignored_dir = ignoring.verdict(_join(prefix, rel), is_dir, dir_ignored)
                if skip:
                    skips.skip(shown, "ignored", "matched an ignore pattern", listed=False)
                    continue
                if is_dir:
                    subdirs.append((rel, ignored_dir))
                    continue
                try:
                    st = entry.stat(follow_symlinks=False)
                except OSError as exc:
                    skips.skip(shown, "unreadable", f"cannot stat: {exc.strerror}")
                    continue
                if not stat.S_ISREG(st.st_mode):
                    skips.skip(shown, "special-file", "not a regular file")
                    continue
                chunk = self._read(entry.path, shown, st.st_size, skips)
                if chunk is not None:
                    yield chunk
            stack.extend(reversed(subdirs))

    def _read(self, path: str, shown: str, size: int, skips: Skips) -> Chunk | None:
        cap = self.options.max_file_size
        if cap and size > cap:
            skips.skip(shown, "too-large", f"{size} bytes is over the {cap}-byte cap (--max-file-size)")
            return None
        try:
            with open(path, "rb") as fh:
                data = fh.read(cap + 1) if cap else fh.read()
        except OSError as exc:
            skips.skip(shown, "unreadable", f"cannot read: {exc.strerror}")
            return None
        if cap and len(data) > cap:
            skips.skip(shown, "too-large", f"grew past the {cap}-byte cap while read")
            return None
        text = readable(data, self.options.scan_binary)
        if text is None:
            skips.skip(shown, "binary", BINARY_MESSAGE)
            return None
        # The content id stays the file's git blob id (what the git source computes); the content is its text.
        return Chunk(text, FileOrigin(shown), blob_id(data), structure=structure_of(shown, text))
