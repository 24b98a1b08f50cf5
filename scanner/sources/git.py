"""The git source (pygit2): staged changes, commit ranges, pushes and full history, by unique blob.

History is walked oldest first (topological order). Each commit is diffed against its first parent; a blob met
for the first time is attributed to that commit and path and scanned once; later appearances (the same content
at another path, a revert, a cherry-pick) are counted, not rescanned. A merge whose resolution brings new content
introduces new blobs in its first-parent diff; blobs brought in from the other side were already seen on their
own branch, which the topological walk visits first. Commit messages and annotated tag messages are scanned too.

The walk only collects (blob, path, commit) triples; reading and scanning the blobs is the job of the worker
processes in ``scanner.gitscan``.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import cache
from typing import IO, Any

from scanner.errors import InputError, UsageError
from scanner.models import Chunk, FileOrigin, GitOrigin, ScanIssue
from scanner.sources.files import Skips, is_binary, printable_path

ZERO_OID = "0" * 40
SUBMODULE_MODE = 0o160000


def _pygit2() -> Any:
    import pygit2

    return pygit2


def open_repository(path: str) -> Any:
    """The repository holding ``path`` (a working tree or a bare repository)."""
    pygit2 = _pygit2()
    if not os.path.exists(path):
        raise InputError(f"{path}: no such file or directory")
    found = pygit2.discover_repository(path)
    if found is None:
        raise InputError(f"{path}: not a git repository (no .git found here or above)")
    try:
        return pygit2.Repository(found)
    except pygit2.GitError as exc:
        raise InputError(f"{path}: cannot open the git repository: {exc}") from None


def resolve_commit(repo: Any, spec: str) -> Any:
    pygit2 = _pygit2()
    try:
        return repo.revparse_single(spec).peel(pygit2.Commit)
    except (KeyError, ValueError, pygit2.GitError, pygit2.InvalidSpecError):
        raise UsageError(f"unknown revision {spec!r} in {repo.path}") from None


@dataclass(frozen=True, slots=True)
class BlobTask:
    """A blob to scan, where it first appeared, and the position of that commit in the walk (oldest = 0)."""

    oid: str
    path: str
    commit: str
    order: int


@dataclass
class WalkStats:
    commits: int = 0
    appearances: int = 0  # blobs met again after their first appearance (counted, not rescanned)


def commit_origin(commit: Any, path: str, where: str = "blob") -> GitOrigin:
    author = commit.author
    tz = timezone(timedelta(minutes=author.offset))
    return GitOrigin(
        path=path,
        commit=str(commit.id),
        author=author.name,
        email=author.email,
        date=datetime.fromtimestamp(author.time, tz).isoformat(),
        where=where,  # type: ignore[arg-type]
    )


def history_tips(repo: Any, skips: Skips) -> list[Any]:
    """Every commit a ref points at (branches, tags, remote-tracking refs; notes aside), HEAD (which may be
    detached) and every stash entry."""
    pygit2 = _pygit2()
    tips: dict[str, Any] = {}
    for name in repo.references:
        if name.startswith("refs/notes/"):
            continue
        try:
            target = repo.references[name].peel()
        except (pygit2.GitError, KeyError, ValueError) as exc:
            skips.skip(name, "unresolvable-ref", f"cannot resolve: {exc}")
            continue
        if isinstance(target, pygit2.Commit):
            tips[str(target.id)] = target
    if not repo.head_is_unborn:
        try:  # a detached HEAD can hold commits no ref reaches
            head = repo.head.peel(pygit2.Commit)
            tips[str(head.id)] = head
        except (pygit2.GitError, KeyError, ValueError):
            pass
    try:
        for stash in repo.listall_stashes():
            commit = repo.get(stash.commit_id)
            if commit is not None:
                tips[str(commit.id)] = commit
    except pygit2.GitError:
        pass
    return list(tips.values())


@dataclass(frozen=True, slots=True)
class MessageTask:
    """A distinct commit message to scan, and its commit's position in the walk."""

    order: int
    commit: str
    content: bytes


# (commit id, message, [(new mode, new blob id, path) for each added or modified entry])
Change = tuple[str, bytes, list[tuple[int, str, str]]]


def walk_commits(
    repo: Any, tips: Sequence[Any], hidden: Sequence[Any], skips: Skips, stats: WalkStats
) -> Iterator[BlobTask | MessageTask]:
    """Walk the commits reachable from ``tips`` but not from ``hidden``, oldest first (topological order).

    Yields each blob the first time it appears (a ``BlobTask``) and each distinct commit message, as the walk
    goes, so scanning starts before the walk ends. The tree diffs come from ``git log --raw`` (about ten times
    faster than libgit2's tree diff from Python); without a usable ``git``, or if it fails half way (a corrupt
    object), libgit2 walks what is left.
    """
    if not tips:
        return
    seen: set[str] = set()
    # Blobs already in the hidden commits' trees are not new in this range: a range scan reports what it adds.
    for commit in hidden:
        _add_tree_blobs(commit.tree, seen)
    seen_messages: set[bytes] = set()  # the messages themselves: hashing bytes is cheaper than a digest
    visited: set[str] = set()
    changes: Iterable[Change]
    for attempt in ("git", "libgit2"):
        if attempt == "git":
            if not git_usable():
                continue
            changes = _git_log_changes(repo, tips, hidden, skips)
        else:
            changes = _libgit2_changes(repo, tips, hidden, skips, visited)
        for commit_id, message, entries in changes:
            if commit_id in visited:
                continue
            visited.add(commit_id)
            order = stats.commits
            stats.commits += 1
            if message and message not in seen_messages:
                seen_messages.add(message)
                yield MessageTask(order, commit_id, message)
            for mode, oid, path in entries:
                if mode == SUBMODULE_MODE:
                    skips.skip(path, "submodule", f"submodule at {commit_id[:12]} not followed")
                elif oid in seen:
                    stats.appearances += 1
                else:
                    seen.add(oid)
                    yield BlobTask(oid, path, commit_id, order)
        if attempt == "git" and not skips.stats.skipped.get("git-log-failed"):
            return


class _GitLogFailed(Exception):
    pass


@cache
def git_usable() -> bool:
    """``git`` on PATH and new enough for ``--diff-merges=first-parent`` (2.31)."""
    if shutil.which("git") is None:
        return False
    try:
        out = subprocess.run(["git", "version"], capture_output=True, text=True, timeout=10, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return False
    numbers = [int(n) for n in re.findall(r"\d+", out)[:2]]
    return len(numbers) == 2 and tuple(numbers) >= (2, 31)


def _git_log_changes(repo: Any, tips: Sequence[Any], hidden: Sequence[Any], skips: Skips) -> Iterator[Change]:
    """Parse ``git log --raw -z``: a ``\x01<id>`` token, the message, then (meta, path) token pairs."""
    args = [
        "git", "--git-dir", repo.path, "log", "--reverse", "--topo-order", "--raw", "--no-abbrev", "--no-renames",
        "--diff-merges=first-parent", "--root", "--no-color", "--format=%x01%H%x00%B", "-z", "--stdin",
    ]  # fmt: skip
    # Revisions go on stdin: a repository with tens of thousands of tags would overflow the command line.
    revisions = "".join(f"{c.id}\n" for c in tips) + "".join(f"^{c.id}\n" for c in hidden)
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    with subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env) as proc:
        assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
        proc.stdin.write(revisions.encode("ascii"))  # git reads all of it before it writes anything
        proc.stdin.close()
        tokens = _nul_tokens(proc.stdout)
        current: Change | None = None
        for token in tokens:
            if token.startswith(b"\x01"):
                if current is not None:
                    yield current
                current = (token[1:].decode("ascii"), next(tokens, b""), [])
                continue
            meta = token.lstrip(b"\n")
            if meta.startswith(b":") and current is not None:
                path = next(tokens, b"").decode("utf-8", "backslashreplace")
                _old_mode, new_mode, _old_id, new_id, status = meta[1:].split(b" ", 4)
                if not status.startswith(b"D"):
                    current[2].append((int(new_mode, 8), new_id.decode("ascii"), path))
        error = proc.stderr.read().decode("utf-8", "replace").strip()
        if proc.wait() != 0:
            last = error.splitlines()[-1] if error else "no message"
            skips.skip(repo.path, "git-log-failed", f"git log failed ({last}); libgit2 walks the rest")
            return  # the last, possibly partial, commit is left to libgit2
        if current is not None:
            yield current


def _nul_tokens(stream: IO[bytes]) -> Iterator[bytes]:
    pending = b""
    while chunk := stream.read(1 << 20):
        parts = (pending + chunk).split(b"\0")
        pending = parts.pop()
        yield from parts
    if pending:
        yield pending


def _libgit2_changes(
    repo: Any, tips: Sequence[Any], hidden: Sequence[Any], skips: Skips, visited: set[str]
) -> Iterator[Change]:
    pygit2 = _pygit2()
    walker = repo.walk(None, pygit2.enums.SortMode.TOPOLOGICAL | pygit2.enums.SortMode.REVERSE)
    for tip in tips:
        walker.push(tip.id)
    for commit in hidden:
        walker.hide(commit.id)
    deleted = pygit2.enums.DeltaStatus.DELETED
    skip_binary_check = pygit2.enums.DiffOption.SKIP_BINARY_CHECK
    for commit in walker:
        commit_id = str(commit.id)
        if commit_id in visited:
            continue
        try:
            parents = commit.parents
            # No binary check: it would make libgit2 read blob contents, which the workers read anyway.
            if parents:
                diff = parents[0].tree.diff_to_tree(commit.tree, flags=skip_binary_check)
            else:
                diff = commit.tree.diff_to_tree(swap=True, flags=skip_binary_check)
            entries = [
                (int(d.new_file.mode), str(d.new_file.id), printable_path(d.new_file.path))
                for d in diff.deltas
                if d.status != deleted
            ]
        except (pygit2.GitError, KeyError) as exc:
            # A missing object fails the whole diff: take every readable blob of this commit's tree instead
            # (those seen before are only counted), so one bad object does not hide what later commits add.
            skips.skip(commit_id, "corrupt-object", f"cannot diff the commit against its parent: {exc}")
            entries = []
            _readable_blobs(repo, commit, "", entries, skips)
        yield commit_id, commit.raw_message, entries


def _readable_blobs(repo: Any, tree_owner: Any, prefix: str, out: list[tuple[int, str, str]], skips: Skips) -> None:
    pygit2 = _pygit2()
    try:
        tree = tree_owner.tree if isinstance(tree_owner, pygit2.Commit) else tree_owner
        entries = list(tree)
    except (pygit2.GitError, KeyError) as exc:
        skips.skip(prefix or "/", "missing-object", f"cannot read tree: {exc}")
        return
    for entry in entries:
        path = f"{prefix}{entry.name}"
        if entry.type_str == "tree":
            try:
                _readable_blobs(repo, repo[entry.id], f"{path}/", out, skips)
            except (pygit2.GitError, KeyError) as exc:
                skips.skip(path, "missing-object", f"cannot read tree: {exc}")
        elif entry.type_str == "blob":
            out.append((int(entry.filemode), str(entry.id), printable_path(path)))


def _add_tree_blobs(tree: Any, seen: set[str]) -> None:
    for entry in tree:
        if entry.type_str == "tree":
            _add_tree_blobs(tree[entry.name], seen)
        elif entry.type_str == "blob":
            seen.add(str(entry.id))


def tag_messages(repo: Any, skips: Skips) -> Iterator[Chunk]:
    """Annotated tags carry a message of their own (release notes where a token gets pasted)."""
    pygit2 = _pygit2()
    for name in repo.references:
        if not name.startswith("refs/tags/"):
            continue
        try:
            obj = repo.get(repo.references[name].target)
        except (pygit2.GitError, ValueError) as exc:
            skips.skip(name, "corrupt-object", f"cannot read the tag: {exc}")
            continue
        if isinstance(obj, pygit2.Tag) and obj.message:
            tagger = obj.tagger
            when = ""
            if tagger is not None:
                when = datetime.fromtimestamp(tagger.time, timezone(timedelta(minutes=tagger.offset))).isoformat()
            origin = GitOrigin(
                path="<tag message>",
                commit=str(obj.target),
                author=tagger.name if tagger is not None else "",
                email=tagger.email if tagger is not None else "",
                date=when,
                where="tag-message",
            )
            yield Chunk(obj.message.encode("utf-8", "surrogateescape"), origin)


def shallow_issue(repo: Any) -> ScanIssue | None:
    if repo.is_shallow:
        return ScanIssue(repo.path, "shallow", "shallow clone: history before the shallow boundary is not scanned")
    return None


# --- staged changes ---


@dataclass(frozen=True, slots=True)
class StagedChunk:
    chunk: Chunk
    added_lines: frozenset[int]


def new_line_numbers(old: bytes, new: bytes) -> frozenset[int]:
    """Line numbers of ``new`` whose text is nowhere in ``old``: what a change brings in. A line moved within
    the file brings nothing new, so a secret already committed there does not block again."""
    known = set(old.split(b"\n"))
    return frozenset(i + 1 for i, line in enumerate(new.split(b"\n")) if line not in known)


def _staged_diff(repo: Any) -> Any:
    """HEAD against what the next commit would record (new side = staged). Git points hooks at another index
    with GIT_INDEX_FILE during ``git commit -a`` and ``git commit <paths>``; libgit2 does not read that
    variable, so it is honoured here."""
    pygit2 = _pygit2()
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


def staged_chunks(repo: Any, max_size: int, scan_binary: bool, skips: Skips) -> Iterator[StagedChunk]:
    """What the index adds against HEAD: each added or modified file, with the line numbers it adds."""
    pygit2 = _pygit2()
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
) -> StagedChunk | None:
    """A staged file version to scan on its new lines, or None (skipped and counted, or nothing new)."""
    if max_size and len(data) > max_size:
        skips.skip(path, "too-large", f"{len(data)} bytes is over the {max_size}-byte cap")
        return None
    if not scan_binary and is_binary(data):
        skips.skip(path, "binary", "binary file (NUL byte in the first 8000 bytes)")
        return None
    added = new_line_numbers(old, data)
    return StagedChunk(Chunk(data, FileOrigin(path), oid), added) if added else None


# --- pushes ---


def push_ranges(repo: Any, lines: Iterable[str]) -> tuple[list[Any], list[Any]]:
    """Tips and hidden commits for what a push sends, from git's pre-push (or pre-receive) stdin lines.

    A line is ``<local ref> <local oid> <remote ref> <remote oid>``. A deleted ref sends nothing; a new ref
    sends what no remote-tracking ref has yet; an update sends ``remote..local``.
    """
    tips: list[Any] = []
    hidden: list[Any] = []
    for line in lines:
        parts = line.split()
        if len(parts) != 4:
            continue
        _local_ref, local_oid, _remote_ref, remote_oid = parts
        if local_oid == ZERO_OID:
            continue
        tips.append(resolve_commit(repo, local_oid))
        if remote_oid != ZERO_OID and repo.get(remote_oid) is not None:
            hidden.append(resolve_commit(repo, remote_oid))
        else:
            hidden.extend(remote_tips(repo))
    return tips, hidden


def remote_tips(repo: Any) -> list[Any]:
    pygit2 = _pygit2()
    found = []
    for name in repo.references:
        if name.startswith("refs/remotes/"):
            try:
                found.append(repo.references[name].peel(pygit2.Commit))
            except (pygit2.GitError, ValueError):
                continue
    return found
