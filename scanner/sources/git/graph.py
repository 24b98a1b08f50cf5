"""A commit-graph for the history walk's ``git log``, kept in leakstop's cache, never in the repository.

``git log --reverse --topo-order`` prints nothing until it has read every commit: without a commit-graph file it
inflates and parses each commit object first (pytest's 19k commits: 0.13–0.3 s, numpy's 49k: about 0.4 s), and
the scan waits, one core idle, before its first blob. With a commit-graph git takes parents and generation
numbers from the graph and prints the first commit within a few milliseconds; the order it prints is the same
(git's own tests compare ``--topo-order`` output with no graph, a partial one and a full one; checked here on
requests, pytest and numpy: byte-identical ``git log`` output).

A scanner does not write into the repository it scans, so the graph lives in an object directory of its own under
the cache (``commit-graph/<digest of the git dir>/info/commit-graph``), given to git as an alternate object
directory; git reads a commit-graph from the first object directory that has one (the repository's own first).
It is written beside the walk by ``git commit-graph write --stdin-commits`` when the tips have changed since it
was last written (a stamp of their digest beside it): on the first scan the writer runs while the parent waits
for ``git log`` anyway; later scans start at once. A graph older than the tips is still valid (the commits after
it are read from their objects); a commit's entry is keyed by its id, so it cannot describe another repository's
commit. Like every cache entry, a graph planted by someone who can write to the cache is data git trusts: it
could hide commits from the walk (``cache.py``'s threat model, issue #18: the cache is the user's own).
Every failure is silent: no cache, no graph, the walk as before. A graph whose checksum fails is removed before
the walk (``intact``: 0.8 ms for pytest's 1.1 MB, 2.1 ms for numpy's 2.9 MB), and one on which ``git log`` fails
anyway is removed and the walk runs again without it.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from scanner.atomicfile import write_atomic
from scanner.cache import cache_dir
from scanner.lifeline import guarded
from scanner.sources.git import alternates

STALE_LOCK = 600.0  # seconds after which a writer's lock file is taken as left by a killed writer
KEEP = 16  # repositories whose graphs are kept (the most recently written): scanned clones come and go
# Packs smaller than this get no graph: git's walk costs about 7 µs a commit without one, and a pack under 8 MiB
# rarely holds more than a thousand or two (requests: 41 MB for 6.7k commits), so the graph would save a few ms and
# cost a git process and a stamp written to disk (an org scan's first run walks hundreds of such repositories).
MIN_PACK = 8 << 20


@dataclass(frozen=True)
class CommitGraph:
    """Where one repository's graph is kept, and the digest of the tips it is to cover."""

    directory: Path  # an object directory holding only ``info/commit-graph``
    stamp: str

    @property
    def intact(self) -> bool:
        """The graph is there and its trailing checksum holds (git does not check it when it reads the file: a
        damaged parent position reads as another commit or none, and the walk would silently change)."""
        try:
            data = (self.directory / "info" / "commit-graph").read_bytes()
        except OSError:
            return False
        size = 32 if data[5:6] == b"\x02" else 20  # the header's hash version: SHA-256 or SHA-1
        digest = hashlib.sha256 if size == 32 else hashlib.sha1
        return (
            len(data) > 8 + size and data[:4] == b"CGPH" and digest(memoryview(data)[:-size]).digest() == data[-size:]
        )

    @property
    def fresh(self) -> bool:
        try:
            return (self.directory / "tips").read_text(encoding="ascii") == self.stamp
        except (OSError, UnicodeDecodeError):
            return False


def commit_graph(git_dir: str, revisions: str) -> CommitGraph:
    """The graph's place for ``git_dir`` and the stamp of ``revisions`` (the walk's stdin: tips and ^hidden)."""
    key = hashlib.sha256(os.fsencode(os.path.realpath(git_dir))).hexdigest()[:32]
    stamp = hashlib.sha256("".join(sorted(revisions.splitlines(keepends=True))).encode()).hexdigest()
    return CommitGraph(cache_dir() / "commit-graph" / key, stamp)


def with_graph(env: dict[str, str], graph: CommitGraph) -> dict[str, str]:
    """``env`` with the graph's directory added to git's alternate object directories (after any already there:
    a push's quarantine)."""
    entries = alternates.split(env.get("GIT_ALTERNATE_OBJECT_DIRECTORIES", ""))
    return {**env, "GIT_ALTERNATE_OBJECT_DIRECTORIES": alternates.join([*entries, str(graph.directory)])}


def start_writing(graph: CommitGraph, git_dir: str, tips: str, env: dict[str, str]) -> subprocess.Popen[bytes] | None:
    """``git commit-graph write`` for the commits reachable from ``tips`` (ids, a line each), unless the graph is
    fresh or cannot be written; ``env`` is ``with_graph``'s (git writes only into a known object directory)."""
    if graph.fresh:
        return None
    try:
        if not graph.directory.exists():
            if _pack_bytes(git_dir) < MIN_PACK:
                return None
            _prune(graph.directory.parent, KEEP - 1)
        (graph.directory / "info").mkdir(parents=True, exist_ok=True)
        lock = graph.directory / "info" / "commit-graph.lock"
        if lock.exists() and time.time() - lock.stat().st_mtime > STALE_LOCK:
            lock.unlink()  # left by a writer that was killed: git would refuse to write while it is there
        argv, setup = guarded(
            ["git", "--git-dir", git_dir, "commit-graph", "write", "--stdin-commits", "--object-dir",
             str(graph.directory), "--no-progress"]
        )  # fmt: skip
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=env,
            preexec_fn=setup,  # noqa: PLW1509 (without setpriv: a prctl call, no lock)
        )
        assert proc.stdin is not None
        proc.stdin.write(tips.encode("ascii"))
        proc.stdin.close()
    except (OSError, ValueError):
        return None
    return proc


def _pack_bytes(git_dir: str) -> int:
    with os.scandir(os.path.join(git_dir, "objects", "pack")) as entries:
        return sum(entry.stat().st_size for entry in entries if entry.name.endswith(".pack"))


def usable(graph: CommitGraph) -> bool:
    """Whether ``git log`` is to read the graph: it is there and intact; a damaged one is removed."""
    if graph.intact:
        return True
    if graph.directory.exists():
        forget(graph)
    return False


def _prune(root: Path, keep: int) -> None:
    """Remove all but the ``keep`` most recently written graphs under ``root`` (a new repository's comes next)."""
    import shutil  # only when a new repository's graph is written: not on every scan's start

    try:
        entries = sorted(root.iterdir(), key=lambda entry: entry.stat().st_mtime, reverse=True)
    except OSError:
        return
    for entry in entries[keep:]:
        shutil.rmtree(entry, ignore_errors=True)


def forget(graph: CommitGraph) -> None:
    """Remove a damaged graph (its checksum fails, or git fails on it): the writer makes a new one."""
    import shutil

    shutil.rmtree(graph.directory, ignore_errors=True)


def finish_writing(proc: subprocess.Popen[bytes] | None, graph: CommitGraph, stop: bool = False) -> None:
    """Wait for the writer (it ends about when ``git log`` prints its first commit) and stamp the graph it wrote;
    ``stop``: the walk was abandoned, a writer still running is ended with SIGTERM (git removes its lock file)."""
    if proc is None:
        return
    if stop and proc.poll() is None:
        proc.terminate()
    if proc.wait() == 0:
        with contextlib.suppress(OSError):
            write_atomic(graph.directory / "tips", graph.stamp.encode("ascii"))
