"""What every source shares: the ``Source`` protocol, the issue collector and the content helpers.

A source reads; it never detects, decides or reports. It yields ``Chunk``s (content and where it came from) and,
for git history, ``BlobRef``s that the pipeline's worker processes turn into chunks with the source's
``BlobReader``. Whatever it could not read (too large, binary, unreadable, corrupt) goes to ``Skips`` and the scan
goes on; only a problem with the request itself (a path that does not exist, a file that is not a state) stops
it, as an ``InputError``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from scanner import digests
from scanner.formats.sniff import sniff
from scanner.models import Bypass, Chunk, GitOrigin, Origin, ScanIssue, ScanStats, Structure, Target
from scanner.sources.textcodec import is_binary

__all__ = ["is_binary"]  # re-exported: the binary test lives with the text decoding (``textcodec``)

DEFAULT_MAX_FILE_SIZE = 10 * 1024 * 1024


@dataclass
class Skips:
    """Collects what a source did not scan; shared by every source."""

    issues: list[ScanIssue] = field(default_factory=list)
    stats: ScanStats = field(default_factory=ScanStats)

    def skip(self, path: str, reason: str, message: str, listed: bool = True) -> None:
        self.stats.skipped[reason] += 1
        if listed:
            self.issues.append(ScanIssue(path, reason, message))


@dataclass(frozen=True, slots=True)
class BlobRef:
    """A git blob to be read in a worker process: its id, the path and commit that introduced it, and its place
    in the walk (findings are kept oldest first). ``previous``: the path's last version, set when the path moves
    to another worker (that worker has not read it: it reads it to cut this one to what changed)."""

    oid: str
    path: str
    commit: str
    order: int
    previous: str = ""

    def __reduce__(self) -> tuple[type[BlobRef], tuple[str, str, str, int, str]]:
        # A plain tuple pickles several times faster than a slotted dataclass's default state (which calls
        # ``dataclasses.fields`` for every object). Refs go to a worker as bare tuples (``workers._send``); this
        # is for those that come back in outcomes and for anything else that pickles one.
        return BlobRef, (self.oid, self.path, self.commit, self.order, self.previous)


MESSAGE_PATH = "<commit message>"


@dataclass(frozen=True, slots=True)
class CommitMessage:
    """A commit's message as a walk yields it (each distinct message once). The pipeline detects messages in
    batches (``pipeline.messages``) and makes a ``Chunk`` only of one that a match touches: a chunk and an origin
    for each message cost the parent about 2 µs (12 ms of its CPU on requests' 6,057 messages, 35 on pytest's)."""

    content: bytes
    commit: str
    order: int  # its commit's place in the walk

    def chunk(self) -> Chunk:
        return Chunk(self.content, GitOrigin(MESSAGE_PATH, self.commit, where="commit-message"), order=self.order)


@dataclass(frozen=True, slots=True)
class BlobRead:
    """What a ``BlobReader`` made of one ``BlobRef``: the chunks to detect in (a first version whole, a later
    one as its changed regions), or the issue that kept it from being read; ``size`` is the blob's size."""

    ref: BlobRef
    size: int
    chunks: tuple[Chunk, ...] = ()
    skipped: str = ""  # reason: binary, too-large, missing-object
    message: str = ""
    # Its one chunk is the whole blob, read as plain text: no match there means the content is clean wherever it
    # appears (a changed region, or a state file read as such, says nothing about the rest).
    whole: bool = False


class BlobReader(Protocol):
    """Reads blobs in one worker process; made after the fork (a pygit2 handle or a pipe must not cross it).

    Every version of a path goes to the same reader in walk order, so it can turn a later version into the
    regions that changed since the one before.
    """

    def read(self, refs: Sequence[BlobRef]) -> Iterator[BlobRead]:
        """One ``BlobRead`` per ref, in order."""
        ...

    def close(self) -> None: ...


class Source(Protocol):
    """A scan target, read. Runs in the main process; the pipeline owns detection, policy and workers."""

    target: Target
    root: str  # what finding paths are relative to (a repository's top directory); "" = the working directory

    def items(self, skips: Skips) -> Iterator[Chunk | BlobRef | CommitMessage]:
        """Content to scan, in order; what could not be read goes to ``skips``."""
        ...

    def detail(self) -> str:
        """What was read, for the report (e.g. "6729 commits, 8238 unique blobs"); asked after ``items``."""
        ...

    def resolve(self, origin: Origin) -> Origin:
        """The full provenance of an origin that has a finding (git looks up commit metadata only then)."""
        ...

    def reader(self) -> BlobReader | None:
        """Turns ``BlobRef``s into chunks in a worker process; None for a source that yields no refs."""
        ...

    def requested_bypass(self, origin: Origin) -> Bypass | None:
        """A bypass the content itself asks for (a commit's ``Leakstop-Bypass:`` trailer); the policy decides."""
        ...


class PlainSource:
    """Defaults for a source that yields only chunks, each with its whole provenance."""

    target: Target = "files"
    root: str = ""

    def detail(self) -> str:
        return ""

    def resolve(self, origin: Origin) -> Origin:
        return origin

    def reader(self) -> BlobReader | None:
        return None

    def requested_bypass(self, origin: Origin) -> Bypass | None:
        return None


def blob_id(content: bytes) -> str:
    return digests.sha1(b"blob %d\0" % len(content) + content).hexdigest()


def is_state_path(path: str) -> bool:
    """A Terraform state file by name: ``*.tfstate``, ``*.tfstate.backup`` (workspaces' states sit in
    ``terraform.tfstate.d/<ws>/``). ``.terraform/terraform.tfstate`` is backend settings, not state."""
    if not path.endswith((".tfstate", ".tfstate.backup")):
        return False
    return path != ".terraform/terraform.tfstate" and not path.endswith("/.terraform/terraform.tfstate")


def structure_of(path: str, data: bytes) -> Structure:
    """How a file is analysed besides the rules: state by name, plans and other infrastructure documents
    (Pulumi exports, CloudFormation, Kubernetes manifests, Helm values) by content (``formats.sniff``)."""
    if is_state_path(path):
        return "tfstate"
    found = sniff(path, data)
    return found if found in _STRUCTURES else ""


_STRUCTURES: frozenset[Structure] = frozenset({"tfstate", "pulumi", "cloudformation", "kubernetes", "helm-values"})


def printable_path(path: str) -> str:
    """A path fit for reports: bytes that are not UTF-8 (old Latin-1 names arrive as lone surrogates from
    ``os`` and git) shown as ``\\xNN`` escapes, so every report stays valid UTF-8."""
    try:
        path.encode("utf-8")
        return path
    except UnicodeEncodeError:
        return path.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
