"""``run_request``: the source's items → detection (inline, or in the worker pool for blob refs) → the collector's
findings → one ``ScanResult``."""

from __future__ import annotations

import os
import time
from collections.abc import Generator, Iterator
from typing import TYPE_CHECKING

from scanner import startup
from scanner.models import Chunk, Finding, GitOrigin, ScanIssue, ScanResult, TfstateOrigin
from scanner.pipeline.collect import Collector, Hooks
from scanner.pipeline.detection import ChunkDetector, Detected
from scanner.pipeline.messages import MessageBatch
from scanner.pipeline.request import ScanRequest
from scanner.pipeline.setup import prepare
from scanner.pipeline.table import SOURCES, read_ahead
from scanner.sources.base import BlobReader, BlobRef, CommitMessage, Skips, Source, is_state_path

if TYPE_CHECKING:
    from scanner.pipeline.refscan import Batch
    from scanner.pipeline.workers import WorkerPool


def run_request(request: ScanRequest) -> ScanResult:
    config = request.config
    with read_ahead(request):  # a staged scan's git, a history's plan, run in a thread while the rules load
        ruleset, detector = request.prepared or prepare(config, request.engine)
        startup.settle()  # the long-lived part of the process is built: out of the collector's sight from here
        source = SOURCES[request.kind](request)
    policy = config.policy
    result = ScanResult(
        target=source.target,
        kind=request.kind,
        started=request.context.now,
        inline_markers=policy.inline_allow.markers if policy.inline_allow.enabled else (),
        bypass_channels=policy.bypass.channels if policy.bypass.enabled else (),
        incomplete_policy=policy.incomplete,
    )
    hooks = Hooks(source.resolve, source.requested_bypass, lambda text: bool(detector.detect(text.encode())))
    base = request.path_base or source.root or os.getcwd()
    run = _Run(
        request,
        source,
        ChunkDetector(detector, ruleset, request.regex_budget),
        Collector(ruleset, request, base, hooks, result),
    )
    started = time.perf_counter()
    try:
        run.items()
    finally:  # a signal, a dead worker, an error: no worker or git process outlives the scan
        run.close()
    if run.stopped or run.late:
        left = [f"{run.late} blobs found but not scanned"] if run.late else []
        result.incomplete = "the deadline passed: " + ", ".join([*left, "the rest not read"] if run.stopped else left)
        result.stats.skipped["deadline"] += run.late
    result.findings[:] = first_occurrences(run.in_order(request.kind), request.kind in _WALKS)
    if request.validation is not None:  # imported only then: threads and HTTP are no cost of a commit hook
        from scanner.pipeline.validation import validated

        result.findings[:] = validated(result.findings, run.collector.ruleset, request, run.collector)
    if request.policy_change is not None:  # a range whose policy file changed: its module (a dataclass) only then
        from scanner.pipeline.policychange import RULE, policy_change_finding

        verdict = request.config.policy.policy_change
        result.findings.append(policy_change_finding(request.policy_change, verdict, request.context.fingerprint_key))
        result.rule_infos[RULE.id] = RULE
    result.stats.duration_s = time.perf_counter() - started
    result.target_detail = source.detail()
    if request.baseline is not None:
        result.baseline = request.baseline.path
    return result


_WALKS = frozenset({"history", "range", "push"})


class _Run:
    """One scan's loop: chunks are detected here, blob refs in the worker pool; findings keep their order."""

    def __init__(self, request: ScanRequest, source: Source, detector: ChunkDetector, collector: Collector) -> None:
        self.request, self.source, self.detector, self.collector = request, source, detector, collector
        result = collector.result
        self.skips = Skips(result.issues, result.stats)
        self.messages = MessageBatch(detector, result.stats, self.emit)
        self.orders: dict[int, int] = {}  # id(finding) → the order of the chunk or blob it came from
        self.pool: WorkerPool | None = None
        self.reading: Iterator[Chunk | BlobRef | CommitMessage] | None = None
        self.refs = 0
        self.batch = 1  # refs between two looks at the workers' results (the pool's batch, once it is made)
        self.late = 0  # blobs left unscanned because the deadline passed
        self.stopped = False  # the source was not read to the end because the deadline passed
        self.ruleset_hash = collector.result.ruleset_hash

    def items(self) -> None:
        deadline = self.request.deadline
        self._start_early()
        self.reading = items = self.source.items(self.skips)
        for item in items:
            if deadline and time.monotonic() >= deadline:
                self._stop_reading(items)
                break
            if isinstance(item, BlobRef):
                self.submit(item)
            elif isinstance(item, CommitMessage):
                self.messages.add(item)
            else:
                self.chunk(item)
        self.messages.flush()
        if self.pool is not None:
            self.collect(self.pool.finish())

    def _start_early(self) -> None:
        """A history walked by git with a forking pool: git orders the commits (all of them before it prints the
        first: 10-30 ms) while this process loads the Hyperscan database and forks the pool, instead of after."""
        request = self.request
        if request.kind != "history" or request.known_clean is not None or not _forks(request.workers):
            return
        if getattr(self.source, "start_walk", lambda: False)():
            self._open_pool()

    def close(self) -> None:
        """The source's reading ends (its git processes with it) and the worker pool stops."""
        if isinstance(self.reading, Generator):
            self.reading.close()
        if self.pool is not None:
            self.pool.close()
        close = getattr(self.source, "close", None)  # a source's own git process (CommitSource's commit reader)
        if close is not None:
            close()

    def _stop_reading(self, items: Iterator[Chunk | BlobRef | CommitMessage]) -> None:
        """The deadline passed: the source is read no further (its git processes end), and that is said even
        when no blob was waiting."""
        if isinstance(items, Generator):
            items.close()
        self.stopped = True
        self.collector.result.issues.append(
            ScanIssue(self.source.target, "deadline", "the deadline passed before the source was read to the end")
        )

    def in_order(self, kind: str) -> list[Finding]:
        """The findings in the source's order: a walk's by commit (oldest first), then path and line; an image's
        by layer (the config first), however the source read the layers."""
        findings = self.collector.result.findings
        orders = self.orders
        if kind in _WALKS:
            return sorted(findings, key=lambda f: (orders.get(id(f), -1), f.path, f.match.line))
        if kind == "image":
            return sorted(findings, key=lambda f: orders.get(id(f), -1))
        return findings

    def chunk(self, chunk: Chunk) -> None:
        stats = self.skips.stats
        stats.items_scanned += 1
        stats.bytes_scanned += len(chunk.content)
        detected = self.detector.detect(chunk)
        if detected.timed_out:
            self.skips.skip(chunk.origin.path, "regex-timeout", detected.timed_out)
        if detected.not_structured and not isinstance(chunk.origin, GitOrigin):
            why = f"scanned as plain text, not as state: {detected.not_structured}"
            self.skips.skip(chunk.origin.path, "invalid-state", why)
        self.emit(chunk, detected)

    def emit(self, chunk: Chunk, detected: Detected) -> None:
        for origin, matches in detected.groups:
            for finding in self.collector.add(origin, matches):
                self.orders[id(finding)] = chunk.order

    def submit(self, ref: BlobRef) -> None:
        request = self.request
        memo = request.known_clean
        if memo is not None and not is_state_path(ref.path) and memo.known_clean(self.ruleset_hash, ref.oid):
            self.skips.stats.skipped["known-clean"] += 1
            return
        pool = self.pool or self._open_pool()  # made at the first ref (a history's, before): the walk is planned
        self.refs += 1
        pool.submit(ref)
        if self.refs % self.batch == 0:  # results are collected once per batch's worth of refs
            self.collect(pool.ready())

    def _open_pool(self) -> WorkerPool:
        from scanner.pipeline.refscan import Limits  # not on the commit hook's path
        from scanner.pipeline.workers import BATCH, WorkerPool

        request, reader = self.request, self.source.reader
        limits = Limits(request.deadline, request.known_clean is not None)
        self.pool = WorkerPool(lambda: _required(reader()), self.detector, request.workers, limits)
        self.batch = BATCH
        return self.pool

    def collect(self, batches: Iterator[Batch]) -> None:
        stats = self.skips.stats
        progress = self.request.progress
        for blobs, total, outcomes, clean, late in batches:
            stats.items_scanned += blobs - late
            stats.bytes_scanned += total
            self.late += late
            self.collector.result.clean_blobs.extend(clean)
            if progress is not None:
                progress(blobs, self.refs)
            for outcome in outcomes:
                ref = outcome.ref
                if outcome.skipped:
                    stats.skipped[outcome.skipped] += 1
                    if outcome.skipped != "binary":
                        self.skips.issues.append(
                            ScanIssue(f"{ref.path}@{ref.commit[:12]}", outcome.skipped, outcome.message)
                        )
                for origin, matches in outcome.groups:
                    for finding in self.collector.add(origin, matches):
                        self.orders[id(finding)] = ref.order


def _forks(workers: int) -> bool:
    from scanner.pipeline.workers import forks  # not on the commit hook's path

    return forks(workers)


def _required(reader: BlobReader | None) -> BlobReader:
    if reader is None:
        raise TypeError("a source that yields blob refs must give a reader")
    return reader


def first_occurrences(findings: list[Finding], dedupe_paths: bool) -> list[Finding]:
    """One finding per rule, secret and place: the same secret in later versions of a file (a walk) or of a
    state (``TfstateOrigin.series``) is one leak, reported where it first appeared."""
    kept: dict[tuple[str, ...], Finding] = {}
    out: list[Finding] = []
    for finding in findings:
        origin = finding.origin
        if isinstance(origin, GitOrigin) and dedupe_paths:
            place: tuple[str, ...] = (origin.path,)
        elif isinstance(origin, TfstateOrigin) and origin.series:
            place = (origin.series, origin.address, origin.attribute)
        else:
            out.append(finding)
            continue
        key = (finding.rule.id, finding.secret_id, *place)
        if key not in kept:
            kept[key] = finding
            out.append(finding)
    return out
