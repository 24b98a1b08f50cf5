"""Blob contents in bulk from a long-lived ``git cat-file --batch`` process.

Reading every blob version of a large history is the biggest single cost of a history scan. On pytest's
history (41,641 blobs, 1.1 GB inflated from a 44 MB pack) git reads them in about 2 s of CPU, pipe included,
where libgit2 through pygit2 takes about 6 s: git's delta base cache is much larger. One process per worker,
fed a batch of object ids at a time; without a usable git, or when git fails on an object, the caller falls
back to libgit2 for that object.
"""

from __future__ import annotations

import io
import os
import subprocess
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from scanner.lifeline import guarded
from scanner.sources.git import repo
from scanner.watchdog import Watchdog

_DISCARD_CHUNK = 1 << 20
# git's default (96 MB) makes each cat-file process about 200 MB on pytest's history; 32 MB reads as fast
# there at half the memory.
DELTA_BASE_CACHE = "32m"
WINDOW = 256  # ids written ahead of the answers: 10 KB, well within a pipe's 64 KB


@dataclass(frozen=True, slots=True)
class BlobData:
    """One object's answer: its content, or why there is none (``missing``, ``too-large``, ``failed``)."""

    data: bytes | None
    size: int = 0
    problem: str = ""


class CatFile:
    """``read(oids)`` answers in order. Objects over ``max_size`` are drained from the pipe, never held."""

    def __init__(self, git_dir: str, max_size: int, env: dict[str, str] | None = None) -> None:
        self.git_dir = git_dir
        self.max_size = max_size
        self.env = env  # the repository's git environment (``repo.git_environment``); None: ours without GIT_*
        self._proc: subprocess.Popen[bytes] | None = None
        self._out: io.BufferedReader | None = None
        self._unanswered = 0
        self.watchdog = Watchdog("cat-file watchdog")

    def start(self) -> None:
        """Start git now rather than at the first ``read``: a history worker does it while it waits for its first
        batch, as starting it from a process that large (the loaded rules) takes 16-25 ms at load 4."""
        self._start()

    def _start(self) -> tuple[subprocess.Popen[bytes], io.BufferedReader]:
        if self._proc is None or self._out is None:
            env = self.env if self.env is not None else {k: v for k, v in os.environ.items() if k[:4] != "GIT_"}
            argv, setup = guarded(
                ["git", "--git-dir", self.git_dir, "-c", f"core.deltaBaseCacheLimit={DELTA_BASE_CACHE}", "cat-file",
                 "--batch"]
            )  # fmt: skip
            self._proc = subprocess.Popen(
                argv,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                env=env,
                bufsize=0,
                preexec_fn=setup,  # noqa: PLW1509 (without setpriv: one prctl call, resolved before the fork)
            )
            assert self._proc.stdout is not None
            self._out = io.BufferedReader(self._proc.stdout, 1 << 16)  # type: ignore[arg-type]
        return self._proc, self._out

    def read(self, oids: Sequence[str]) -> Iterator[BlobData]:
        """One answer per id, in order, as git writes them: one blob in memory at a time."""
        if self._unanswered:
            self.close()  # the last batch was abandoned half way: its answers are still in the pipe
        done = 0
        while done < len(oids) and not self.watchdog.fired:
            try:
                for answer in self._read_some(oids[done:]):
                    done += 1
                    yield answer
            except (OSError, ValueError, IndexError):
                # git died or wrote something unexpected (a corrupt object can end it): this object is the
                # caller's to read another way; a new process takes the rest.
                self.close()
                done += 1
                yield BlobData(None, 0, "failed")
        for _ in oids[done:]:  # git stopped answering once: libgit2 reads the rest
            yield BlobData(None, 0, "failed")

    def _read_some(self, oids: Sequence[str]) -> Iterator[BlobData]:
        """Ids go in at most ``WINDOW`` ahead of the answers read: git never waits on a full pipe that we are
        not reading while we wait on it. The loop runs once per blob of a history (41,641 on pytest's): its
        lookups are hoisted and the watchdog is re-armed by a plain write (``Watchdog.rearm``)."""
        proc, out = self._start()
        stdin = proc.stdin
        assert stdin is not None
        watchdog = self.watchdog
        timeout = repo.GIT_READ_TIMEOUT  # looked up per batch: a test shortens it
        watchdog.arm(timeout, proc.kill)  # a stuck git: the read ends at end of file
        answer = self._answer
        self._unanswered = count = len(oids)
        sent = 0
        try:
            for i, oid in enumerate(oids):
                if sent <= i:
                    sent = min(count, i + WINDOW)
                    stdin.write("".join(f"{o}\n" for o in oids[i:sent]).encode("ascii"))
                watchdog.rearm(timeout)
                blob = answer(out, oid)
                watchdog.disarm()  # the caller may take its time with the blob: git is not stuck meanwhile
                self._unanswered -= 1
                yield blob
        finally:
            watchdog.disarm()

    def _answer(self, out: io.BufferedReader, oid: str) -> BlobData:
        fields = out.readline().split()
        if len(fields) != 3 or fields[1] != b"blob" or fields[0] != oid.encode("ascii"):
            return self._other(out, oid, fields)
        size = int(fields[2])
        if self.max_size and size > self.max_size:
            self._skip(out, size + 1)
            return BlobData(None, size, "too-large")
        data = out.read(size)
        if len(data) != size or out.read(1) != b"\n":
            raise ValueError("truncated cat-file answer")
        return BlobData(data, size)

    def _other(self, out: io.BufferedReader, oid: str, fields: list[bytes]) -> BlobData:
        """An answer that is not a blob's: the object is missing, or not a blob (drained), or git is out of
        step with the ids sent (the caller starts a new process)."""
        if len(fields) == 2 and fields[1] == b"missing":
            return BlobData(None, 0, "missing")
        if len(fields) != 3 or fields[0].decode("ascii") != oid:
            raise ValueError(f"unexpected cat-file answer {fields!r}")
        size = int(fields[2])
        self._skip(out, size + 1)
        return BlobData(None, size, "missing")

    @staticmethod
    def _skip(out: io.BufferedReader, count: int) -> None:
        while count > 0:
            chunk = out.read(min(count, _DISCARD_CHUNK))
            if not chunk:
                raise ValueError("truncated cat-file answer")
            count -= len(chunk)

    def close(self) -> None:
        if self._proc is not None:
            self._proc.kill()  # it may be half way through an answer nobody needs any more
            self._proc.wait()
            for pipe in (self._proc.stdin, self._out):
                if pipe is not None:
                    pipe.close()
        self._proc = self._out = None
        self._unanswered = 0
