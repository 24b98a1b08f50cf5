"""An org scan from end to end, below the CLI: targets → repositories → one task each on Dask → the store → one
merged run. The edge (``scanner.cli.org``) reads the arguments and the environment into an ``OrgRequest``."""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from scanner.errors import InputError, UsageError
from scanner.fingerprint import DEFAULT_KEY
from scanner.httpsettings import HttpSettings
from scanner.models import ScanIssue
from scanner.org.engine import Cluster, run_all
from scanner.org.listing import Filters, Platform, Repo, github_repos, gitlab_repos, repos_file, unique
from scanner.org.marks import settings_digest
from scanner.org.merge import OrgRun
from scanner.org.mirror import MirrorError, clean_partials
from scanner.org.store import Store
from scanner.org.tasks import Task, refs_unchanged, unchanged
from scanner.pipeline.setup import build_ruleset
from scanner.policy.config import Config
from scanner.transport import HttpClient
from scanner.validate.options import ValidationOptions

LS_REMOTE_THREADS = 8  # ``git ls-remote`` at a time in the parent (each mostly waits on its remote)

# One line per repository as it finishes: (index, total, result, summary of its delta)
Progress = Callable[[int, int, dict[str, Any], str], None]


@dataclass(frozen=True)
class Targets:
    repos_file: str = ""
    github_orgs: tuple[str, ...] = ()
    github_users: tuple[str, ...] = ()
    gitlab_groups: tuple[str, ...] = ()
    filters: Filters = field(default_factory=Filters)

    def any(self) -> bool:
        return bool(self.repos_file or self.github_orgs or self.github_users or self.gitlab_groups)


@dataclass(frozen=True)
class OrgRequest:
    targets: Targets
    cache: Path
    store: Path
    github: Platform
    gitlab: Platform
    cluster: Cluster = field(default_factory=Cluster)
    full: bool = False
    config: Config = field(default_factory=Config)
    key: bytes = DEFAULT_KEY
    engine: str = "auto"
    http: HttpSettings | None = None
    validation: ValidationOptions | None = None  # ``--validate``: each task validates what it finds


def list_repos(request: OrgRequest, sleep: Callable[[float], None] = time.sleep) -> list[Repo]:
    targets = request.targets
    if not targets.any():
        raise UsageError("org scan: give --repos FILE, --github-org, --github-user or --gitlab-group")
    repos = repos_file(targets.repos_file) if targets.repos_file else []
    with HttpClient(request.http) as client:
        for org in targets.github_orgs:
            repos += github_repos(client, request.github, org, False, targets.filters, sleep)
        for user in targets.github_users:
            repos += github_repos(client, request.github, user, True, targets.filters, sleep)
        for group in targets.gitlab_groups:
            repos += gitlab_repos(client, request.gitlab, group, targets.filters, sleep)
    return unique(repos)


def scan_org(
    request: OrgRequest, repos: list[Repo], progress: Progress | None = None
) -> tuple[OrgRun, list[ScanIssue]]:
    """Every repository as one task; the store written here, one transaction per result as it arrives."""
    with cache_lock(request.cache):
        clean_partials(request.cache)  # a killed run's half-made clones: no run of ours is using them now
        return _scan_org(request, repos, progress)


@contextmanager
def cache_lock(cache: Path) -> Iterator[None]:
    """One org scan at a time per cache folder (an advisory lock on ``org.lock`` in it), refused at once."""
    try:
        cache.mkdir(parents=True, exist_ok=True)
        fd = os.open(cache / "org.lock", os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        raise InputError(f"{cache}: cannot use the org cache: {exc.strerror or exc}") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise InputError(f"{cache}: another org scan is using this cache: refused") from None
        yield
    finally:
        os.close(fd)


def _scan_org(request: OrgRequest, repos: list[Repo], progress: Progress | None) -> tuple[OrgRun, list[ScanIssue]]:
    store = Store(request.store)
    run = OrgRun()
    issues: list[ScanIssue] = []
    try:
        settings = settings_digest(build_ruleset(request.config).hash, repr(request.config))
        settled, moved = _settle_unchanged([_task(request, store, repo, settings) for repo in repos], request.http)
        tasks = [_with_marks(request, store, task) for task in moved]
        total = len(settled) + len(tasks)

        def done(result: dict[str, Any]) -> None:
            delta = store.apply(result, request.full or bool(result.get("rescan")))
            run.add(result, delta.new, delta.present, delta.gone)
            if result.get("error"):
                issues.append(ScanIssue(result["repo"], "repository-failed", result["error"]))
            issues.extend(ScanIssue(f"{result['repo']}/{p}", r, m) for p, r, m in result.get("issues", ()))
            if progress is not None:
                progress(len(run.repos), total, result, run.repos[-1]["mode"])

        for result in settled:
            done(result)
        if tasks:
            run_all(request.cluster, tasks, done)
    finally:
        store.close()
    run.repos.sort(key=lambda r: r["name"])
    run.rows.sort(key=lambda r: (r["repo"], r["rule"], r["path"], r.get("line", 0)))
    return run, issues


def _settle_unchanged(tasks: list[Task], http: HttpSettings | None) -> tuple[list[dict[str, Any]], list[Task]]:
    """Ask every remote the last run knew for its refs (``mirror.remote_refs``, a few at a time, here in the parent;
    HTTP(S) remotes through one shared client): the repositories whose refs did not move are settled without a
    Dask task (and without a cluster, when none moved); the others go to the workers, which fetch them without
    asking again. A remote this process cannot ask is left to its task to ask."""
    settled: list[dict[str, Any]] = []
    left: list[Task] = []
    checked = [t for t in tasks if t.known_refs and t.known_tips]
    with HttpClient(http) as client, ThreadPoolExecutor(max_workers=LS_REMOTE_THREADS) as pool:
        answers = dict(zip(map(id, checked), pool.map(lambda task: _moved(task, client), checked), strict=True))
    for task in tasks:
        moved = answers.get(id(task))
        if moved is False:
            settled.append(unchanged(task))
        else:
            left.append(replace(task, known_refs="") if moved else task)
    return settled, left


def _moved(task: Task, http: HttpClient) -> bool | None:
    """False: the refs are where they were; True: they moved; None: the remote did not answer here."""
    try:
        return not refs_unchanged(task, http)
    except MirrorError:
        return None


def _with_marks(request: OrgRequest, store: Store, task: Task) -> Task:
    """The store's key and, unless ``--full``, the repository's blob marks: read only for the tasks that scan."""
    marks, settings = (b"", "") if request.full else store.marks(task.repo.name)
    return replace(task, mark_key=store.mark_key, marks=marks, marks_settings=settings)


def _task(request: OrgRequest, store: Store, repo: Repo, settings: str) -> Task:
    """A repository scanned last under other settings (rules, config, leakstop version) is scanned whole again, as
    with ``--full``: new rules must see old history too, not only the commits pushed since."""
    rescan = not request.full and store.marks_settings(repo.name) not in ("", settings)
    tips, commits, refs = ((), (), "") if request.full or rescan else store.known(repo.name)
    return Task(
        repo,
        str(request.cache),
        tips,
        commits,
        request.config,
        request.key,
        request.engine,
        refs,
        request.validation,
        rescan=rescan,
    )
