"""The Dask side: a ``LocalCluster`` of worker processes (one thread each) or an existing scheduler; repositories
sent in small batches (one Dask task each, ``tasks.scan_batch``); results handed to the caller in the parent as
each batch finishes (``run_all``).

When only a few repositories are left to scan (``Cluster.threads_up_to``: an incremental run where few moved) and
no scheduler is given, they run on threads in this process, without Dask: worker processes cost seconds to spawn
and import, and Dask's in-process cluster of threads gave nothing a thread pool does not (no other machine, no
worker that can die alone) for 0.13 CPU-s and 0.1 s of the bench's 10-repository second run, and the import of
``distributed`` itself (bench/org.py, docs/performance.md).

Dask, not a pool of our own: the same code runs on a cluster the user already has (``--scheduler``), and a worker
that dies mid-task has its task run again on another worker by the scheduler (``allowed-failures``). Tasks are
submitted with ``pure=False`` and a key per batch, and hold no state, so a rerun gives the same result; the
caller writes the store only when a result arrives here, once per task.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from scanner.errors import InputError
from scanner.org.tasks import Task, failed, scan_batch

CONNECT_TIMEOUT = 5.0  # seconds a scheduler has to answer (the run ends within 10 s)
MAX_BATCH = 8  # repositories in one Dask task at most
BATCHES_PER_SLOT = 10  # at least this many batches per worker thread (while there are repositories enough)


class SchedulerError(InputError):
    """The scheduler did not answer, or the local cluster could not start."""


@dataclass(frozen=True)
class Cluster:
    workers: int = 2  # the local cluster's worker processes
    scheduler: str = ""  # tcp://HOST:PORT of an existing scheduler ("" = a local cluster)
    # At most this many repositories to scan (an incremental run where few moved), no scheduler given: ``workers``
    # threads in this process instead of a cluster; they start at once.
    threads_up_to: int = 16


def run_all(cluster: Cluster, tasks: Sequence[Task], done: Callable[[dict[str, Any]], None]) -> None:
    """Every task run, ``done(result)`` in this thread for each repository as it finishes (in any order)."""
    if not cluster.scheduler and len(tasks) <= cluster.threads_up_to:
        with ThreadPoolExecutor(max_workers=max(1, cluster.workers), thread_name_prefix="leakstop-org") as pool:
            for future in as_completed([pool.submit(scan_batch, [task]) for task in tasks]):
                for result in future.result():  # scan_batch turns a task's exception into its result's error
                    done(result)
        return
    with client_for(cluster) as client:
        run_tasks(client, tasks, done)


@contextmanager
def client_for(cluster: Cluster) -> Iterator[Any]:
    """A connected ``distributed.Client``, closed (with its local cluster) on the way out."""
    dask = _distributed()
    Client, LocalCluster = dask.Client, dask.LocalCluster
    if cluster.scheduler:
        try:
            client = Client(cluster.scheduler, timeout=CONNECT_TIMEOUT)
        except (OSError, TimeoutError, ValueError) as exc:
            why = "did not answer" if isinstance(exc, (OSError, TimeoutError)) else "is not an address"
            raise SchedulerError(
                f"dask scheduler {cluster.scheduler} {why} within {CONNECT_TIMEOUT:.0f} s: {type(exc).__name__}"
            ) from None
        try:
            yield client
        finally:
            client.close()
        return
    local = LocalCluster(
        n_workers=cluster.workers,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",  # over TCP on loopback only
        # The scheduler's HTTP server (metrics) on a free loopback port: "None" would mean 8787, taken by any
        # other cluster on the machine (a second org scan), and the dashboard off.
        dashboard_address="127.0.0.1:0",
        scheduler_kwargs={"dashboard": False},
        silence_logs=logging.CRITICAL,  # a worker that outlives the scheduler at shutdown logs an ERROR: not ours
    )
    try:
        client = Client(local)
        try:
            yield client
        finally:
            client.close()
    finally:
        local.close()


def run_tasks(client: Any, tasks: Sequence[Task], done: Callable[[dict[str, Any]], None]) -> None:
    """Submit the repositories in batches; ``done(result)`` in this process for each repository as its batch
    finishes (in any order). A batch that raised (a bug, or a worker lost too often) becomes each of its
    repositories' error, not the end of the run."""
    finished = _distributed().as_completed
    groups = batches(tasks, _slots(client))
    keys = [f"leakstop-org-{index}" for index in range(len(groups))]
    by_key = dict(zip(keys, groups, strict=True))
    # One batch of submissions, and results gathered as they finish rather than one round trip each.
    submitted = client.map(scan_batch, groups, key=keys, pure=False, retries=1)
    for future, outcome in finished(submitted, with_results=True, raise_errors=False):
        group = by_key[future.key]
        for result in _failures(group, outcome) if future.status == "error" else outcome:
            done(result)
        future.release()


def _failures(group: Sequence[Task], outcome: Any) -> list[dict[str, Any]]:
    """After Dask's retries, a batch's own failure comes as (type, exception, traceback): each repository's error."""
    return [failed(task, f"the task failed: {outcome[0].__name__}") for task in group]


def batches(tasks: Sequence[Task], slots: int) -> list[list[Task]]:
    """Consecutive runs of at most ``MAX_BATCH`` tasks, small enough that every worker thread gets
    ``BATCHES_PER_SLOT`` of them: fewer round trips, and still no long tail on one worker."""
    size = max(1, min(MAX_BATCH, len(tasks) // (max(1, slots) * BATCHES_PER_SLOT)))
    return [list(tasks[start : start + size]) for start in range(0, len(tasks), size)]


def _slots(client: Any) -> int:
    """The cluster's worker threads now (a cluster still starting counts as one)."""
    try:
        return max(1, int(sum(client.nthreads().values())))
    except (OSError, TimeoutError):
        return 1


def _distributed() -> Any:
    """``distributed``, untyped as far as mypy knows: imported only when an org scan runs (it is the ``org``
    extra, not a dependency of every install)."""
    try:
        import distributed
    except ImportError:
        raise InputError("org scans run on Dask, which is not installed: pip install 'leakstop[org]'") from None
    return distributed
