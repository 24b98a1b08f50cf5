"""Git scans: history, ranges, pushes and staged changes, run through the detector and collected as findings.

Blobs are read and scanned in worker processes (one per core): each worker opens the repository itself (a
pygit2 handle must not cross a fork) and returns only the blobs that hold matches or could not be scanned.
The parent keeps the attribution (blob → first commit and path) and looks up commit metadata only for blobs
with findings.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from scanner.detect.engine import Detector
from scanner.models import Finding, Match, ScanIssue
from scanner.scan import Scan
from scanner.sources.files import Skips, is_binary
from scanner.sources.git import (
    BlobTask,
    Walk,
    commit_origin,
    history_tips,
    push_ranges,
    remote_tips,
    resolve_commit,
    shallow_issue,
    staged_chunks,
    tag_messages,
    walk_commits,
)

BATCH = 64  # blobs per task sent to a worker: amortises the round trip, small enough to balance the load


@dataclass(frozen=True)
class BlobOptions:
    max_size: int
    scan_binary: bool
    workers: int


@dataclass(frozen=True, slots=True)
class BlobResult:
    index: int  # into the task list
    size: int
    matches: tuple[Match, ...] = ()
    skipped: str = ""  # reason
    message: str = ""


# Worker-process state, set before the pool forks (or by the initializer under spawn).
_WORKER: dict[str, Any] = {}


def _init_worker(repo_path: str, detector: Detector | None, options: BlobOptions) -> None:
    _WORKER.update(repo_path=repo_path, options=options, repo=None)
    if detector is not None:
        _WORKER["detector"] = detector


def _scan_batch(batch: Sequence[tuple[int, str]]) -> tuple[int, int, list[BlobResult]]:
    """Scan (index, oid) pairs; returns (blobs read, bytes read, results worth sending back)."""
    import pygit2

    repo = _WORKER.get("repo")
    if repo is None:
        repo = _WORKER["repo"] = pygit2.Repository(_WORKER["repo_path"])
    detector: Detector = _WORKER["detector"]
    options: BlobOptions = _WORKER["options"]
    results: list[BlobResult] = []
    read = 0
    total = 0
    for index, oid_hex in batch:
        oid = pygit2.Oid(hex=oid_hex)
        try:
            _kind, size = repo.odb.read_header(oid)
            if options.max_size and size > options.max_size:
                results.append(BlobResult(index, size, (), "too-large", f"{size} bytes is over the cap"))
                continue
            data = repo[oid].read_raw()
        except (KeyError, ValueError, pygit2.GitError) as exc:
            results.append(BlobResult(index, 0, (), "missing-object", f"cannot read blob {oid_hex}: {exc}"))
            continue
        if not options.scan_binary and is_binary(data):
            results.append(BlobResult(index, len(data), (), "binary", "binary blob"))
            continue
        read += 1
        total += len(data)
        matches = detector.detect(data)
        if matches:
            results.append(BlobResult(index, len(data), tuple(matches)))
    return read, total, results


def scan_blob_tasks(
    repo_path: str,
    tasks: Sequence[BlobTask],
    detector: Detector,
    options: BlobOptions,
    progress: Callable[[int, int], None] | None = None,
) -> Iterator[tuple[int, int, list[BlobResult]]]:
    """Scan the blobs, in worker processes when there are enough of them to pay for the pool."""
    batches = [
        [(i, tasks[i].oid) for i in range(start, min(start + BATCH, len(tasks)))]
        for start in range(0, len(tasks), BATCH)
    ]
    workers = options.workers or os.cpu_count() or 1
    if workers <= 1 or len(batches) <= 2:
        _init_worker(repo_path, detector, options)
        for batch in batches:
            outcome = _scan_batch(batch)
            if progress:
                progress(len(batch), outcome[1])
            yield outcome
        return
    methods = multiprocessing.get_all_start_methods()
    if "fork" in methods:
        # Fork inherits the compiled detector (Hyperscan database, compiled regexes) at no cost.
        _init_worker(repo_path, detector, options)
        context: Any = multiprocessing.get_context("fork")
        init_args: tuple[Any, ...] = (repo_path, None, options)
    else:
        context = multiprocessing.get_context("spawn")
        init_args = (repo_path, detector, options)
    with context.Pool(workers, initializer=_init_worker, initargs=init_args) as pool:
        for outcome in pool.imap_unordered(_scan_batch, batches):
            if progress:
                progress(BATCH, outcome[1])
            yield outcome


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


def run_commits(scan: Scan, request: GitScanRequest, options: BlobOptions, show_progress: bool) -> None:
    """History, range or push: walk, scan unique blobs and messages, attribute, keep the oldest occurrence."""
    repo = request.repo
    result = scan.result
    skips = Skips(result.issues, result.stats)
    issue = shallow_issue(repo)
    if issue is not None:
        result.issues.append(issue)
    if repo.is_empty:
        result.issues.append(ScanIssue(repo.path, "empty-repository", "the repository has no commits"))
        return
    tips, hidden = plan(request, skips)
    walk = walk_commits(repo, tips, hidden, skips)
    orders: dict[str, int] = {}
    for order, chunk in walk.messages:
        before = len(result.findings)
        scan.add(chunk)
        for finding in result.findings[before:]:
            orders[finding.finding_id] = order
    if request.mode == "history":
        for chunk in tag_messages(repo, skips):
            scan.add(chunk)
    _scan_walk_blobs(scan, repo, walk, options, show_progress, orders)
    result.findings[:] = _oldest_first(result.findings, orders)
    result.stats.skipped["duplicate-blob"] += sum(walk.appearances.values())
    result.target_detail = f"{walk.commits} commits, {len(walk.blobs)} unique blobs"


def _scan_walk_blobs(
    scan: Scan, repo: Any, walk: Walk, options: BlobOptions, show_progress: bool, orders: dict[str, int]
) -> None:
    result = scan.result
    tasks = walk.blobs
    with _progress(show_progress, len(tasks)) as advance:
        for read, total, results in scan_blob_tasks(repo.path, tasks, scan.detector, options, advance):
            result.stats.items_scanned += read
            result.stats.bytes_scanned += total
            for blob in results:
                task = tasks[blob.index]
                if blob.skipped:
                    result.stats.skipped[blob.skipped] += 1
                    if blob.skipped != "binary":
                        result.issues.append(ScanIssue(f"{task.path}@{task.commit[:12]}", blob.skipped, blob.message))
                    continue
                origin = commit_origin(repo[task.commit], task.path)
                before = len(result.findings)
                scan.add_matches(origin, blob.matches)
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


class _progress:
    """A rich progress bar on a TTY (stderr); nothing otherwise."""

    def __init__(self, enabled: bool, total: int) -> None:
        self.enabled = enabled and total > 0
        self.total = total
        self._bar: Any = None

    def __enter__(self) -> Callable[[int, int], None] | None:
        if not self.enabled:
            return None
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

        self._bar = Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=Console(stderr=True),
            transient=True,
        )
        self._bar.start()
        task = self._bar.add_task("blobs", total=self.total)

        def advance(blobs: int, size: int) -> None:
            self._bar.update(task, advance=blobs)

        return advance

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.stop()
