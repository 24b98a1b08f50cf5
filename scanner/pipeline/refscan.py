"""What a worker does with a batch of blob refs: read each through the source's ``BlobReader``, detect in its
chunks, and keep only what is worth sending back (matches, problems) and, when asked, the ids of blobs read whole
and found clean. The pool (``workers``) runs it in forked processes, or inline with one worker.

An exception while reading or detecting in a blob becomes that blob's outcome (``scan-error``, naming the
exception's type and place, never its message); with a deadline, no blob is read once it has passed.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

from scanner.pipeline.detection import ChunkDetector, Group
from scanner.sources.base import BlobRead, BlobReader, BlobRef


@dataclass(frozen=True, slots=True)
class RefOutcome:
    """A blob worth sending back: its matches by origin, or why it was not scanned."""

    ref: BlobRef
    groups: tuple[Group, ...] = ()
    skipped: str = ""
    message: str = ""


@dataclass(frozen=True)
class Limits:
    """When workers stop (``time.monotonic()``, 0 = never), and whether they name the blobs they found clean."""

    deadline: float = 0.0
    report_clean: bool = False


def describe(exc: BaseException) -> str:
    """An exception's type and where it was raised, never its message (it may hold a secret). ``traceback``
    (with ``linecache`` and ``tokenize``: 2-4 ms) is imported here, not on every history scan's start."""
    import traceback

    frames = traceback.extract_tb(exc.__traceback__)
    where = f" at {os.path.basename(frames[-1].filename)}:{frames[-1].lineno}" if frames else ""
    return f"{type(exc).__name__}{where}"


# (blobs handled, bytes scanned, outcomes worth reporting, ids of blobs read whole with no match, blobs left
# unread because the deadline passed)
Batch = tuple[int, int, list[RefOutcome], list[str], int]


def scan_refs(reader: BlobReader, detector: ChunkDetector, refs: list[BlobRef], limits: Limits = Limits()) -> Batch:
    total = 0
    out: list[RefOutcome] = []
    clean: list[str] = []
    deadline = limits.deadline
    if deadline and time.monotonic() >= deadline:
        return len(refs), 0, out, clean, len(refs)
    done = 0
    reads = reader.read(refs)
    while done < len(refs):
        try:
            read = next(reads)
        except StopIteration:
            break
        except Exception as exc:  # the reader failed on this blob (and its generator is over): the rest go on
            out.append(_failed(refs[done], "read", exc))
            done += 1
            reads = reader.read(refs[done:])
            continue
        done += 1
        try:
            total += _outcome(detector, read, limits, out, clean)
        except Exception as exc:
            out.append(_failed(read.ref, "scan", exc))
        if deadline and time.monotonic() >= deadline:
            break
    return len(refs), total, out, clean, len(refs) - done


def _failed(ref: BlobRef, step: str, exc: Exception) -> RefOutcome:
    why = f"cannot {step} blob {ref.oid}: {describe(exc)} (a bug: please report it)"
    return RefOutcome(ref, skipped="scan-error", message=why)


def _outcome(detector: ChunkDetector, read: BlobRead, limits: Limits, out: list[RefOutcome], clean: list[str]) -> int:
    """What one blob read gives: its outcome (in ``out``) or its id (in ``clean``); the bytes scanned."""
    if read.skipped:
        out.append(RefOutcome(read.ref, skipped=read.skipped, message=read.message))
        return 0
    groups, timed_out = _groups(detector, read)
    if timed_out:
        out.append(RefOutcome(read.ref, groups, skipped="regex-timeout", message=timed_out))
    elif groups:
        out.append(RefOutcome(read.ref, groups))
    elif read.whole and limits.report_clean:
        clean.append(read.ref.oid)
    return read.size


def _groups(detector: ChunkDetector, read: BlobRead) -> tuple[tuple[Group, ...], str]:
    """The blob's groups, and why detection stopped early in one of its chunks ("" when it did not). One loop, no
    generators: it runs once per blob of a history, and most blobs have one chunk and no match."""
    groups: tuple[Group, ...] = ()
    timed_out = ""
    for chunk in read.chunks:
        detected = detector.detect(chunk)
        if detected.groups:
            groups += detected.groups
        if detected.timed_out and not timed_out:
            timed_out = detected.timed_out
    return groups, timed_out
