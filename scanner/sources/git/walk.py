"""The history walk: commits oldest first, each blob the first time it appears, and commit and tag messages.

History is walked oldest first (topological order). Each commit is diffed against its first parent; a blob met
for the first time is attributed to that commit and path and scanned once; later appearances (the same content
at another path, a revert, a cherry-pick) are counted, not rescanned. A merge whose resolution brings new content
introduces new blobs in its first-parent diff; blobs brought in from the other side were already seen on their
own branch, which the topological walk visits first. Commit messages and annotated tag messages are scanned too.

The walk only yields (blob, path, commit) refs; reading them is the job of ``blobs.GitBlobReader`` in the
pipeline's worker processes.
"""

from __future__ import annotations

import os
import select
import subprocess
from collections.abc import Generator, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import IO, Any

from scanner.lifeline import guarded
from scanner.sources.base import BlobRef, CommitMessage, Skips
from scanner.sources.git import SUBMODULE_MODE
from scanner.sources.git import repo as git_repo
from scanner.sources.git.graph import (
    CommitGraph,
    commit_graph,
    finish_writing,
    forget,
    start_writing,
    usable,
    with_graph,
)
from scanner.sources.git.libgit2walk import Change, add_tree_blobs, libgit2_changes
from scanner.sources.git.repo import git_environment, git_usable


@dataclass
class WalkStats:
    """A walk's counts for the report (a docstring of its own: ``dataclasses`` would import ``inspect`` to make one)."""

    commits: int = 0
    blobs: int = 0  # blobs yielded: each the first time it appears
    appearances: int = 0  # blobs met again after their first appearance (counted, not rescanned)


def walk_commits(
    repo: Any,
    tips: Sequence[Any],
    hidden: Sequence[Any],
    skips: Skips,
    stats: WalkStats,
    object_dirs: Sequence[str] = (),
    use_graph: bool = False,
    started: LogStart | None = None,
) -> Iterator[BlobRef | CommitMessage]:
    """Walk the commits reachable from ``tips`` but not from ``hidden``, oldest first (topological order).

    Yields each blob the first time it appears (a ``BlobRef``) and each distinct commit message (a ``CommitMessage``),
    as the walk goes, so scanning starts before the walk ends. The tree diffs come from ``git log --raw`` (about
    ten times faster than libgit2's tree diff from Python); without a usable ``git``, or if it fails half way (a
    corrupt object), libgit2 walks what is left. ``object_dirs``: where else objects are (a push's quarantine).
    ``use_graph``: ``git log`` reads a commit-graph kept in the cache (``graph.py``), written beside the walk when
    the tips have changed since the last one (for history scans: their tips change less often than a push's).
    ``started``: that ``git log``, started early by the caller (``start_log``); stopped here if git is not used."""
    if not tips:
        if started is not None:
            stop_log(started)
        return
    seen: set[str] = set()
    # Blobs already in the hidden commits' trees are not new in this range: a range scan reports what it adds.
    for commit in hidden:
        add_tree_blobs(commit.tree, seen)
    seen_messages: set[bytes] = set()  # the messages themselves: hashing bytes is cheaper than a digest
    visited: set[str] = set()
    changes: Iterable[Change]
    for attempt in ("git", "libgit2"):
        if attempt == "git":
            if not git_usable():
                if started is not None:
                    stop_log(started)
                continue
            env = git_environment(object_dirs)
            changes = _git_log_changes(repo, tips, hidden, skips, env, use_graph, started)
        else:
            changes = libgit2_changes(repo, tips, hidden, skips, visited)
        for commit_id, message, entries in changes:
            if commit_id in visited:
                continue
            visited.add(commit_id)
            order = stats.commits
            stats.commits += 1
            if message and message not in seen_messages:
                seen_messages.add(message)
                yield CommitMessage(message, commit_id, order)
            for mode, oid, path in entries:
                if mode == SUBMODULE_MODE:
                    skips.skip(path, "submodule", f"submodule at {commit_id[:12]} not followed")
                elif oid in seen:
                    stats.appearances += 1
                else:
                    seen.add(oid)
                    stats.blobs += 1
                    yield BlobRef(oid, path, commit_id, order)
        if attempt == "git" and not skips.stats.skipped.get("git-log-failed"):
            return


@dataclass(frozen=True)
class LogStart:
    """A started ``git log`` of the walk (its revisions already written): what ``_git_log_changes`` reads."""

    proc: subprocess.Popen[bytes]
    graph: CommitGraph | None  # the cached commit-graph, when the walk may use one
    intact: bool  # the graph passed its checksum: git reads it


def start_log(
    git_dir: str, tips: Sequence[Any], hidden: Sequence[Any], env: dict[str, str], use_graph: bool
) -> LogStart:
    """``git log --raw -z`` over ``tips`` minus ``hidden``, started: git orders the commits (``--reverse
    --topo-order`` lists them all before it prints the first) while the caller goes on."""
    args = [
        "git", "--git-dir", git_dir, "log", "--reverse", "--topo-order", "--raw", "--no-abbrev", "--no-renames",
        "--diff-merges=first-parent", "--root", "--no-color", "--format=%x01%H%x00%B", "-z", "--stdin",
    ]  # fmt: skip
    # Revisions go on stdin: a repository with tens of thousands of tags would overflow the command line.
    revisions = "".join(f"{c.id}\n" for c in tips) + "".join(f"^{c.id}\n" for c in hidden)
    graph = commit_graph(git_dir, revisions) if use_graph else None
    intact = graph is not None and usable(graph)
    argv, setup = guarded(args)
    proc = subprocess.Popen(
        argv,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=with_graph(env, graph) if graph is not None and intact else env,
        preexec_fn=setup,  # noqa: PLW1509 (without setpriv: a prctl call, no lock)
    )
    try:
        assert proc.stdin is not None
        proc.stdin.write(revisions.encode("ascii"))  # git reads all of it before it writes anything
        proc.stdin.close()
    except BaseException:
        stop_log(LogStart(proc, graph, intact))
        raise
    return LogStart(proc, graph, intact)


def stop_log(log: LogStart) -> None:
    """A started ``git log`` that will not be read: git ends, and is reaped."""
    with log.proc:
        log.proc.kill()


def _git_log_changes(
    repo: Any,
    tips: Sequence[Any],
    hidden: Sequence[Any],
    skips: Skips,
    env: dict[str, str],
    use_graph: bool,
    started: LogStart | None = None,
) -> Iterator[Change]:
    """Parse ``git log --raw -z``: a ``\x01<id>`` token, the message, then (meta, path) token pairs. ``started``: the
    same ``git log``, already started by the caller (``start_log`` with these arguments)."""
    log = started or start_log(repo.path, tips, hidden, env, use_graph)
    proc, graph, intact = log.proc, log.graph, log.intact
    writer = None
    retry = False
    with proc:
        try:
            assert proc.stdout is not None and proc.stderr is not None
            if graph is not None:  # the graph's writer walks on the core left idle while git log walks
                writer = start_writing(graph, repo.path, "".join(f"{c.id}\n" for c in tips), with_graph(env, graph))
            silent = [False]
            last = yield from _parse_log(_nul_tokens(proc.stdout, silent))
            if silent[0]:
                proc.kill()
            error = proc.stderr.read().decode("utf-8", "replace").strip()
            if silent[0]:
                error = f"no output for {repo_timeout():g}s, stopped"
            if proc.wait() != 0 and intact:
                retry = True  # a damaged graph makes git die ("invalid parent position"): git again, without it
            elif proc.returncode != 0:
                line = error.splitlines()[-1] if error else "no message"
                skips.skip(repo.path, "git-log-failed", f"git log failed ({line}); libgit2 walks the rest")
                return  # the last, possibly partial, commit is left to libgit2
            elif last is not None:
                yield last
        finally:
            abandoned = proc.poll() is None
            if abandoned:  # the walk was abandoned (a deadline, a signal): git goes too
                proc.kill()
            if graph is not None:
                finish_writing(writer, graph, stop=abandoned)
    if retry and graph is not None:  # the commits already walked are skipped by the caller (``visited``)
        forget(graph)
        yield from _git_log_changes(repo, tips, hidden, skips, env, use_graph=False)


def repo_timeout() -> float:
    return git_repo.GIT_READ_TIMEOUT  # looked up at each use: a test shortens it


def _parse_log(token_lists: Iterator[list[bytes]]) -> Generator[Change, None, Change | None]:
    """Each commit once the next one starts; the last is returned, for the caller to keep only if git ended
    well (a commit cut short is left to libgit2).

    Tokens come a read's worth at a time (a list from one ``bytes.split``) and are walked by index: a generator
    step per token cost the walk a third of its time. A record cut by the end of a read (a header without its
    message, an entry without its path) waits for the next read; at the very end it is read as if an empty
    token followed."""
    state: list[Change | None] = [None]
    pending: list[bytes] = []
    for read in token_lists:
        tokens = pending + read if pending else read
        used = yield from _parse_tokens(tokens, state, final=False)
        pending = tokens[used:]
    if pending:
        yield from _parse_tokens([*pending, b""], state, final=True)
    return state[0]


def _parse_tokens(tokens: list[bytes], state: list[Change | None], final: bool) -> Generator[Change, None, int]:
    """Parse ``tokens`` from the start; ``state[0]`` is the commit being read. Returns how many tokens were used:
    a header or entry whose second token has not come yet is left for the next read (unless ``final``)."""
    current = state[0]
    entries = current[2] if current is not None else []
    i, n = 0, len(tokens)
    limit = n if final else n - 1  # a two-token record must start before this index
    while i < n:
        token = tokens[i]
        if token[:1] == b"\x01":
            if i >= limit:
                break
            if current is not None:
                yield current
            entries = []
            current = state[0] = (token[1:].decode("ascii"), tokens[i + 1], entries)
            i += 2
            continue
        meta = token.lstrip(b"\n")
        if meta[:1] == b":" and current is not None:
            if i >= limit:
                break
            fields = meta[1:].split(b" ", 4)  # old mode, new mode, old id, new id, status
            if len(fields) == 5 and fields[4][:1] != b"D":  # fewer: cut short (git died; libgit2 takes over)
                path = tokens[i + 1].decode("utf-8", "backslashreplace")
                entries.append((int(fields[1], 8), fields[3].decode("ascii"), path))
            i += 2
            continue
        i += 1
    return i


def _nul_tokens(stream: IO[bytes], silent: list[bool]) -> Iterator[list[bytes]]:
    """The stream's NUL-separated tokens, a list per read (the last, unterminated token of a read goes with the
    next). A stream with nothing to read for ``GIT_READ_TIMEOUT`` seconds ends here, with ``silent[0]`` set (a
    ``select`` deadline: no thread, so the worker pool still forks a process with one thread)."""
    fd = stream.fileno()
    rest = b""
    while True:
        if not select.select([fd], [], [], repo_timeout())[0]:
            silent[0] = True
            break
        chunk = os.read(fd, 1 << 20)
        if not chunk:
            break
        parts = (rest + chunk).split(b"\0")
        rest = parts.pop()
        if parts:
            yield parts
    if rest:
        yield [rest]
