"""A run's validation: findings → one job per distinct (validator, secret) → threads over one HTTP client → states.

Each provider gets at most ``per_provider`` requests in flight and ``rate`` a second; all of it ends by the
deadline (an answer not in by then is ``unknown``, and the scan goes on). Answers are cached for the run by
fingerprint, and across runs in the optional on-disk cache (``store``).
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ALL_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path

from scanner.fingerprint import secret_id
from scanner.models import Finding, Validation
from scanner.transport import HttpClient
from scanner.validate.base import Caller, Candidate, Validator
from scanner.validate.options import ValidationOptions
from scanner.validate.store import ValidationCache

MAX_SNIPPETS = 5  # distinct snippets of one secret searched for its context values (an account name, a shop)
MAX_CONTEXTS = 3  # findings of one secret whose surrounding text is read again (``Validator.needs_context``)


@dataclass(frozen=True)
class Job:
    fingerprint: str  # keyed: validator and secret
    validator: Validator
    candidate: Candidate


class Limiter:
    """At most ``concurrent`` at once and ``rate`` starts a second, for one provider."""

    def __init__(self, concurrent: int, rate: float) -> None:
        self.slots = threading.BoundedSemaphore(max(1, concurrent))
        self.interval = 1.0 / rate if rate > 0 else 0.0
        self._lock = threading.Lock()
        self._next = 0.0

    def wait_turn(self, deadline: float) -> bool:
        """Sleep until this request may start; False when that would be after ``deadline``."""
        with self._lock:
            now = time.monotonic()
            start = max(now, self._next)
            if start > deadline:
                return False
            self._next = start + self.interval
        time.sleep(start - now)
        return True


def jobs_for(
    findings: Iterable[Finding],
    validators: Mapping[str, Validator],
    key: bytes,
    context_of: Callable[[Finding], str] | None = None,
) -> tuple[list[Job], dict[str, str]]:
    """The distinct jobs of ``findings`` whose rule has a validator, and each finding's secret id → its job.
    ``context_of`` reads the text around a finding again: asked for at most ``MAX_CONTEXTS`` findings of a secret,
    and only when its validator ``needs_context``."""
    findings = list(findings)
    by_place: dict[tuple[str, str], dict[str, list[str]]] = {}
    for finding in findings:
        place = (finding.origin.path, getattr(finding.origin, "commit", ""))
        by_place.setdefault(place, {}).setdefault(finding.rule.id, []).append(finding.match.secret.reveal())
    snippets: dict[str, dict[str, None]] = {}
    companions: dict[str, dict[str, dict[str, None]]] = {}
    chosen: dict[str, tuple[Validator, str]] = {}
    contexts: dict[str, dict[tuple[str, ...], str]] = {}
    job_of: dict[str, str] = {}
    for finding in findings:
        validator = validators.get(finding.rule.id)
        if validator is None:
            continue
        secret = finding.match.secret.reveal()
        fingerprint = secret_id(key, f"validator:{validator.name}", secret)
        job_of[finding.secret_id] = fingerprint
        chosen.setdefault(fingerprint, (validator, secret))
        mine = snippets.setdefault(fingerprint, {})
        if len(mine) < MAX_SNIPPETS:
            mine[finding.match.snippet] = None
        beside = by_place[(finding.origin.path, getattr(finding.origin, "commit", ""))]
        for rule_id, values in beside.items():
            companions.setdefault(fingerprint, {}).setdefault(rule_id, {}).update(dict.fromkeys(values))
        if context_of is not None and validator.needs_context:
            _add_context(contexts.setdefault(fingerprint, {}), finding, context_of)
    jobs = [
        Job(
            fingerprint,
            validator,
            Candidate(
                secret,
                "\n".join(snippets[fingerprint]),
                {rule: tuple(values) for rule, values in companions[fingerprint].items()},
                "\n".join(text for text in contexts.get(fingerprint, {}).values() if text),
            ),
        )
        for fingerprint, (validator, secret) in chosen.items()
    ]
    return jobs, job_of


def _add_context(mine: dict[tuple[str, ...], str], finding: Finding, context_of: Callable[[Finding], str]) -> None:
    """The text around ``finding``, once per place and line, for at most ``MAX_CONTEXTS`` findings of a secret."""
    origin = finding.origin
    place = (origin.kind, origin.path, getattr(origin, "commit", ""), str(finding.match.line))
    if place not in mine and len(mine) < MAX_CONTEXTS:
        mine[place] = context_of(finding)


def validate(
    jobs: list[Job], options: ValidationOptions, clock: Callable[[], float] = time.monotonic
) -> dict[str, Validation]:
    """Each job's answer by fingerprint."""
    deadline = clock() + options.deadline
    cache = ValidationCache(Path(options.cache), options.ttl) if options.cache else None
    answers: dict[str, Validation] = {}
    todo: list[Job] = []
    for job in jobs:
        cached = cache.get(job.fingerprint) if cache is not None else None
        if cached is not None:
            answers[job.fingerprint] = cached
        else:
            todo.append(job)
    settings = dataclasses.replace(
        options.http, retries=0, max_redirects=0, read_timeout=min(options.http.read_timeout, options.deadline)
    )
    limiters: dict[str, Limiter] = {}
    with HttpClient(settings) as http:
        caller = Caller(http, options.routes)
        pool = ThreadPoolExecutor(max_workers=max(1, options.workers), thread_name_prefix="validate")
        futures: dict[Future[Validation], Job] = {}
        for job in _interleaved(todo):
            limiter = limiters.setdefault(job.validator.provider, Limiter(options.per_provider, options.rate))
            futures[pool.submit(_one, job, caller, limiter, deadline)] = job
        done, _ = (
            wait(futures, timeout=max(0.0, deadline - clock()), return_when=ALL_COMPLETED) if futures else ((), ())
        )
        pool.shutdown(wait=False, cancel_futures=True)
    for future, job in futures.items():
        answer = _answer(future) if future in done else Validation("unknown", "the validation deadline passed")
        answers[job.fingerprint] = dataclasses.replace(answer, validator=job.validator.name)
        if cache is not None:
            cache.put(job.fingerprint, answers[job.fingerprint])
    if cache is not None:
        cache.close()
    return answers


def _interleaved(jobs: list[Job]) -> list[Job]:
    """Round robin over providers: the pool's threads would otherwise all wait on the first provider's limit."""
    queues: dict[str, list[Job]] = {}
    for job in jobs:
        queues.setdefault(job.validator.provider, []).append(job)
    ordered: list[Job] = []
    for rank in range(max((len(q) for q in queues.values()), default=0)):
        ordered.extend(q[rank] for q in queues.values() if rank < len(q))
    return ordered


def _one(job: Job, caller: Caller, limiter: Limiter, deadline: float) -> Validation:
    with limiter.slots:
        if not limiter.wait_turn(deadline):
            return Validation("unknown", "the validation deadline passed before its turn")
        return job.validator.check(job.candidate, caller)


def _answer(future: Future[Validation]) -> Validation:
    exc = future.exception()
    if exc is not None:  # a validator's own bug: reported, not raised (the scan's result matters more)
        return Validation("unknown", f"the validator failed ({type(exc).__name__})")
    return future.result()
