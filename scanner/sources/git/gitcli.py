"""A history scan's start without libgit2: the repository, its tips and its annotated tags from the ``git`` command
line, and the few commits with findings from one ``git cat-file --batch``.

Importing pygit2 (with cffi and ssl) took 40-110 ms of a history scan's serial start, in the parent and so before
the first worker; on requests' history (about 0.9 s) that is several per cent of the wall time. ``git rev-parse`` and
``git for-each-ref`` cost a few milliseconds each. Anything unusual (a bare repository, a path
inside ``.git``, an object format other than SHA-1, a stash, a tag of a tag, a ref git warns about, a commit or tag
with an ``encoding`` header) answers None here, and the caller opens the repository with pygit2 as before: the plain
case is fast, every other case keeps libgit2's behaviour.

What is parsed mirrors libgit2 (tests compare both on the same objects): a signature is read only in the shape git
writes (``Name <email> seconds +hhmm``, name and email trimmed; any other is left to libgit2); a commit's message is
its body without leading newlines; text is UTF-8 with bad bytes replaced, as pygit2 decodes it. One difference
remains: a ref to a commit libgit2 cannot parse at all (a malformed signature) was skipped as unresolvable; git walks
it, as it already did when another tip reached it.
"""

from __future__ import annotations

import os
import re
import select
import subprocess
import weakref
from collections.abc import Sequence
from dataclasses import dataclass

from scanner.lifeline import guarded
from scanner.sources.git import repo

_STAMP = re.compile(rb" (\d{1,18}) ([+-])(\d{4})")  # after the email: seconds and zone, as git writes them
_NO_COMMIT = 1  # ``rev-parse --verify -q HEAD^{commit}``'s status when HEAD is unborn (the other lines are printed)
ASKED_AT_ONCE = 1024  # ids written before their answers are read: 41 KB, under a pipe's 64 KB


@dataclass(frozen=True)
class Location:
    """What ``git rev-parse`` says of a working tree: paths end with ``/``, as pygit2's ``path`` and ``workdir``."""

    path: str  # the git directory
    workdir: str
    shallow: bool
    head: str  # HEAD's commit ("" when HEAD is unborn or names no commit)


@dataclass(frozen=True)
class Tip:
    """A commit to walk from, by id: what the walk needs of a pygit2 commit."""

    id: str


@dataclass(frozen=True)
class Person:
    """A signature: pygit2's ``Signature`` fields that reports use."""

    name: str
    email: str
    time: int
    offset: int  # minutes east of UTC


@dataclass(frozen=True)
class CommitInfo:
    """What reports take from a commit: pygit2's ``Commit`` fields by the same names."""

    id: str
    author: Person
    committer: Person
    message: str


@dataclass(frozen=True)
class TagInfo:
    """An annotated tag: pygit2's ``Tag`` fields by the same names (the id of what it tags as ``target``)."""

    target: str
    tagger: Person | None
    message: str


REFS = "--format=%(objecttype) %(objectname) %(*objecttype) %(*objectname) %(refname)"


LOCATE = ["rev-parse", "--absolute-git-dir", "--is-shallow-repository", "--show-object-format", "--show-toplevel",
           "--verify", "-q", "HEAD^{commit}"]  # fmt: skip
Answer = tuple[int, bytes, bytes]  # a git process's status, output and errors


def location(status: int, out: bytes) -> Location | None:
    """The working tree ``git rev-parse LOCATE`` found, from its status and output; None for anything but a SHA-1
    working tree."""
    lines = out.decode("utf-8", "surrogateescape").splitlines()
    if status not in (0, _NO_COMMIT) or len(lines) != 4 + (status == 0) or lines[2] != "sha1":
        return None
    head = lines[4] if status == 0 else ""
    return Location(lines[0].rstrip("/") + "/", lines[3].rstrip("/") + "/", lines[1] == "true", head)


def tips_of(answer: Answer, head: str) -> tuple[list[Tip], list[str]] | None:
    """From ``git for-each-ref REFS``'s answer: the commits every ref but notes points at (a tag peeled once), then
    HEAD's, each once, in ``for-each-ref``'s order (refname), and the annotated tags' ids; None when libgit2 is to
    decide (see the module's docstring)."""
    status, out, err = answer
    if status != 0 or err:
        return None
    tips: dict[str, Tip] = {}
    tags: list[str] = []
    for line in out.decode("utf-8", "surrogateescape").splitlines():
        kind, oid, peeled_kind, peeled, name = line.split(" ", 4)
        if name == "refs/stash" or peeled_kind == "tag":  # older stash entries, a tag of a tag: libgit2's job
            return None
        if name.startswith("refs/tags/") and kind == "tag":
            tags.append(oid)
        if name.startswith("refs/notes/"):
            continue
        commit = oid if kind == "commit" else peeled if peeled_kind == "commit" else ""
        if commit:
            tips.setdefault(commit, Tip(commit))
    if head:
        tips.setdefault(head, Tip(head))
    return (list(tips.values()), tags) if tips else None


class Objects:
    """Commits and tags read through one ``git cat-file --batch``, started at the first question (findings are
    few: most scans never start it), each commit parsed once. The process ends with ``close``, or when this object
    is collected or the interpreter exits (a caller that never closes leaves no process behind)."""

    def __init__(self, git_dir: str, env: dict[str, str]) -> None:
        self.git_dir, self.env = git_dir, env
        self._proc: subprocess.Popen[bytes] | None = None
        self._end: weakref.finalize[[subprocess.Popen[bytes]], Objects] | None = None
        self._commits: dict[str, CommitInfo | None] = {}
        self._buffer = b""

    def raw(self, oids: Sequence[str]) -> list[tuple[str, bytes]]:
        """Each object's type and content ("missing" and b"" when git has none)."""
        if not oids:
            return []
        if self._proc is None:
            argv, setup = guarded(["git", "--git-dir", self.git_dir, "cat-file", "--batch"])
            self._proc = subprocess.Popen(
                argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=self.env, preexec_fn=setup,  # noqa: PLW1509
            )  # fmt: skip
            self._end = weakref.finalize(self, _end, self._proc)
        out: list[tuple[str, bytes]] = []
        for start in range(0, len(oids), ASKED_AT_ONCE):
            out += self._answers(oids[start : start + ASKED_AT_ONCE])
        return out

    def _answers(self, oids: Sequence[str]) -> list[tuple[str, bytes]]:
        """At most ``ASKED_AT_ONCE`` ids are written before their answers are read: the write always fits in the
        empty pipe, so git never waits for us to read while we wait for it to read (3,000 annotated tags hung)."""
        assert self._proc is not None and self._proc.stdin is not None
        try:
            self._proc.stdin.write("".join(f"{oid}\n" for oid in oids).encode("ascii"))
            self._proc.stdin.flush()
        except OSError:
            return [("missing", b"")] * len(oids)
        out = []
        for _ in oids:
            header = self._take(None).split()
            out.append(
                (header[1].decode("ascii"), self._take(int(header[2]) + 1)[:-1])
                if len(header) == 3
                else ("missing", b"")
            )
        return out

    def _take(self, size: int | None) -> bytes:
        """The next ``size`` bytes (None: through the next newline) of git's answers; b"" once git has ended or
        said nothing for ``GIT_READ_TIMEOUT`` seconds (then it is stopped: libgit2 answers the rest)."""
        assert self._proc is not None and self._proc.stdout is not None
        fd = self._proc.stdout.fileno()
        while True:
            end = self._buffer.find(b"\n") + 1 if size is None else size * (len(self._buffer) >= size)
            if end:
                taken, self._buffer = self._buffer[:end], self._buffer[end:]
                return taken
            chunk = os.read(fd, 1 << 16) if select.select([fd], [], [], repo.GIT_READ_TIMEOUT)[0] else b""
            if not chunk:
                self._proc.kill()
                return b""
            self._buffer += chunk

    def commit(self, oid: str) -> CommitInfo | None:
        if oid not in self._commits:
            kind, body = self.raw([oid])[0]
            self._commits[oid] = parse_commit(oid, body) if kind == "commit" else None
        return self._commits[oid]

    def tags(self, oids: Sequence[str]) -> list[TagInfo | None]:
        return [parse_tag(body) if kind == "tag" else None for kind, body in self.raw(oids)]

    def close(self) -> None:
        if self._end is not None:
            self._end()
        self._proc = self._end = None


def _end(proc: subprocess.Popen[bytes]) -> None:
    for pipe in (proc.stdin, proc.stdout):
        if pipe is not None:
            pipe.close()
    proc.wait()


def _headers(body: bytes) -> tuple[dict[bytes, bytes], bytes] | None:
    """The first value of each header and the message; None with an ``encoding`` header (pygit2 decodes by it)."""
    head, _, message = body.partition(b"\n\n")
    headers: dict[bytes, bytes] = {}
    for line in head.split(b"\n"):
        if line[:1] != b" ":  # a continuation line (a signature's) belongs to the header before it
            name, _, value = line.partition(b" ")
            headers.setdefault(name, value)
    return None if b"encoding" in headers else (headers, message)


def person(value: bytes) -> Person | None:
    """``Name <email> seconds +hhmm`` as libgit2 reads it (name and email trimmed); None for any other shape (git
    writes no other): libgit2 then reads the object, with its own rules and errors."""
    start, end = value.rfind(b"<"), value.rfind(b">")
    name, email = value[: max(start, 0)], value[start + 1 : end]
    stamp = _STAMP.fullmatch(value[end + 1 :]) if 0 < start < end else None
    if stamp is None or name[-1:] != b" " or any(c in name or c in email for c in (b"<", b">")):
        return None  # libgit2 cuts the character before "<" and reads brackets in its own way
    hours, minutes = divmod(int(stamp[3]), 100)
    if hours > 14 or minutes > 59:  # libgit2 keeps no such zone
        return None
    offset = (hours * 60 + minutes) * (-1 if stamp[2] == b"-" else 1)
    return Person(_text(name.strip()), _text(email.strip()), int(stamp[1]), offset)


def parse_commit(oid: str, body: bytes) -> CommitInfo | None:
    parsed = _headers(body)
    if parsed is None or b"author" not in parsed[0] or b"committer" not in parsed[0]:
        return None
    headers, message = parsed
    author, committer = person(headers[b"author"]), person(headers[b"committer"])
    if author is None or committer is None:
        return None
    return CommitInfo(oid, author, committer, _text(message.lstrip(b"\n")))


def parse_tag(body: bytes) -> TagInfo | None:
    parsed = _headers(body)
    if parsed is None or b"object" not in parsed[0]:
        return None
    headers, message = parsed
    tagger = person(headers[b"tagger"]) if b"tagger" in headers else None
    if b"tagger" in headers and tagger is None:
        return None
    return TagInfo(headers[b"object"].decode("ascii"), tagger, _text(message))


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", "replace")
