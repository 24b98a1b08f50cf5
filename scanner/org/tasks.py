"""One repository's task, run on a Dask worker: mirror it, scan what is new, hand back plain data.

A task holds no state of its own: what it knows of earlier runs (the tips scanned then, the commits of stored
findings) comes in its ``Task``, and everything it found goes back in one ``dict`` of plain values (findings
with fingerprints and redacted text only, never a secret), so a task retried on another worker gives the same
answer and the parent alone writes the store. One repository failing is the result's ``error``, not an
exception: the other repositories go on.

Blobs an earlier run read clean (the store's blob marks) are not read again, wherever they come back (a revert,
a copy): "each unique blob once" holds across runs, not only within one walk. The task sends back the marks of
the blobs it read clean, for the parent to add in the same transaction as the findings.

A repository whose refs digest (``mirror.remote_refs``) is the one stored after the last run is not fetched or
walked at all. Small repositories travel several to one Dask task (``scan_batch``: less per-task overhead), and
each worker thread builds the ruleset and detector once per config (``_prepared``), not once per repository:
that build costs more CPU than scanning a small repository.
"""

from __future__ import annotations

import os
import resource
import subprocess
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scanner.fingerprint import DEFAULT_KEY
from scanner.models import Finding, GitOrigin, ScanResult
from scanner.org.listing import Repo
from scanner.org.marks import BlobMarks
from scanner.org.mirror import GIT_ENV, MirrorError, mirror_refs, remote_refs, update
from scanner.pipeline import run
from scanner.pipeline.request import RunContext, ScanRequest
from scanner.pipeline.setup import Prepared, prepare
from scanner.policy.config import Config
from scanner.transport import HttpClient
from scanner.validate.options import ValidationOptions


@dataclass(frozen=True)
class Task:
    """What one task needs: the repository, the cache folder, and what the store knew of it."""

    repo: Repo
    cache: str
    known_tips: tuple[str, ...] = ()  # tips of the last run: commits reachable from them are not scanned again
    finding_commits: tuple[str, ...] = ()  # commits of stored findings: which are still reachable?
    config: Config = field(default_factory=Config)
    key: bytes = DEFAULT_KEY
    engine: str = "auto"
    known_refs: str = ""  # the refs digest after the last run's fetch ("" = unknown: fetch)
    # ``--validate``: the task asks each provider about the secrets it found (only a task holds a secret).
    validation: ValidationOptions | None = None
    # The store's blob marks (``marks.py``): the key they are made with, the packed marks of the blobs earlier runs
    # read clean (skipped now wherever they appear) and the settings those hold under. No key: none made.
    mark_key: bytes = b""
    marks: bytes = b""
    marks_settings: str = ""
    rescan: bool = False  # scanned last under other settings: the whole history again, findings compared in full


# This worker thread's ruleset and detector per (config, engine): kept between tasks, a few at most. Per
# thread, not per process: a detector is not shared between threads (an in-process cluster runs several).
_LOCAL = threading.local()
_PREPARED_MAX = 4


def scan_batch(tasks: Sequence[Task]) -> list[dict[str, Any]]:
    """One Dask task for several repositories, one after another; a repository whose task raised (a bug, a cache
    that cannot be written) is that repository's error and the others go on."""
    results = []
    for task in tasks:
        try:
            results.append(scan_repo(task))
        except Exception as exc:  # one repository's failure, named on its result
            results.append(failed(task, f"the task failed: {type(exc).__name__}"))
    return results


def failed(task: Task, error: str) -> dict[str, Any]:
    return {"repo": task.repo.name, "url": task.repo.url, "error": error, "mode": "failed", "seconds": 0.0}


def scan_repo(task: Task) -> dict[str, Any]:
    """The task: never raises for a repository's own problems (they are the result's ``error``)."""
    started = time.perf_counter()
    out: dict[str, Any] = {
        "repo": task.repo.name,
        "url": task.repo.url,
        "error": "",
        "mode": "full",
        "rescan": task.rescan,
        "tips": [],
        "commits": [],
        "findings": [],
        "issues": [],
        "reachable": [],
        "bytes": 0,
        "items": 0,
        "pid": os.getpid(),
    }
    try:
        if refs_unchanged(task):  # the parent could not ask the remote; this worker could
            return unchanged(task, time.perf_counter() - started, os.getpid())
        path, _fetched = update(Path(task.cache), task.repo.url, task.repo.auth)
        out["refs"] = mirror_refs(path)
        _scan(task, str(path), out)
    except MirrorError as exc:
        out["error"] = str(exc)
    out["seconds"] = time.perf_counter() - started
    out["max_rss_kb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # this worker process's peak so far
    return out


def refs_unchanged(task: Task, http: HttpClient | None = None) -> bool:
    """The remote advertises the refs the mirror had after the last run's fetch (never for a first or full run)."""
    if not (task.known_refs and task.known_tips):
        return False
    return remote_refs(task.repo.url, task.repo.auth, http) == task.known_refs


def unchanged(task: Task, seconds: float = 0.0, pid: int = 0) -> dict[str, Any]:
    """The result of a repository whose refs did not move: no fetch, no walk, every stored finding's commit still
    reachable. ``pid`` 0: decided in the parent, by no worker."""
    return {
        **failed(task, ""),
        "mode": "unchanged",
        "tips": list(task.known_tips),
        "commits": [],
        "findings": [],
        "issues": [],
        "reachable": list(task.finding_commits),
        "refs": task.known_refs,
        "seconds": seconds,
        "pid": pid,
        "max_rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss if pid else 0,
    }


def _scan(task: Task, git_dir: str, out: dict[str, Any]) -> None:
    tips = sorted(set(_lines(git_dir, ["rev-list", "--no-walk", "--all"])))
    out["tips"] = tips
    if not tips:
        out["mode"] = "empty"
        return
    if tips == sorted(set(task.known_tips)):  # nothing moved: every stored finding's commit is still reachable
        out["mode"], out["reachable"] = "unchanged", list(task.finding_commits)
        return
    known = _commits(git_dir, task.known_tips)
    out["reachable"] = _reachable(git_dir, tips, task.finding_commits)
    if known and set(tips) <= set(known):
        out["mode"] = "unchanged"
        return
    commits = _lines(git_dir, ["rev-list", *tips, "--not", *known]) if known else _lines(git_dir, ["rev-list", "--all"])
    out["commits"] = commits
    if not commits:
        out["mode"] = "unchanged"
        return
    context = RunContext(fingerprint_key=task.key)
    marks = BlobMarks(task.mark_key, task.config, task.marks, task.marks_settings) if task.mark_key else None
    if known:
        out["mode"] = "incremental"
        spec = " ".join([*tips, *(f"^{k}" for k in known)])
        request = ScanRequest("range", paths=(git_dir,), range_spec=spec, config=task.config, context=context)
    else:
        request = ScanRequest("history", paths=(git_dir,), config=task.config, context=context)
    result = run(_single(request, task.engine, _prepared(task.config, task.engine), task.validation, marks))
    out["findings"] = [finding_data(f) for f in result.findings]
    out["issues"] = [[i.path, i.reason, i.message] for i in result.issues]
    out["bytes"] = result.stats.bytes_scanned
    out["items"] = result.stats.items_scanned
    out["known_clean"] = result.stats.skipped.get("known-clean", 0)
    out["incomplete"] = _incomplete(result)
    if marks is not None:
        out["marks"], out["marks_settings"] = marks.pack(result.clean_blobs), marks.settings(result.ruleset_hash)


def _single(
    request: ScanRequest,
    engine: str,
    prepared: Prepared,
    validation: ValidationOptions | None,
    marks: BlobMarks | None,
) -> ScanRequest:
    """One process per task: the Dask worker is the unit of parallelism, not a pool inside it."""
    from dataclasses import replace

    return replace(request, workers=1, engine=engine, prepared=prepared, validation=validation, known_clean=marks)


def _prepared(config: Config, engine: str) -> Prepared:
    """The ruleset and detector for ``config``, built at this thread's first task with it. Keyed by the config's
    ``repr`` (frozen dataclasses all the way down): equal configs give equal text, and a miss only costs a build."""
    key = repr((config, engine))
    cache: dict[str, Prepared] = _LOCAL.__dict__.setdefault("prepared", {})
    if key not in cache:
        if len(cache) >= _PREPARED_MAX:
            cache.clear()
        cache[key] = prepare(config, engine)
    return cache[key]


def _incomplete(result: ScanResult) -> str:
    return result.incomplete


def finding_data(finding: Finding) -> dict[str, Any]:
    """A finding as plain values: fingerprints, the rule, the redacted secret and snippet, where it is."""
    origin = finding.origin
    match = finding.match
    rule = finding.rule
    data: dict[str, Any] = {
        "rule": rule.id,
        "rule_name": rule.name,
        "description": rule.description,
        "severity": rule.severity,
        "confidence": rule.confidence,
        "provider": rule.provider,
        "finding_id": finding.finding_id,
        "secret_id": finding.secret_id,
        "verdict": finding.verdict,
        "reason": finding.reason,
        "path": origin.path,
        "line": match.line,
        "column": match.column,
        "end_line": match.end_line,
        "end_column": match.end_column,
        "snippet": match.snippet,
        "redacted": match.secret.redacted(),
        "decoded": list(match.decoded),
        "validation": finding.validation.state if finding.validation is not None else "",
    }
    if finding.validation is not None:  # what the provider said, as the reports show it (identity masked already)
        validation = finding.validation
        data.update(validation_reason=validation.reason, validation_identity=validation.identity)
        data["validator"] = validation.validator
    if isinstance(origin, GitOrigin):
        data.update(
            commit=origin.commit, author=origin.author, email=origin.email, date=origin.date, where=origin.where
        )
    return data


def _reachable(git_dir: str, tips: Sequence[str], commits: Sequence[str]) -> list[str]:
    """Which of ``commits`` the tips still reach (a force-push can make a stored finding's commit unreachable)."""
    wanted = _commits(git_dir, commits)
    if not wanted:
        return []
    every = set(_lines(git_dir, ["rev-list", *tips]))
    return [c for c in wanted if c in every]


def _commits(git_dir: str, oids: Sequence[str]) -> list[str]:
    """The ids in ``oids`` that name a commit in the mirror (one ``git cat-file --batch-check`` for all)."""
    wanted = list(dict.fromkeys(oids))
    if not wanted:
        return []
    done = subprocess.run(
        ["git", "--git-dir", git_dir, "cat-file", "--batch-check=%(objectname) %(objecttype)"],
        input="".join(f"{oid}^{{commit}}\n" for oid in wanted).encode(),
        capture_output=True,
        env={**os.environ, **GIT_ENV},
        check=False,
    )
    found = {line.split()[0] for line in done.stdout.decode().splitlines() if line.endswith(" commit")}
    return [oid for oid in wanted if oid in found]


def _lines(git_dir: str, args: list[str]) -> list[str]:
    done = subprocess.run(
        ["git", "--git-dir", git_dir, *args], capture_output=True, env={**os.environ, **GIT_ENV}, check=False
    )
    if done.returncode != 0:
        message = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise MirrorError(f"{git_dir}: git {args[0]}: {message[-1] if message else 'failed'}")
    return done.stdout.decode().split()
