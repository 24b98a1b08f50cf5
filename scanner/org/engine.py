"""The Dask side: a ``LocalCluster`` of worker processes (one thread each) or an existing scheduler; one task per
repository; results handed to the caller in the parent as each finishes.

Dask, not a pool of our own: the same code runs on a cluster the user already has (``--scheduler``), and a worker
that dies mid-task has its task run again on another worker by the scheduler (``allowed-failures``). Tasks are
submitted with ``pure=False`` and a key per repository, and hold no state, so a rerun gives the same result; the
caller writes the store only when a result arrives here, once per task.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from scanner.errors import InputError
from scanner.org.tasks import Task, scan_repo

CONNECT_TIMEOUT = 5.0  # seconds a scheduler has to answer (the run ends within 10 s)


class SchedulerError(InputError):
    """The scheduler did not answer, or the local cluster could not start."""


@dataclass(frozen=True)
class Cluster:
    workers: int = 2  # the local cluster's worker processes
    scheduler: str = ""  # tcp://HOST:PORT of an existing scheduler ("" = a local cluster)


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
        host="127.0.0.1",
        dashboard_address=None,
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
    """Submit one task per repository; ``done(result)`` in this process as each finishes (in any order). A task
    that raised (a bug, or a worker lost too often) becomes that repository's error, not the end of the run."""
    as_completed = _distributed().as_completed
    keys = [f"leakstop-org-{index}" for index in range(len(tasks))]
    by_key = dict(zip(keys, tasks, strict=True))
    # One batch of submissions, and results gathered as they finish rather than one round trip each.
    submitted = client.map(scan_repo, tasks, key=keys, pure=False, retries=1)
    for future, outcome in as_completed(submitted, with_results=True, raise_errors=False):
        task = by_key[future.key]
        # A task's own failure, after Dask's retries, comes as (type, exception, traceback).
        failed = future.status == "error"
        done(_failed(task, f"the task failed: {outcome[0].__name__}") if failed else outcome)
        future.release()


def _distributed() -> Any:
    """``distributed``, untyped as far as mypy knows: imported only when an org scan runs (it is the ``org``
    extra, not a dependency of every install)."""
    try:
        import distributed
    except ImportError:
        raise InputError("org scans run on Dask, which is not installed: pip install 'leakstop[org]'") from None
    return distributed


def _failed(task: Task, error: str) -> dict[str, Any]:
    return {"repo": task.repo.name, "url": task.repo.url, "error": error, "mode": "failed", "seconds": 0.0}
