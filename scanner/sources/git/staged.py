"""Staged changes: what the index adds against HEAD, each added or modified file with the lines it adds.

Through the ``git`` command line first: the pre-commit hook's fast path.

Importing pygit2 costs about 90 ms, most of a hook's budget; three short ``git`` calls cost about 15 ms. Git
also honours everything a hook's environment says (GIT_INDEX_FILE during ``git commit -a``, GIT_DIR, worktrees)
without our help. Without a usable ``git``, ``staged_chunks`` does the same through pygit2.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from scanner.errors import InputError
from scanner.models import Chunk, FileOrigin, Target
from scanner.sources.base import PlainSource, Skips, printable_path, structure_of
from scanner.sources.git import SUBMODULE_MODE, pipes
from scanner.sources.git.ahead import Ahead
from scanner.sources.textcodec import BINARY_MESSAGE, as_text, readable
from scanner.textdiff import new_line_numbers

ZERO = "0" * 40


def git_available() -> bool:
    return pipes.on_path("git")


def _git(root: str, *args: str, stdin: bytes | None = None) -> bytes:
    try:
        code, out, err = pipes.run(["git", "-C", root, *args], stdin)
    except OSError as exc:
        raise InputError(f"{root}: cannot run git: {exc}") from None
    if code != 0:
        message = err.decode("utf-8", "replace").strip().splitlines()
        raise InputError(f"{root}: git {args[0]} failed: {message[-1] if message else 'no message'}")
    return out


def repository_root(path: str) -> str:
    """The working tree's top directory; a bare repository or no repository is an input error.

    One ``git rev-parse`` on the hook's path; only when it fails does a second one tell which error it is."""
    try:
        answer = _git(path, "rev-parse", "--is-bare-repository", "--show-toplevel").split(b"\n")
    except InputError as failed:
        try:
            bare = _git(path, "rev-parse", "--is-bare-repository").strip() == b"true"
        except InputError:
            raise InputError(f"{path}: not a git repository (no .git found here or above)") from None
        if bare:
            raise InputError(f"{path}: a bare repository has no index to scan (--staged)") from None
        raise failed from None  # inside .git: not bare, yet no working tree
    if answer[0] == b"true" or len(answer) < 2:  # a git that answers a bare repository's top level with nothing
        raise InputError(f"{path}: a bare repository has no index to scan (--staged)")
    return answer[1].decode("utf-8", "surrogateescape").strip()


@dataclass(frozen=True)
class StagedChanges:
    """What ``git diff --cached`` lists (path, old id, new id, whether a submodule), and the blobs named."""

    entries: tuple[tuple[str, str, str, bool], ...]
    blobs: dict[str, bytes]


def staged_changes(root: str) -> StagedChanges:
    """The index against HEAD (or against nothing before the first commit): two ``git`` calls."""
    raw = _git(root, "diff", "--cached", "--raw", "-z", "--no-renames", "--no-abbrev", "--no-ext-diff").split(b"\0")
    entries = []
    for meta, name in zip(raw[0::2], raw[1::2], strict=False):
        if not meta.startswith(b":"):
            continue
        _old_mode, new_mode, old_id, new_id, status = meta[1:].decode("ascii").split(" ", 4)
        if not status.startswith("D"):
            path = printable_path(name.decode("utf-8", "surrogateescape"))
            entries.append((path, old_id, new_id, int(new_mode, 8) == SUBMODULE_MODE))
    wanted = sorted({oid for _, old, new, module in entries if not module for oid in (old, new) if oid != ZERO})
    return StagedChanges(tuple(entries), _read_blobs(root, wanted))


def staged_chunks_cli(
    root: str,
    max_size: int,
    scan_binary: bool,
    skips: Skips,
    read: Callable[[str], StagedChanges] = staged_changes,
) -> Iterator[Chunk]:
    """What the index adds against HEAD; ``read`` reads it (``ReadAhead.read`` answers what a thread read)."""
    changes = read(root)
    for path, _old_id, _new_id, module in changes.entries:
        if module:
            skips.skip(path, "submodule", "submodule change not followed")
    blobs = changes.blobs
    for path, old_id, new_id, module in changes.entries:
        if module:
            continue
        data = blobs.get(new_id)
        if data is None or (old_id != ZERO and old_id not in blobs):
            skips.skip(path, "missing-object", "staged content is missing from the object store")
            continue
        staged = staged_chunk(path, new_id, blobs.get(old_id, b""), data, max_size, scan_binary, skips)
        if staged is not None:
            yield staged


def _read_blobs(root: str, oids: list[str]) -> dict[str, bytes]:
    """``git cat-file --batch``: ``<oid> <type> <size>\\n<content>\\n`` per object, ``<oid> missing`` if absent."""
    if not oids:
        return {}
    out = _git(root, "cat-file", "--batch", stdin="".join(f"{oid}\n" for oid in oids).encode())
    blobs: dict[str, bytes] = {}
    pos = 0
    while pos < len(out):
        header_end = out.index(b"\n", pos)
        header = out[pos:header_end].split()
        pos = header_end + 1
        if len(header) != 3:
            continue  # "<oid> missing"
        size = int(header[2])
        blobs[header[0].decode("ascii")] = out[pos : pos + size]
        pos += size + 1
    return blobs


# --- without git: through pygit2 ---


def _staged_diff(repo: Any) -> Any:
    """HEAD against what the next commit would record (new side = staged). Git points hooks at another index
    with GIT_INDEX_FILE during ``git commit -a`` and ``git commit <paths>``; libgit2 does not read that
    variable, so it is honoured here."""
    from scanner.sources.git.repo import pygit2_module  # (the git CLI path needs neither pygit2 nor repo)

    pygit2 = pygit2_module()
    head = None if repo.head_is_unborn else repo.head.peel(pygit2.Commit).tree
    alternate = os.environ.get("GIT_INDEX_FILE")
    if not alternate:
        return repo.index.diff_to_tree(head if head is not None else repo[repo.TreeBuilder().write()])
    path = alternate if os.path.isabs(alternate) else os.path.join(repo.workdir or os.getcwd(), alternate)
    try:
        staged = repo[pygit2.Index(path).write_tree(repo)]
    except (pygit2.GitError, OSError, ValueError) as exc:
        raise InputError(f"{path}: cannot read the index named by GIT_INDEX_FILE: {exc}") from None
    return head.diff_to_tree(staged) if head is not None else staged.diff_to_tree(swap=True)


def staged_chunks(repo: Any, max_size: int, scan_binary: bool, skips: Skips) -> Iterator[Chunk]:
    """What the index adds against HEAD: each added or modified file, with the line numbers it adds."""
    from scanner.sources.git.repo import pygit2_module

    pygit2 = pygit2_module()
    if repo.is_bare:
        raise InputError(f"{repo.path}: a bare repository has no index to scan (--staged)")
    try:
        diff = _staged_diff(repo)
    except pygit2.GitError as exc:
        raise InputError(f"{repo.path}: cannot read the index: {exc}") from None
    for delta in diff.deltas:
        if delta.status == pygit2.enums.DeltaStatus.DELETED:
            continue
        new = delta.new_file
        path = printable_path(new.path)
        if new.mode == SUBMODULE_MODE:
            skips.skip(path, "submodule", "submodule change not followed")
            continue
        try:
            data = repo.odb.read(new.id)[1]
            old = repo.odb.read(delta.old_file.id)[1] if delta.status != pygit2.enums.DeltaStatus.ADDED else b""
        except (KeyError, ValueError, pygit2.GitError) as exc:
            skips.skip(path, "missing-object", f"staged content is missing from the object store: {exc}")
            continue
        staged = staged_chunk(path, str(new.id), old, data, max_size, scan_binary, skips)
        if staged is not None:
            yield staged


def staged_chunk(
    path: str, oid: str, old: bytes, data: bytes, max_size: int, scan_binary: bool, skips: Skips
) -> Chunk | None:
    """A staged file version to scan on its new lines, or None (skipped and counted, or nothing new)."""
    if max_size and len(data) > max_size:
        skips.skip(path, "too-large", f"{len(data)} bytes is over the {max_size}-byte cap")
        return None
    text = readable(data, scan_binary)
    if text is None:
        skips.skip(path, "binary", BINARY_MESSAGE)
        return None
    added = new_line_numbers(as_text(old), text)  # lines of the decoded text, old and new alike
    if not added:
        return None
    return Chunk(text, FileOrigin(path), oid, only_lines=added, structure=structure_of(path, text))


class ReadAhead(Ahead):
    """The ``git`` side of ``scan --staged`` (the top directory, the index's changes and their blobs: three ``git``
    processes, most of 10 ms of wall time) read in a thread while the rules and detector load (``ahead``).

    A ``StagedSource`` opened on the same path takes it (the same commands, in the same order, with the same
    environment; only earlier), and meets any error where it would have without it: a path outside a repository
    when it opens, a failed ``git diff`` when it is read. Without ``git`` (the pygit2 path) it does nothing."""

    def __init__(self, path: str) -> None:
        super().__init__(path, "leakstop-staged-read")
        self.root = ""
        self.changes: StagedChanges | None = None

    def wanted(self) -> bool:
        return git_available()

    def work(self) -> None:
        self.root = repository_root(self.path)
        self.changes = staged_changes(self.root)

    def opened(self) -> str:
        """The repository's top directory (``repository_root``), once the thread has it."""
        if not self.root:
            raise self.failure or InputError(f"{self.path}: not read")
        return self.root

    def read(self, root: str) -> StagedChanges:
        """What ``staged_changes(root)`` answered in the thread."""
        if self.changes is None:
            raise self.failure or InputError(f"{root}: not read")
        return self.changes


class StagedSource(PlainSource):
    """What the index adds against HEAD, through the ``git`` command line (the hook's fast path: no pygit2), or
    through pygit2 where there is no git. No commit message exists yet: a trailer cannot apply."""

    target: Target = "git"

    def __init__(self, path: str, max_size: int = 0, scan_binary: bool = False) -> None:
        self.max_size, self.scan_binary = max_size, scan_binary
        self.repo: Any = None
        self.read_changes: Callable[[str], StagedChanges] = staged_changes
        ahead = ReadAhead.taken(path)  # taken once: a second source on the path reads the index itself
        if isinstance(ahead, ReadAhead):
            self.root, self.read_changes = ahead.opened(), ahead.read
        elif git_available():
            self.root = repository_root(path)
        else:
            from scanner.sources.git.loose import corrupt_loose, guard, object_dirs_of
            from scanner.sources.git.repo import open_repository

            self.repo = open_repository(path)
            self.root = self.repo.workdir or self.repo.path
            dirs = object_dirs_of(self.repo.path)  # a truncated loose HEAD would make libgit2 spin (loose.py)
            guard(self.repo, dirs, corrupt_loose(dirs))

    def items(self, skips: Skips) -> Iterator[Chunk]:
        if self.repo is None:
            return staged_chunks_cli(self.root, self.max_size, self.scan_binary, skips, self.read_changes)
        return staged_chunks(self.repo, self.max_size, self.scan_binary, skips)
