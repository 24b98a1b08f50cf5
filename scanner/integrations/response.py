"""The leak response at the edge: providers made from the environment, rescans through the pipeline, and the one
way a command (``respond``, ``scan --respond``, ``ci``, the pre-receive hook) plans, enqueues and executes.

``scanner.respond`` sits below the pipeline: it is handed a ``rescan`` callable from here that finds a credential
again at its places (files, or the commit that introduced it) and returns it in memory.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from scanner.errors import InputError, LeakstopError
from scanner.httpsettings import HttpSettings
from scanner.models import ScanResult
from scanner.policy.config import Config
from scanner.respond import sinks
from scanner.respond.audit_log import AuditRecord, append
from scanner.respond.executor import Executor, Rescan, Summary
from scanner.respond.model import ActionKind, Credential
from scanner.respond.outbox import Outbox
from scanner.respond.plan import Plan, PlannedAction, check_settings, credential_of, make_plan
from scanner.respond.providers import make_provider
from scanner.respond.providers.base import MissingCredential, Provider, ProviderContext, Sink
from scanner.transport import HttpClient

Mode = Literal["plan", "enqueue", "execute"]
OUTBOX = "leakstop/outbox.jsonl"  # in the repository's git dir


@dataclass(frozen=True)
class Where:
    """Where the response keeps its records, and who and what it is about (for the audit log)."""

    outbox: Path
    audit_log: Path
    actor: str = ""
    repository: str = ""


def default_where(config: Config, target: str, environ: Mapping[str, str], outbox: str = "", audit: str = "") -> Where:
    """Flags over the policy's paths over the defaults: the outbox in the repository's git dir (else
    ``.leakstop/`` in the target directory), the audit log next to it."""
    from scanner.gitdir import find_repository

    settings = config.respond
    chosen = outbox or settings.path(settings.outbox)
    if not chosen:
        repo = find_repository(target)
        base = repo.common_dir if repo is not None else Path(target if os.path.isdir(target) else ".") / ".leakstop"
        chosen = str(base / OUTBOX) if repo is not None else str(base / "outbox.jsonl")
    audit_log = audit or settings.path(settings.audit_log) or str(Path(chosen).with_name("audit.jsonl"))
    actor = environ.get("GITHUB_ACTOR") or environ.get("GITLAB_USER_LOGIN") or environ.get("USER", "")
    return Where(Path(chosen), Path(audit_log), actor, os.path.abspath(target))


def response_http(environ: Mapping[str, str]) -> HttpClient:
    """The response's HTTP client: the environment's proxies, short timeouts, and no redirects followed at all: a
    request body holds the leaked secret, and a 307 would carry it to wherever the redirect points."""
    settings = dataclasses.replace(
        HttpSettings.from_environment(environ), max_redirects=0, connect_timeout=10.0, read_timeout=30.0
    )
    return HttpClient(settings)


def make_sink(config: Config, environ: Mapping[str, str], http: HttpClient) -> Sink | None:
    """The configured sink for rotations (``respond.sink``); None when none is set."""
    sink = config.respond.sink
    return None if sink is None else sinks.make_sink(sink, environ, http)


class Providers:
    """Providers by name, made once from the environment and the policy's settings."""

    def __init__(self, config: Config, environ: Mapping[str, str], http: HttpClient, rotates: bool) -> None:
        self.config, self.environ, self.http = config, environ, http
        self.sink = make_sink(config, environ, http) if rotates else None
        self._made: dict[str, Provider] = {}

    def __call__(self, name: str) -> Provider:
        if name not in self._made:
            settings: Mapping[str, Any] = self.config.respond.providers.get(name, {})
            context = ProviderContext(name, self.http, self.environ, settings, sink=self.sink)
            self._made[name] = make_provider(context)
        return self._made[name]

    def lookup(self, name: str) -> Provider | None:
        """For the plan: the provider, or None when its credential is missing (the plan still lists it)."""
        try:
            return self(name)
        except MissingCredential:
            return None


def rescanner(config: Config, environ: Mapping[str, str]) -> Rescan:
    """A ``Rescan``: the actions' places scanned again (files as files; git places as the commits that introduced
    them), returning the credentials found by secret id."""

    def rescan(actions: Sequence[PlannedAction]) -> Mapping[str, Credential]:
        from scanner.pipeline import run
        from scanner.pipeline.request import RunContext, ScanRequest

        wanted = {a.secret_id for a in actions}
        context = RunContext(fingerprint_key=_key(environ))
        found: dict[str, Credential] = {}
        for kind, paths, range_spec in _requests(actions):
            request = ScanRequest(kind=kind, paths=paths, range_spec=range_spec, config=config, context=context)
            try:
                result = run(request)
            except InputError:  # a place that cannot be read any more: its actions wait for a rescan
                continue
            for finding in result.findings:
                if finding.secret_id in wanted and finding.secret_id not in found:
                    found[finding.secret_id] = credential_of(finding, result.findings)
        return found

    return rescan


def _key(environ: Mapping[str, str]) -> bytes:
    from scanner.fingerprint import DEFAULT_KEY

    value = environ.get("LEAKSTOP_FINGERPRINT_KEY")
    return value.encode() if value else DEFAULT_KEY


def _requests(actions: Sequence[PlannedAction]) -> list[tuple[Any, tuple[str, ...], str]]:
    """One scan of every file place that still exists, one per repository for its commits."""
    files = sorted({p.path for a in actions for p in a.places if p.kind == "file" and os.path.isfile(p.path)})
    commits: dict[str, set[str]] = {}
    for action in actions:
        for place in action.places:
            if place.kind == "git" and place.root and place.commit:
                commits.setdefault(place.root, set()).add(place.commit)
    requests: list[tuple[Any, tuple[str, ...], str]] = [("paths", tuple(files), "")] if files else []
    for root, wanted in commits.items():
        spec = _revisions(root, sorted(wanted))
        if spec:
            requests.append(("range", (root,), spec))
    return requests


def _revisions(root: str, commits: Sequence[str]) -> str:
    """``C1 C2 ^P…``: the commits and none of their parents (a revision list, so a root commit works too)."""
    from scanner.sources.git.repo import open_repository

    try:
        repo = open_repository(root)
    except InputError:  # a repository that is gone: nothing to rescan there
        return ""
    present = [c for c in commits if _has(repo, c)]
    parents = {str(p) for c in present for p in repo[c].parent_ids} - set(present)
    if not present:
        return ""
    # The first commit twice: a list with a space is a revision list, even for one root commit (``C`` alone
    # would mean ``C..HEAD``).
    return " ".join([*present, *present[:1], *(f"^{p}" for p in sorted(parents))])


def _has(repo: Any, commit: str) -> bool:
    """Whether ``commit`` is a commit of ``repo`` (not a malformed id, a missing object, a blob)."""
    try:
        return getattr(repo.get(commit), "type_str", "") == "commit"
    except ValueError:
        return False


def respond(
    result: ScanResult | None,
    config: Config,
    environ: Mapping[str, str],
    where: Where,
    mode: Mode,
    say: Callable[[str], None],
    root: str = "",
    wait: float = 0.0,
    quiet: bool = False,
) -> tuple[Plan, Summary | None]:
    """Plan the response to ``result`` (None: only drain the outbox), then per ``mode`` stop there, enqueue, or
    enqueue and execute. Returns the plan and, unless only planned, what the executor did.

    ``quiet`` is for ``leakstop ci`` and the pre-receive hook, whose decision a response never changes: a failure
    (the outbox cannot be written, a provider's credential is missing) is said and audited, not raised."""
    try:
        return _respond(result, config, environ, where, mode, say, root, wait)
    except LeakstopError as exc:
        if not quiet:
            raise
        say(f"leakstop: warning: the response to this scan could not be {mode}d: {exc}")
        reason = f"{mode}: {exc}"
        _auditor(where, say)(AuditRecord("respond-error", where.actor, where.repository, reason=reason))
        return Plan(), None


def _respond(
    result: ScanResult | None,
    config: Config,
    environ: Mapping[str, str],
    where: Where,
    mode: Mode,
    say: Callable[[str], None],
    root: str,
    wait: float,
) -> tuple[Plan, Summary | None]:
    check_settings(config.respond)
    http = response_http(environ)
    with http:
        plan = Plan()
        if result is not None:
            plan = make_plan(result, config.respond, Providers(config, environ, http, False).lookup, root)
        if mode == "plan":
            return plan, None
        outbox = Outbox(where.outbox)
        outbox.enqueue(plan.actions)
        if mode == "enqueue":
            return plan, Summary(_only(outbox, plan))
        states = outbox.states()
        rotates = any(s.action.kind is ActionKind.ROTATE and not s.final for s in states.values())
        executor = Executor(
            outbox,
            Providers(config, environ, http, rotates),
            config.respond.retry,
            rescan=rescanner(config, environ),
            audit=_auditor(where, say),
            say=say,
            actor=where.actor,
            repository=where.repository,
        )
        only = None if result is None else [a.id for a in plan.actions]
        return plan, executor.run(plan.credentials, only, wait)


def _only(outbox: Outbox, plan: Plan) -> dict[str, Any]:
    ids = {a.id for a in plan.actions}
    return {aid: s for aid, s in outbox.states().items() if aid in ids}


def _auditor(where: Where, say: Callable[[str], None]) -> Callable[[AuditRecord], None]:
    def audit(record: AuditRecord) -> None:
        try:
            append(where.audit_log, record)
        except InputError as exc:
            say(f"leakstop: warning: {exc}")

    return audit


def detached(work: Callable[[], object]) -> None:
    """Run ``work`` in a grandchild process that outlives the caller, with stdin, stdout and stderr on /dev/null
    (git waits for a hook's output to close, so a response must not hold it), and return at once."""
    pid = os.fork()
    if pid:
        os.waitpid(pid, 0)  # the child forks again and exits: no zombie is left to the hook
        return
    try:
        os.setsid()
        if os.fork() == 0:
            devnull = os.open(os.devnull, os.O_RDWR)
            for fd in (0, 1, 2):
                os.dup2(devnull, fd)
            work()
    finally:
        os._exit(0)
