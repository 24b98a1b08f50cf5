"""``leakstop hook pre-receive``: decide a push on the server, within a time budget.

git's ``<old> <new> <ref>`` lines and the hook's environment become one ``push`` request (the quarantine as extra
object directories, a deadline, the blob cache); the result becomes a decision:

* a blocking finding rejects the push (exit 1), listing rule, file, line, commit and the redacted secret, and how
  to fix the commits or bypass; the rejection goes to the audit log;
* a push that could not be decided (the budget ran out: exit 1; it could not be read: exit 2) is rejected
  (``fail-closed``, the default), or accepted with an audit record (``fail-open``);
* otherwise it is accepted (exit 0); findings a bypass let through are recorded in the audit log first, and a
  bypass that cannot be recorded does not apply.

A break-glass token (``-o leakstop.breakglass=TOKEN``, ``glass``) is checked before the scan: a token that is not
valid here and now rejects the push. A valid one is used (consumed, recorded) only when the push would be
rejected, and then lets it through.
"""

from __future__ import annotations

import dataclasses
import hashlib
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import scanner
from scanner.errors import EXIT_BLOCKED, EXIT_ERROR, EXIT_PASS, ConfigError, InputError, LeakstopError
from scanner.fingerprint import DEFAULT_KEY
from scanner.integrations.prereceive import messages
from scanner.integrations.prereceive.blobcache import BlobCache
from scanner.integrations.prereceive.environment import HookEnvironment
from scanner.integrations.prereceive.glass import Glass, GlassSettings
from scanner.models import Finding, ScanResult
from scanner.pipeline import run
from scanner.pipeline.request import RunContext, ScanRequest, SourceOptions
from scanner.policy.config import Config
from scanner.policy.context import run_bypasses
from scanner.respond.audit_log import AuditFinding, AuditRecord, append
from scanner.respond.breakglass import Push
from scanner.respond.records import bypass_reason, exception_records
from scanner.safetext import printable
from scanner.sources.base import DEFAULT_MAX_FILE_SIZE
from scanner.sources.git.pushed import RefUpdate, parse_lines
from scanner.sources.git.repo import git_environment, in_own_store

DEFAULT_BUDGET = 4.0
WRAP_UP = 0.25  # seconds of the budget kept for stopping the workers, the message and the audit record
RESPONSE_WAIT = 120.0  # seconds a detached response waits for retries: its secrets are gone once it exits
UNREADABLE = frozenset({"missing-object", "corrupt-object"})  # issues that mean the push was not read whole


@dataclass(frozen=True)
class HookSettings:
    """The hook's settings, flags over config over defaults (worked out at the edge)."""

    audit_log: Path
    cache: Path | None  # None: no cache
    budget: float = DEFAULT_BUDGET
    fail_open: bool = False
    workers: int = 1
    engine: str = "auto"
    fingerprint_key: bytes = DEFAULT_KEY
    glass: GlassSettings | None = None  # break-glass: off unless the config enables it


def deadline(started: float, budget: float) -> float:
    return started + budget - min(WRAP_UP, budget / 10)


def settings_key(config: Config, options: SourceOptions) -> str:
    """What besides the ruleset decides whether a blob is clean: the config's bytes, the version, the limits."""
    try:
        text = Path(config.source).read_bytes() if config.source else b""
    except OSError:
        text = config.source.encode()
    parts = [scanner.__version__.encode(), text, f"{options.max_file_size}:{options.scan_binary}".encode()]
    return hashlib.sha256(b"\0".join(parts)).hexdigest()


def read_updates(lines: Sequence[str]) -> list[RefUpdate]:
    kind, fields = parse_lines(lines)
    if kind != "pre-receive":
        raise InputError("ref line 1: a pre-push line; the pre-receive hook reads '<old-oid> <new-oid> <ref-name>'")
    return [RefUpdate(*f) for f in fields]


class PreReceive:
    """One push: ``decide(lines)`` writes the messages and returns the exit code."""

    def __init__(
        self,
        env: HookEnvironment,
        config: Config,
        settings: HookSettings,
        environ: Mapping[str, str],
        out: TextIO,
        started: float,
    ) -> None:
        self.env, self.config, self.settings, self.environ = env, config, settings, environ
        self.out, self.started = out, started
        self.updates: list[RefUpdate] = []
        self.glass: Glass | None = None

    def decide(self, lines: Sequence[str]) -> int:
        try:
            self.updates = read_updates(lines)
        except InputError as exc:
            return self.undecided(f"cannot read the push: {exc}", EXIT_ERROR)
        self.glass = Glass.presented(self.environ, self.settings.glass, self.push_facts())
        try:
            return self.decide_updates()
        finally:
            if self.glass is not None:
                self.glass.close()

    def decide_updates(self) -> int:
        if self.glass is not None and self.glass.refusal:
            return self.glass_refused(self.glass.refusal, EXIT_BLOCKED)
        if all(u.deleted for u in self.updates):
            return EXIT_PASS  # deletions (or nothing) send no content
        settings = self.settings
        options = SourceOptions(
            max_file_size=DEFAULT_MAX_FILE_SIZE if self.config.max_file_size is None else self.config.max_file_size,
            scan_binary=bool(self.config.scan_binary),
            object_dirs=self.env.object_dirs,
        )
        cache = BlobCache(settings.cache, settings_key(self.config, options)) if settings.cache else None
        try:
            if cache is not None:
                cache.promote(lambda oids: in_own_store(self.env.git_dir, oids))
            try:
                result = run(self.request(options, cache))
            except ConfigError:
                raise  # the server's config is wrong: no policy, not even fail-open, applies
            except LeakstopError as exc:
                return self.undecided(f"cannot read the push: {exc}{self.quarantine_note()}", EXIT_ERROR)
            code = self.judge(result)
            if code == EXIT_PASS and cache is not None:
                cache.add_pending(result.ruleset_hash, result.clean_blobs, self.tips())
            return code
        finally:
            if cache is not None:
                cache.close()

    def request(self, options: SourceOptions, cache: BlobCache | None) -> ScanRequest:
        branches = {u.ref.removeprefix("refs/heads/") for u in self.updates if u.ref.startswith("refs/heads/")}
        settings = self.settings
        context = RunContext(
            branch=branches.pop() if len(branches) == 1 else "",  # branch overrides: a push to one branch
            bypasses=run_bypasses({**self.environ, "USER": self.env.actor}),
            fingerprint_key=settings.fingerprint_key,
        )
        return ScanRequest(
            kind="push",
            paths=(self.env.git_dir,),
            push_lines=tuple(f"{u.old} {u.new} {u.ref}" for u in self.updates),
            options=options,
            config=self.config,
            context=context,
            workers=settings.workers,
            engine=settings.engine,
            deadline=deadline(self.started, settings.budget),
            known_clean=cache,
        )

    def judge(self, result: ScanResult) -> int:
        self.record_exceptions(result)
        blocking = [f for f in result.findings if f.verdict == "block"]
        if blocking:
            return self.reject(result, blocking)
        unreadable = [i for i in result.issues if i.reason in UNREADABLE]
        if unreadable:
            first = unreadable[0]
            why = f"{len(unreadable)} objects could not be read ({printable(first.path)}: {first.message})"
            return self.undecided(why, EXIT_ERROR)
        if result.incomplete:
            why = (
                f"the time budget ({self.settings.budget:g} s) ran out before the push was checked: {result.incomplete}"
            )
            return self.undecided(why, EXIT_BLOCKED)
        try:
            self.record_bypasses(result)
        except InputError as exc:
            lines = [f"leakstop: push rejected: a bypass must be recorded and cannot be: {exc}"]
            messages.write(self.out, lines, self.env.gitlab, error=True)
            return EXIT_ERROR
        elapsed = time.monotonic() - self.started
        lines = messages.accepted(result, elapsed) + (self.glass.unused() if self.glass is not None else [])
        messages.write(self.out, lines, self.env.gitlab, error=False)
        return EXIT_PASS

    def reject(self, result: ScanResult, blocking: list[Finding]) -> int:
        glass = self.through_glass(f"{len(blocking)} blocking findings", blocking)
        if glass is None:
            return EXIT_PASS
        refused = list(dict.fromkeys(b for b in result.bypasses if b.refused))
        lines = messages.rejection(blocking, self.updates, self.bypass_hint(), refused)
        messages.write(self.out, lines + glass, self.env.gitlab, error=True)
        reason = f"{len(blocking)} blocking findings" + "".join(f"; bypass refused: {b.refused}" for b in refused)
        self.audit("reject", reason, blocking, required=False)
        self.respond(result)
        return EXIT_BLOCKED

    def respond(self, result: ScanResult) -> None:
        """The response to a rejected push (``respond.on_push``), after the decision and never changing it:
        ``execute`` acts in a detached process (the secrets it needs are in its memory: the quarantine is gone
        once the hook exits), ``enqueue`` records the actions for a later ``leakstop respond --drain``."""
        mode = self.config.respond.on_push
        if mode == "off":
            return
        from scanner.integrations.response import OUTBOX, default_where, detached, respond

        settings = self.config.respond
        outbox = settings.path(settings.outbox) or str(Path(self.env.git_dir) / OUTBOX)
        where = default_where(self.config, self.env.git_dir, self.environ, outbox, str(self.settings.audit_log))
        where = dataclasses.replace(where, actor=self.env.actor, repository=self.env.repository)

        def act(say: Callable[[str], None]) -> None:
            respond(result, self.config, self.environ, where, mode, say, self.env.git_dir, RESPONSE_WAIT, quiet=True)

        if mode == "enqueue":
            act(lambda line: messages.write(self.out, [line], self.env.gitlab, error=False))
        else:
            detached(lambda: act(lambda _: None))

    def undecided(self, why: str, code: int) -> int:
        fail_open = self.settings.fail_open
        if fail_open:
            try:
                self.audit("fail-open", why, (), required=True)
            except InputError as exc:
                why = f"{why}; fail-open needs an audit record and it cannot be written: {exc}"
                fail_open = False
        glass = [] if fail_open else self.through_glass(why, ())
        if glass is None:
            return EXIT_PASS
        lines = messages.undecided(why, fail_open, "" if fail_open else self.bypass_hint())
        messages.write(self.out, lines + glass, self.env.gitlab, error=not fail_open)
        if fail_open:
            return EXIT_PASS
        self.audit("reject", why, (), required=False)
        return code

    def record_bypasses(self, result: ScanResult) -> None:
        for bypass in dict.fromkeys(f.bypass for f in result.findings if f.reason == "bypass"):
            assert bypass is not None
            allowed = [f for f in result.findings if f.reason == "bypass" and f.bypass == bypass]
            self.audit("bypass", bypass_reason(bypass, self.env.actor), allowed, required=True)

    def record_exceptions(self, result: ScanResult) -> None:
        """Exceptions that let findings through, or have expired so that theirs block again (best effort)."""
        refs = tuple(u.ref for u in self.updates)
        for record in exception_records(result, self.config.policy.exceptions, self.env.actor, self.env.repository):
            self.write(dataclasses.replace(record, refs=refs), required=False)

    def through_glass(self, why: str, findings: Sequence[Finding]) -> list[str] | None:
        """With a break-glass token: None when it let the push through (consumed and recorded: the push is
        accepted), else the line saying why not (recorded too). Without one: no line."""
        if self.glass is None:
            return []
        refusal = self.glass.use(dataclasses.replace(self.push_facts(findings), why=why))
        if not refusal:
            messages.write(self.out, self.glass.accepted(why), self.env.gitlab, error=False)
            return None
        self.audit("breakglass-refused", refusal, findings, required=False, subject=self.glass.subject)
        return [f"leakstop: break-glass refused: {refusal}"]

    def glass_refused(self, why: str, code: int) -> int:
        """A token not valid here and now rejects the push before anything is scanned."""
        messages.write(self.out, [f"leakstop: push rejected: {why}"], self.env.gitlab, error=True)
        subject = self.glass.subject if self.glass is not None else ""
        self.audit("breakglass-refused", why, (), required=False, subject=subject)
        return code

    def push_facts(self, findings: Sequence[Finding] = ()) -> Push:
        return Push(
            repository=self.env.repository,
            refs=tuple(u.ref for u in self.updates),
            actor=self.env.actor,
            commits=self.commits(findings),
            findings=tuple(AuditFinding(f.rule.id, f.finding_id) for f in findings),
        )

    def commits(self, findings: Sequence[Finding]) -> tuple[str, ...]:
        commits = [getattr(f.origin, "commit", "") for f in findings] if findings else self.tips()
        return tuple(dict.fromkeys(commits))

    def audit(self, action: str, reason: str, findings: Sequence[Finding], required: bool, subject: str = "") -> None:
        record = AuditRecord(
            action=action,
            actor=self.env.actor,
            repository=self.env.repository,
            reason=reason,
            refs=tuple(u.ref for u in self.updates),
            commits=self.commits(findings),
            findings=tuple(AuditFinding(f.rule.id, f.finding_id) for f in findings),
            subject=subject,
        )
        self.write(record, required)

    def write(self, record: AuditRecord, required: bool) -> None:
        try:
            append(self.settings.audit_log, record)
        except InputError as exc:
            if required:
                raise
            messages.write(self.out, [f"leakstop: warning: {exc}"], self.env.gitlab, error=False)

    def tips(self) -> list[str]:
        return list(dict.fromkeys(u.new for u in self.updates if not u.deleted))

    def bypass_hint(self) -> str:
        bypass = self.config.policy.bypass
        allowed = bypass.enabled and "push-option" in bypass.channels
        return messages.bypass_hint(allowed, allowed and self.push_options())

    def push_options(self) -> bool:
        """Whether the server takes push options: GitLab always does; git when ``receive.advertisePushOptions``."""
        # git 2.39 sets GIT_PUSH_OPTION_COUNT=0 even when it does not advertise push options: only options
        # actually received prove it takes them.
        if self.env.gitlab or self.environ.get("GIT_PUSH_OPTION_COUNT", "0") not in ("", "0"):
            return True
        args = ["git", "--git-dir", self.env.git_dir, "config", "--bool", "receive.advertisePushOptions"]
        try:
            proc = subprocess.run(args, capture_output=True, text=True, env=git_environment(), timeout=2, check=False)
        except (OSError, subprocess.SubprocessError):
            return False
        return proc.stdout.strip() == "true"

    def quarantine_note(self) -> str:
        if self.env.quarantined:
            return ""
        return (
            " (no quarantine in the environment: GIT_QUARANTINE_PATH and GIT_OBJECT_DIRECTORY are unset;"
            " run this as git's pre-receive hook)"
        )
