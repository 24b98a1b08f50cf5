"""The worker pool for blob refs (git history): forked processes that read blobs through the source's
``BlobReader`` and detect in them, sending back only what has matches or problems.

Forked, so each worker inherits the compiled detector at no cost. Every version of a path goes to the same
worker, in walk order, so its reader can cut a later version to what changed (see ``submit`` for balance).

With a deadline, a worker reads no blob once it has passed (the rest of its batch comes back unread, counted),
and ``finish`` stops a worker that has not answered ``GRACE`` seconds after it.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from scanner.pipeline.detection import ChunkDetector, Group
from scanner.sources.base import BlobRead, BlobReader, BlobRef

REBALANCE = 128  # blobs a path's worker may be behind the least busy one before the path moves
AHEAD = 1024  # blobs sent to workers and not yet back, before the walk waits
BATCH = 32  # blobs per message to a worker: amortises the round trip, small enough to keep both cores busy
GRACE = 0.5  # seconds past the deadline a worker may take to answer before it is stopped


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
    for read in reader.read(refs):
        done += 1
        if read.skipped:
            out.append(RefOutcome(read.ref, skipped=read.skipped, message=read.message))
        else:
            total += read.size
            groups, timed_out = _groups(detector, read)
            if timed_out:
                out.append(RefOutcome(read.ref, groups, skipped="regex-timeout", message=timed_out))
            elif groups:
                out.append(RefOutcome(read.ref, groups))
            elif read.whole and limits.report_clean:
                clean.append(read.ref.oid)
        if deadline and time.monotonic() >= deadline:
            break
    return len(refs), total, out, clean, len(refs) - done


def _groups(detector: ChunkDetector, read: BlobRead) -> tuple[tuple[Group, ...], str]:
    """The blob's groups, and why detection stopped early in one of its chunks ("" when it did not)."""
    detected = [detector.detect(chunk) for chunk in read.chunks]
    timed_out = next((d.timed_out for d in detected if d.timed_out), "")
    return tuple(group for d in detected for group in d.groups), timed_out


def _worker_main(
    worker: int,
    make_reader: Callable[[], BlobReader],
    detector: ChunkDetector,
    tasks: Any,
    results: Any,
    limits: Limits,
) -> None:
    reader = make_reader()
    while (refs := tasks.get()) is not None:
        results.put((worker, *scan_refs(reader, detector, refs, limits)))
    reader.close()
    results.put(None)


class WorkerPool:
    """Feeds refs to worker processes as the walk finds them; with one worker (or no fork), scans inline."""

    def __init__(
        self, make_reader: Callable[[], BlobReader], detector: ChunkDetector, workers: int, limits: Limits = Limits()
    ) -> None:
        self.workers = workers or os.cpu_count() or 1
        self.limits = limits
        self.pending: list[Batch] = []
        self.buffers: list[list[BlobRef]] = [[] for _ in range(self.workers)]
        self.workers_done = 0
        self.in_flight = 0
        self.detector = detector
        self.inline: BlobReader | None = None
        if self.workers <= 1 or "fork" not in multiprocessing.get_all_start_methods():
            self.inline = make_reader()
            return
        context = multiprocessing.get_context("fork")  # inherits the compiled detector at no cost
        self.results = context.Queue()
        # SimpleQueue: put() writes straight to the pipe; a Queue hands each batch to a feeder thread, whose
        # lock handoffs cost the walk about a second on a large history.
        self.queues = [context.SimpleQueue() for _ in range(self.workers)]
        self.assigned: dict[str, int] = {}
        self.outstanding = [0] * self.workers  # blobs sent and not yet reported back
        self.processes = [
            context.Process(target=_worker_main, args=(i, make_reader, detector, q, self.results, limits), daemon=True)
            for i, q in enumerate(self.queues)
        ]
        for process in self.processes:
            process.start()

    def submit(self, ref: BlobRef) -> None:
        if self.inline is not None:
            self.buffers[0].append(ref)
            if len(self.buffers[0]) >= BATCH:
                self.pending.append(scan_refs(self.inline, self.detector, self.buffers[0], self.limits))
                self.buffers[0] = []
            return
        worker = self.assigned.get(ref.path)
        least = self.outstanding.index(min(self.outstanding))
        if worker is None or self.outstanding[worker] > self.outstanding[least] + REBALANCE:
            # A new path goes to the least busy worker. A path whose worker has fallen far behind moves too:
            # the new worker has no previous version of it, so it scans this one whole, a small price for
            # keeping both cores busy.
            worker = self.assigned[ref.path] = least
        self.outstanding[worker] += 1
        buffer = self.buffers[worker]
        buffer.append(ref)
        if len(buffer) >= BATCH:
            self.queues[worker].put(buffer)
            self.in_flight += len(buffer)
            self.buffers[worker] = []

    def _account(self, item: tuple[int, int, int, list[RefOutcome], list[str], int]) -> Batch:
        worker, blobs, total, results, clean, late = item
        self.outstanding[worker] -= blobs
        self.in_flight -= blobs
        return blobs, total, results, clean, late

    def ready(self) -> Iterator[Batch]:
        """Results already back; waits only while the walk is too far ahead of the workers, so that a path
        is placed knowing how busy each worker really is."""
        yield from self.pending
        self.pending.clear()
        if self.inline is None:
            while True:
                try:
                    item = self.results.get() if self.in_flight > AHEAD else self.results.get_nowait()
                except queue.Empty:
                    return
                if item is None:
                    self.workers_done += 1
                else:
                    yield self._account(item)

    def finish(self) -> Iterator[Batch]:
        """The remaining results, waiting for the workers to end."""
        if self.inline is not None:
            if self.buffers[0]:
                self.pending.append(scan_refs(self.inline, self.detector, self.buffers[0], self.limits))
            self.inline.close()
        yield from self.pending
        self.pending.clear()
        if self.inline is not None:
            return
        for worker, buffer in enumerate(self.buffers):
            if buffer:
                self.queues[worker].put(buffer)
                self.in_flight += len(buffer)
            self.queues[worker].put(None)
        while self.workers_done < len(self.processes):
            try:
                item = self.results.get(timeout=self._wait())
            except queue.Empty:  # past the deadline and its grace: what the workers still hold is left unread
                yield self._stop()
                return
            if item is None:
                self.workers_done += 1
            else:
                yield self._account(item)
        for process in self.processes:
            process.join()

    def _wait(self) -> float | None:
        """How long ``finish`` waits for the next answer: without a deadline, as long as it takes."""
        if not self.limits.deadline:
            return None
        return max(0.0, self.limits.deadline + GRACE - time.monotonic())

    def _stop(self) -> Batch:
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            process.join()
        late, self.in_flight = self.in_flight, 0
        return late, 0, [], [], late
