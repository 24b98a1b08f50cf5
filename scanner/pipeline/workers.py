"""The worker pool for blob refs (git history): forked processes that read blobs through the source's
``BlobReader`` and detect in them, sending back only what has matches or problems.

Forked, so each worker inherits the compiled detector at no cost. Every version of a path goes to the same
worker, in walk order, so its reader can cut a later version to what changed (see ``submit`` for balance).

With a deadline, a worker reads no blob once it has passed (the rest of its batch comes back unread, counted),
and ``finish`` stops a worker that has not answered ``GRACE`` seconds after it.

Nothing waits forever: an exception while reading or detecting in a blob becomes that blob's outcome
(``scan-error``, naming the exception's type and place, never its message); a worker that dies (SIGKILL, the
OOM killer) or cannot start ends the scan with ``ScanAborted`` (exit 3) within ``POLL`` seconds; a pool that sends
nothing back for ``STALL`` seconds does too. Workers die with the parent (``PR_SET_PDEATHSIG``) and leave SIGINT
to it; ``close`` (the runner calls it in a ``finally``) stops them whatever ended the scan.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import signal
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from scanner import regexcode
from scanner.errors import ScanAborted
from scanner.lifeline import Terminated, child_setup, worker_signals
from scanner.pipeline.detection import ChunkDetector
from scanner.pipeline.refscan import Batch, Limits, RefOutcome, describe, scan_refs
from scanner.sources.base import BlobReader, BlobRef

REBALANCE = 128  # blobs a path's worker may be behind the least busy one before the path moves
# Blobs sent to each worker and not yet back, before the walk waits. What is sent when the walk ends cannot move,
# and blobs differ in cost (a version of a generated 2 MB file against a one-line fix): the worker left with more
# of it ends later, one core idle. At 1,024 for the pool (about 500 a worker) that tail was 0.19 s on pytest's
# history, the last worker busy 0.38 s after the walk ended; at 128 a worker, 0.065 and 0.09 s (medians of 4 runs,
# load 7-10). Two batches of ``BATCH`` still keep a worker fed while the parent reads ``git log``.
AHEAD = 128
# Blobs per message to a worker. Each message is a round trip: a pickle and a pipe write in the parent, a wake-up
# and an answer in the worker, and the parent's wake-up to read that answer (the walk waits for one whenever
# ``AHEAD`` is full). At 32, pytest's history took 1,303 batches and as many answers; at 64, half, and the
# parent's CPU with two workers is 0.05-0.12 s lower (docs/performance.md, "The parent's CPU with two workers").
BATCH = 64
GRACE = 0.5  # seconds past the deadline a worker may take to answer before it is stopped
POLL = 0.25  # seconds between two looks at whether every worker is still alive, while waiting for results
STALL = 300.0  # seconds without any answer from a busy pool before the scan is given up (a backstop)
_NO_LIMITS = Limits()


@dataclass(frozen=True, slots=True)
class WorkerEnd:
    """A worker's last message: ``problem`` is why it stopped early ("" when it ran out of work)."""

    worker: int
    problem: str = ""


# A worker's answer to one batch: (worker, *Batch)
_Item = tuple[int, int, int, list[RefOutcome], list[str], int]


def _worker_main(
    worker: int,
    make_reader: Callable[[], BlobReader],
    detector: ChunkDetector,
    tasks: Any,
    results: Any,
    limits: Limits,
    setup: Callable[[], None],
    others: tuple[Any, ...] = (),
) -> None:
    setup()  # lifeline.child_setup, made in the parent: this worker dies with it
    worker_signals()
    for queue_ in others:  # the other workers' task pipes: a dead worker's must have no reader left
        getattr(queue_, "_reader").close()  # noqa: B009
    reader: BlobReader | None = None
    try:
        reader = make_reader()
        while (fields := tasks.get()) is not None:
            refs = [BlobRef(*each) for each in fields]
            results.put((worker, *scan_refs(reader, detector, refs, limits)))
    except Exception as exc:  # the parent says so and stops the scan: no traceback from a worker
        results.put(WorkerEnd(worker, f"failed: {describe(exc)}"))
    except Terminated as exc:  # the parent stops the pool: end our git processes (and reap them), then go
        if reader is not None:
            reader.close()
        os._exit(128 + exc.signum)
    else:
        # A forked worker ends without atexit: the rule regexes it compiled are stored here, or every history
        # scan compiled them again in each worker (13-15 ms of CPU a worker on requests).
        regexcode.save()
        results.put(WorkerEnd(worker))
    if reader is not None:
        reader.close()


def forks(workers: int) -> bool:
    """Whether a pool of ``workers`` (0: one per core) forks processes, rather than scanning inline."""
    return (workers or os.cpu_count() or 1) > 1 and "fork" in multiprocessing.get_all_start_methods()


class WorkerPool:
    """Feeds refs to worker processes as the walk finds them; with one worker (or no fork), scans inline."""

    def __init__(
        self, make_reader: Callable[[], BlobReader], detector: ChunkDetector, workers: int, limits: Limits = _NO_LIMITS
    ) -> None:
        self.workers = workers or os.cpu_count() or 1
        self.limits = limits
        self.pending: list[Batch] = []
        self.buffers: list[list[BlobRef]] = [[] for _ in range(self.workers)]
        self.done: set[int] = set()  # workers whose last message has come
        self.last_answer = time.monotonic()
        self.in_flight = 0
        self.detector = detector
        self.inline: BlobReader | None = None
        if not forks(self.workers):
            self.inline = make_reader()
            return
        detector.detector.load_all()  # before the fork: the workers share one loaded Hyperscan database
        context = multiprocessing.get_context("fork")  # inherits the compiled detector at no cost
        self.results = context.Queue()
        # SimpleQueue: put() writes straight to the pipe; a Queue hands each batch to a feeder thread, whose
        # lock handoffs cost the walk about a second on a large history.
        self.queues = [context.SimpleQueue() for _ in range(self.workers)]
        self.assigned: dict[str, tuple[int, str]] = {}  # path → its worker, its last version
        self.outstanding = [0] * self.workers  # blobs sent and not yet reported back
        setup = child_setup()
        self.processes = [
            context.Process(
                target=_worker_main,
                args=(i, make_reader, detector, q, self.results, limits, setup, self._others(q)),
                daemon=True,
            )
            for i, q in enumerate(self.queues)
        ]
        for process in self.processes:
            process.start()
        for q in self.queues:  # only the worker reads: a dead one's pipe then fails a write instead of filling up
            getattr(q, "_reader").close()  # noqa: B009

    def _others(self, mine: Any) -> tuple[Any, ...]:
        return tuple(q for q in self.queues if q is not mine)

    def submit(self, ref: BlobRef) -> None:
        if self.inline is not None:
            self.buffers[0].append(ref)
            if len(self.buffers[0]) >= BATCH:
                self.pending.append(scan_refs(self.inline, self.detector, self.buffers[0], self.limits))
                self.buffers[0] = []
            return
        worker, last = self.assigned.get(ref.path, (-1, ""))
        least = self.outstanding.index(min(self.outstanding))
        if worker < 0 or self.outstanding[worker] > self.outstanding[least] + REBALANCE:
            # A new path goes to the least busy worker. A path whose worker has fallen far behind moves too, with
            # its last version's id: the new worker reads that version and cuts this one to what changed.
            if worker >= 0:
                ref = BlobRef(ref.oid, ref.path, ref.commit, ref.order, previous=last)
            worker = least
        self.assigned[ref.path] = (worker, ref.oid)
        self.outstanding[worker] += 1
        buffer = self.buffers[worker]
        buffer.append(ref)
        if len(buffer) >= BATCH:
            self._send(worker, buffer)
            self.in_flight += len(buffer)
            self.buffers[worker] = []

    def _account(self, item: _Item) -> Batch:
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
                    item = self._get(None) if self.in_flight > AHEAD * self.workers else self._get(0.0)
                except queue.Empty:
                    return
                if item is not None:
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
                self._send(worker, buffer)
                self.in_flight += len(buffer)
            self._send(worker, None)
        while len(self.done) < len(self.processes):
            try:
                item = self._get(self._wait())
            except queue.Empty:  # past the deadline and its grace: what the workers still hold is left unread
                yield self._stop()
                return
            if item is not None:
                yield self._account(item)
        for process in self.processes:
            process.join()

    def _send(self, worker: int, refs: list[BlobRef] | None) -> None:
        # Plain tuples: the pickler writes them in C; each BlobRef costs it a call to ``__reduce__`` (a batch of 64
        # pickles in 13 instead of 35 µs)
        fields = None if refs is None else [(r.oid, r.path, r.commit, r.order, r.previous) for r in refs]
        try:
            self.queues[worker].put(fields)
        except OSError:  # the worker is gone (its end of the pipe closed): say how
            self._check_alive(wait=True)
            try:  # it exited cleanly: its last message, still in the results pipe, says why (ScanAborted)
                while True:
                    self._get(timeout=1.0)
            except queue.Empty:
                pass
            raise ScanAborted(f"worker process {worker + 1} stopped taking work; the scan stopped") from None

    def _get(self, timeout: float | None) -> _Item | None:
        """The next batch (None: a worker's clean end), waiting up to ``timeout`` seconds (None: as long as the
        workers live and answer within ``STALL``); ``queue.Empty`` at the timeout."""
        end = None if timeout is None else time.monotonic() + timeout
        while True:
            step = POLL if end is None else min(POLL, max(0.0, end - time.monotonic()))
            try:
                item = self.results.get(timeout=step) if step else self.results.get_nowait()
            except queue.Empty:
                self._check_alive()
                if end is not None and time.monotonic() >= end:
                    raise
                if time.monotonic() - self.last_answer > STALL and self.in_flight:
                    raise ScanAborted(f"no worker process answered for {STALL:g}s; the scan stopped") from None
                continue
            self.last_answer = time.monotonic()
            if not isinstance(item, WorkerEnd):
                return item  # type: ignore[no-any-return]
            self.done.add(item.worker)
            if item.problem:
                raise ScanAborted(f"worker process {item.worker + 1} {item.problem}; the scan stopped")
            return None

    def _check_alive(self, wait: bool = False) -> None:
        """A worker that ended without its last message died (SIGKILL, the OOM killer): the scan cannot be
        complete, and waiting would be forever."""
        for worker, process in enumerate(self.processes):
            if wait:
                process.join(POLL)
            code = process.exitcode
            if worker in self.done or code in (None, 0):  # 0: its last message is still in the pipe
                continue
            how = f"was killed by {signal.Signals(-code).name}" if code < 0 else f"exited with status {code}"
            raise ScanAborted(
                f"worker process {worker + 1} (pid {process.pid}) {how} while reading blobs; the scan stopped"
            )

    def close(self) -> None:
        """Stop whatever still runs (after a signal, an error or a deadline): SIGTERM, then SIGKILL a second
        later. Harmless after ``finish``."""
        if self.inline is not None:
            self.inline.close()
            return
        for process in self.processes:
            if process.exitcode is None:
                process.terminate()
        end = time.monotonic() + 1.0
        for process in self.processes:
            process.join(max(0.0, end - time.monotonic()))
            if process.exitcode is None:
                process.kill()
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
