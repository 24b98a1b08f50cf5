"""Git scans: history, ranges, pushes and staged changes, run through the detector and collected as findings.

The walk (``sources.git.walk_commits``) streams new blobs to worker processes (one per core, forked so they
inherit the compiled detector). Each worker reads blobs through its own ``git cat-file --batch`` (or opens the
repository with pygit2 itself: a pygit2 handle must not cross a fork). Every version of a path goes to the same
worker in walk order, so a worker scans a file's first version whole and each later version only where it
changed (``changed_regions``): most of a new version is the previous one again. Workers send back only blobs
with matches or problems; the parent keeps the attribution (blob → first commit and path) and looks up commit
metadata only for those.
"""

from __future__ import annotations

import queue
from bisect import bisect_right
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from scanner.detect.engine import Detector
from scanner.models import Finding, Match, ScanIssue
from scanner.scan import Scan
from scanner.sources import git as git_source
from scanner.sources.catfile import BlobData, CatFile
from scanner.sources.files import Skips, is_binary, is_state_path
from scanner.sources.git import (
    BlobTask,
    MessageTask,
    WalkStats,
    commit_origin,
    history_tips,
    new_line_numbers,
    push_ranges,
    remote_tips,
    resolve_commit,
    shallow_issue,
    staged_chunks,
    tag_messages,
    walk_commits,
)
from scanner.sources.tfstate import StateGroup, state_blob_groups

REBALANCE = 128  # blobs a path's worker may be behind the least busy one before the path moves
AHEAD = 1024  # blobs sent to workers and not yet back, before the walk waits
BATCH = 32  # blobs per message to a worker: amortises the round trip, small enough to keep both cores busy
CONTEXT_LINES = 3
CONTEXT_BYTES = 512
# Narrowing a region to its new lines costs about 11 ns per byte of region (line sets of both versions);
# scanning it costs about 6 ns (pytest's history: narrowing every region over 32 KB took 2.9 s where
# scanning them whole took 1.9 s). Only a region this large is narrowed: it bounds the cost of content that
# is slow to scan.
LARGE_REGION = 1 << 20
MESSAGE_BATCH = 64 * 1024
MESSAGE_SEPARATOR = b"\n\n"


@dataclass(frozen=True)
class BlobOptions:
    max_size: int
    scan_binary: bool
    workers: int
    only_added_lines: bool = False  # ranges and pushes report what they add, not what the base already had


@dataclass(frozen=True, slots=True)
class BlobResult:
    index: int  # into the task list
    size: int
    matches: tuple[Match, ...] = ()
    skipped: str = ""  # reason
    message: str = ""
    state: tuple[StateGroup, ...] = ()  # a Terraform state file: matches per resource attribute (tfstate.py)


def _common_prefix(a: bytes, b: bytes, limit: int) -> int:
    """Length of the common prefix (at most ``limit``): a binary search of C-speed ``startswith`` checks."""
    lo, hi = 0, limit
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if a.startswith(b[lo:mid], lo):
            lo = mid
        else:
            hi = mid - 1
    return lo


def _common_suffix(a: bytes, b: bytes, limit: int) -> int:
    """Length of the common suffix (at most ``limit``), like ``_common_prefix`` from the end."""
    la, lb = len(a), len(b)
    lo, hi = 0, limit
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if a.endswith(b[lb - mid : lb - lo], 0, la - lo):
            lo = mid
        else:
            hi = mid - 1
    return lo


def changed_region(old: bytes, new: bytes) -> tuple[bytes, int]:
    """The part of ``new`` that differs from ``old``: whole lines from the first to the last changed byte, with
    ``CONTEXT_LINES`` lines and at least ``CONTEXT_BYTES`` bytes around them, and the region's first line number.
    The region is empty if nothing changed.

    In a file's history most of each version is the previous one again: rescanning it finds nothing new for that
    path. The common prefix and suffix are found with block compares, so the cost is that of the change.
    """
    if old == new:
        return b"", 0
    shorter = min(len(old), len(new))
    prefix = _common_prefix(old, new, shorter)
    suffix = _common_suffix(old, new, shorter - prefix)
    start = prefix
    end = len(new) - suffix
    for _ in range(CONTEXT_LINES + 1):
        start = new.rfind(b"\n", 0, max(start - 1, 0)) + 1 if start > 0 else 0
    for _ in range(CONTEXT_LINES + 1):
        found = new.find(b"\n", end)
        end = len(new) if found == -1 else found + 1
    # And at least CONTEXT_BYTES either side: a rule may reach a few hundred bytes back to its keyword
    # (a Terraform provider block above a rotated key).
    if prefix - start < CONTEXT_BYTES and start > 0:
        start = new.rfind(b"\n", 0, max(prefix - CONTEXT_BYTES, 0)) + 1
    if end - (len(new) - suffix) < CONTEXT_BYTES and end < len(new):
        found = new.find(b"\n", len(new) - suffix + CONTEXT_BYTES)
        end = len(new) if found == -1 else found + 1
    return new[start:end], new.count(b"\n", 0, start) + 1


def changed_regions(old: bytes, new: bytes) -> Iterator[tuple[bytes, int]]:
    """``changed_region``; where changes are scattered over a large file (a generated list, a changelog), the
    region is most of the file, so it is narrowed to its new lines (lines found nowhere in ``old``) with context,
    in blocks of consecutive lines."""
    region, first = changed_region(old, new)
    if len(region) < LARGE_REGION:
        if region:
            yield region, first
        return
    known = set(old.split(b"\n"))
    lines = region.split(b"\n")
    novel = [i for i, line in enumerate(lines) if line not in known]
    block_start = block_end = -1
    for i in novel:
        lo, hi = max(0, i - CONTEXT_LINES), min(len(lines), i + CONTEXT_LINES + 1)
        if lo > block_end:
            if block_end > block_start:
                yield b"\n".join(lines[block_start:block_end]), first + block_start
            block_start = lo
        block_end = hi
    if block_end > block_start:
        yield b"\n".join(lines[block_start:block_end]), first + block_start


@dataclass(frozen=True)
class Base:
    """What a range starts from: its base commits, and where files renamed since then came from."""

    commits: tuple[str, ...] = ()
    renamed_from: dict[str, str] = field(default_factory=dict)


def range_base(repo: Any, tips: Sequence[Any], hidden: Sequence[Any]) -> Base:
    """Renames between the base and each tip (libgit2's similarity detection), so that a file renamed and
    edited in the range is compared with its old self instead of being reported whole."""
    renamed: dict[str, str] = {}
    if hidden:
        for tip in tips:
            diff = hidden[0].tree.diff_to_tree(tip.tree)
            diff.find_similar()
            for delta in diff.deltas:
                if delta.old_file.path != delta.new_file.path:
                    renamed[delta.new_file.path] = delta.old_file.path
    return Base(tuple(str(c.id) for c in hidden), renamed)


class BlobScanner:
    """Reads and scans blobs in walk order, diffing each against the last version seen at the same path.

    One per process. ``base`` holds, per path, the content the scan starts from (a range's base commit), so a
    range reports what it adds.
    """

    def __init__(self, repo_path: str, detector: Detector, options: BlobOptions, base: Base) -> None:
        import pygit2

        self.repo = pygit2.Repository(repo_path)
        self.detector = detector
        self.options = options
        self.previous: dict[str, bytes] = {}
        self.base_trees = [self.repo[c].tree for c in base.commits]
        self.renamed_from = base.renamed_from
        self.catfile = CatFile(repo_path, options.max_size) if git_source.git_usable() else None

    def _base_version(self, path: str) -> bytes | None:
        for tree in self.base_trees:
            for candidate in (path, self.renamed_from.get(path)):
                if candidate is None:
                    continue
                try:
                    return bytes(self.repo.odb.read(tree[candidate].id)[1])
                except (KeyError, ValueError):
                    continue
        return None

    def close(self) -> None:
        if self.catfile is not None:
            self.catfile.close()

    def scan_batch(self, batch: Sequence[tuple[int, str, str]]) -> tuple[int, int, list[BlobResult]]:
        """Scan a batch of (index, blob id, path): (blobs, bytes scanned, results worth sending back)."""
        contents = self.catfile.read([oid for _, oid, _ in batch]) if self.catfile is not None else None
        total = 0
        out: list[BlobResult] = []
        for index, oid_hex, path in batch:
            content = next(contents) if contents is not None else None
            size, result = self.scan(index, oid_hex, path, content)
            total += size
            if result is not None:
                out.append(result)
        return len(batch), total, out

    def _read(self, index: int, oid_hex: str, content: BlobData | None) -> bytes | BlobResult:
        if content is not None:
            if content.data is not None:
                return content.data
            if content.problem == "too-large":
                return BlobResult(index, content.size, (), "too-large", f"{content.size} bytes is over the cap")
        import pygit2  # no git, or git could not read it: libgit2 reads it, or says why it cannot

        try:
            data: bytes = self.repo.odb.read(pygit2.Oid(hex=oid_hex))[1]
        except (KeyError, ValueError, pygit2.GitError) as exc:
            return BlobResult(index, 0, (), "missing-object", f"cannot read blob {oid_hex}: {exc}")
        if self.options.max_size and len(data) > self.options.max_size:
            return BlobResult(index, len(data), (), "too-large", f"{len(data)} bytes is over the cap")
        return data

    def scan(
        self, index: int, oid_hex: str, path: str, content: BlobData | None = None
    ) -> tuple[int, BlobResult | None]:
        """Returns (bytes scanned, result worth sending back or None)."""
        options = self.options
        data = self._read(index, oid_hex, content)
        if isinstance(data, BlobResult):
            return 0, data
        if not options.scan_binary and is_binary(data):
            return 0, BlobResult(index, len(data), (), "binary", "binary blob")
        previous = self.previous.get(path)
        if previous is None and self.base_trees:
            previous = self._base_version(path)
        self.previous[path] = data
        if is_state_path(path):
            state = state_blob_groups(self.detector, data, previous, options.only_added_lines)
            if state is not None:  # else not a valid state: scanned as text below
                return len(data), BlobResult(index, len(data), state=tuple(state)) if state else None
        if previous is None:
            matches = self.detector.detect(data)
        else:
            matches = []
            for region, first in changed_regions(previous, data):
                matches.extend(self.detector.detect(region, first_line=first))
            if options.only_added_lines and matches:
                added = new_line_numbers(previous, data)
                matches = [m for m in matches if any(n in added for n in range(m.line, m.end_line + 1))]
        return len(data), BlobResult(index, len(data), tuple(matches)) if matches else None


# Worker-process state, inherited through fork.
_WORKER: dict[str, Any] = {}


def _worker_main(worker: int, tasks: Any, results: Any) -> None:
    scanner = BlobScanner(_WORKER["repo_path"], _WORKER["detector"], _WORKER["options"], _WORKER["base"])
    while (batch := tasks.get()) is not None:
        results.put((worker, *scanner.scan_batch(batch)))
    scanner.close()
    results.put(None)


class BlobPipeline:
    """Feeds blobs to worker processes as the walk finds them; all versions of a path go to the same worker,
    in walk order, so each worker can diff a file against its previous version (see ``submit`` for balance)."""

    def __init__(self, repo_path: str, detector: Detector, options: BlobOptions, base: Base) -> None:
        import multiprocessing
        import os

        self.workers = options.workers or os.cpu_count() or 1
        self.inline: BlobScanner | None = None
        self.pending: list[tuple[int, int, list[BlobResult]]] = []
        self.buffers: list[list[tuple[int, str, str]]] = [[] for _ in range(self.workers)]
        if self.workers <= 1 or "fork" not in multiprocessing.get_all_start_methods():
            self.inline = BlobScanner(repo_path, detector, options, base)
            return
        _WORKER.update(repo_path=repo_path, detector=detector, options=options, base=base)
        context = multiprocessing.get_context("fork")  # inherits the compiled detector at no cost
        self.results = context.Queue()
        # SimpleQueue: put() writes straight to the pipe; a Queue hands each batch to a feeder thread, whose
        # lock handoffs cost the walk about a second on a large history.
        self.queues = [context.SimpleQueue() for _ in range(self.workers)]
        self.assigned: dict[str, int] = {}
        self.outstanding = [0] * self.workers  # blobs sent and not yet reported back
        self.processes = [
            context.Process(target=_worker_main, args=(i, queue, self.results), daemon=True)
            for i, queue in enumerate(self.queues)
        ]
        for process in self.processes:
            process.start()

    def submit(self, index: int, task: BlobTask) -> None:
        if self.inline is not None:
            self.buffers[0].append((index, task.oid, task.path))
            if len(self.buffers[0]) >= BATCH:
                self.pending.append(self.inline.scan_batch(self.buffers[0]))
                self.buffers[0] = []
            return
        worker = self.assigned.get(task.path)
        least = self.outstanding.index(min(self.outstanding))
        if worker is None or self.outstanding[worker] > self.outstanding[least] + REBALANCE:
            # A new path goes to the least busy worker. A path whose worker has fallen far behind moves too:
            # the new worker has no previous version of it, so it scans this one whole, a small price for
            # keeping both cores busy.
            worker = self.assigned[task.path] = least
        self.outstanding[worker] += 1
        buffer = self.buffers[worker]
        buffer.append((index, task.oid, task.path))
        if len(buffer) >= BATCH:
            self.queues[worker].put(buffer)
            self.in_flight += len(buffer)
            self.buffers[worker] = []

    def _account(self, item: tuple[int, int, int, list[BlobResult]]) -> tuple[int, int, list[BlobResult]]:
        worker, blobs, total, results = item
        self.outstanding[worker] -= blobs
        self.in_flight -= blobs
        return blobs, total, results

    def ready(self) -> Iterator[tuple[int, int, list[BlobResult]]]:
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

    def finish(self) -> Iterator[tuple[int, int, list[BlobResult]]]:
        """The remaining results, waiting for the workers to end."""
        if self.inline is not None:
            if self.buffers[0]:
                self.pending.append(self.inline.scan_batch(self.buffers[0]))
            self.inline.close()
        yield from self.pending
        self.pending.clear()
        if self.inline is not None:
            return
        for worker, buffer in enumerate(self.buffers):
            if buffer:
                self.queues[worker].put(buffer)
            self.queues[worker].put(None)
        while self.workers_done < len(self.processes):
            item = self.results.get()
            if item is None:
                self.workers_done += 1
            else:
                yield self._account(item)
        for process in self.processes:
            process.join()

    workers_done = 0
    in_flight = 0


@dataclass
class GitScanRequest:
    repo: Any
    mode: str  # "history", "range", "push", "staged"
    range_spec: str = ""
    push_lines: Sequence[str] = ()


def plan(request: GitScanRequest, skips: Skips) -> tuple[list[Any], list[Any]]:
    """Tips to walk from and commits to hide, for the history, range and push modes."""
    repo = request.repo
    if request.mode == "history":
        return history_tips(repo, skips), []
    if request.mode == "range":
        spec = request.range_spec
        if ".." in spec:
            base, _, head = spec.partition("..")
            head = head.lstrip(".") or "HEAD"
            return [resolve_commit(repo, head)], [resolve_commit(repo, base)] if base else []
        return [resolve_commit(repo, "HEAD")], [resolve_commit(repo, spec)]
    if request.mode == "push":
        if request.push_lines:
            return push_ranges(repo, request.push_lines)
        if repo.head_is_unborn:
            return [], []
        return [resolve_commit(repo, "HEAD")], remote_tips(repo)
    raise ValueError(request.mode)


def run_commits(
    scan: Scan, request: GitScanRequest, options: BlobOptions, advance: Callable[[int, int], None] | None
) -> None:
    """History, range or push: walk, scan unique blobs and messages, attribute, keep the oldest occurrence."""
    repo = request.repo
    result = scan.result
    skips = Skips(result.issues, result.stats)
    issue = shallow_issue(repo)
    if issue is not None:
        result.issues.append(issue)
    tips, hidden = plan(request, skips)
    if not tips and repo.head_is_unborn and not any(True for _ in repo.references):
        result.issues.append(ScanIssue(repo.path, "empty-repository", "the repository has no commits"))
        return
    if request.mode != "history":
        options = replace(options, only_added_lines=True)
    orders: dict[str, int] = {}
    tasks: list[BlobTask] = []
    stats = WalkStats()
    pipeline = BlobPipeline(repo.path, scan.detector, options, range_base(repo, tips, hidden))
    messages = _MessageBatch(scan, repo, orders)
    if True:

        def collect(outcomes: Iterator[tuple[int, int, list[BlobResult]]]) -> None:
            for blobs, total, results in outcomes:
                result.stats.items_scanned += blobs
                result.stats.bytes_scanned += total
                if advance:
                    advance(blobs, len(tasks))
                for blob in results:
                    _add_blob_result(scan, repo, tasks[blob.index], blob, orders)

        for item in walk_commits(repo, tips, hidden, skips, stats):
            if isinstance(item, BlobTask):
                tasks.append(item)
                pipeline.submit(len(tasks) - 1, item)
                if len(tasks) % BATCH == 0:
                    collect(pipeline.ready())
            else:
                messages.add(item)
        messages.flush()
        if request.mode == "history":
            for chunk in tag_messages(repo, skips):
                scan.add(chunk)
        collect(pipeline.finish())
    result.findings[:] = _oldest_first(result.findings, orders)
    result.stats.skipped["duplicate-blob"] += stats.appearances
    result.target_detail = f"{stats.commits} commits, {len(tasks)} unique blobs"


class _MessageBatch:
    """Commit messages scanned together, one detector pass per ``MESSAGE_BATCH`` bytes instead of one per
    message (pytest's history has 18,000 of them, each paying the per-call cost). The batch only picks which
    messages need a look: each one that a match touches (or crosses into) is scanned again on its own, so the
    findings are exactly those of one scan per message. Commit metadata is looked up only for those."""

    def __init__(self, scan: Scan, repo: Any, orders: dict[str, int]) -> None:
        self.scan, self.repo, self.orders = scan, repo, orders
        self.tasks: list[MessageTask] = []
        self.size = 0

    def add(self, task: MessageTask) -> None:
        self.tasks.append(task)
        self.size += len(task.content) + len(MESSAGE_SEPARATOR)
        if self.size >= MESSAGE_BATCH:
            self.flush()

    def flush(self) -> None:
        tasks, self.tasks, self.size = self.tasks, [], 0
        if not tasks:
            return
        stats = self.scan.result.stats
        stats.items_scanned += len(tasks)
        stats.bytes_scanned += sum(len(t.content) for t in tasks)
        starts: list[int] = []
        offset = 0
        for task in tasks:
            starts.append(offset)
            offset += len(task.content) + len(MESSAGE_SEPARATOR)
        touched: set[int] = set()
        for raw in self.scan.detector.raw_matches(MESSAGE_SEPARATOR.join(t.content for t in tasks)):
            first, last = bisect_right(starts, raw.start) - 1, bisect_right(starts, max(raw.start, raw.end - 1)) - 1
            touched.update(range(first, last + 1))
        for index in sorted(touched):
            self._scan_alone(tasks[index])

    def _scan_alone(self, task: MessageTask) -> None:
        result = self.scan.result
        matches = self.scan.detector.detect(task.content)
        if matches:
            before = len(result.findings)
            origin = commit_origin(self.repo[task.commit], "<commit message>", "commit-message")
            self.scan.add_matches(origin, matches)
            for finding in result.findings[before:]:
                self.orders[finding.finding_id] = task.order


def _add_blob_result(scan: Scan, repo: Any, task: BlobTask, blob: BlobResult, orders: dict[str, int]) -> None:
    result = scan.result
    if blob.skipped:
        result.stats.skipped[blob.skipped] += 1
        if blob.skipped != "binary":
            result.issues.append(ScanIssue(f"{task.path}@{task.commit[:12]}", blob.skipped, blob.message))
        return
    before = len(result.findings)
    origin = commit_origin(repo[task.commit], task.path)
    scan.add_matches(origin, blob.matches)
    for group in blob.state:
        scan.add_matches(replace(origin, address=group.address, attribute=group.attribute), group.matches)
    for finding in result.findings[before:]:
        orders[finding.finding_id] = task.order


def _oldest_first(findings: list[Finding], orders: dict[str, int]) -> list[Finding]:
    """One finding per (rule, secret, path): the same secret in later versions of a file is one leak."""
    kept: dict[tuple[str, str, str], Finding] = {}
    for finding in sorted(findings, key=lambda f: (orders.get(f.finding_id, -1), f.path, f.match.line)):
        key = (finding.rule.id, finding.secret_id, finding.path)
        if key not in kept:
            kept[key] = finding
    return list(kept.values())


def run_staged(scan: Scan, repo: Any, options: BlobOptions) -> None:
    skips = Skips(scan.result.issues, scan.result.stats)
    for staged in staged_chunks(repo, options.max_size, options.scan_binary, skips):
        scan.add(staged.chunk, only_lines=staged.added_lines)
