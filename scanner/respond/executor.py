"""Acts on the outbox: due actions, grouped by provider, in batches; every attempt recorded before it is made.

``run`` holds the outbox's lock, settles interrupted attempts (a rotate without progress is failed: its state is
unknown; revoke and notify are simply attempted again), then acts on what is due until nothing is, waiting up to
``wait`` seconds for retries that come due. The secret for an action comes from the caller's scan (in memory) or,
when the caller has none (``--drain``), from ``rescan`` over the action's places; an action whose credential
cannot be found again is marked ``needs-rescan``. Outcomes go to the outbox and to the audit log.
"""

from __future__ import annotations

import dataclasses
import random
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field

from scanner.errors import EXIT_BLOCKED, EXIT_ERROR, EXIT_PASS, EXIT_PENDING
from scanner.policy.respond import RetrySettings
from scanner.respond.audit_log import AuditFinding, AuditRecord
from scanner.respond.model import ActionKind, Credential, Outcome, ProviderResult
from scanner.respond.outbox import IN_FLIGHT, NEEDS_RESCAN, ActionState, Outbox
from scanner.respond.plan import PlannedAction
from scanner.respond.providers.base import MissingCredential, Provider, transport_outcome
from scanner.transport import HttpError

Rescan = Callable[[Sequence[PlannedAction]], Mapping[str, Credential]]  # credentials found again, by secret id


@dataclass
class Summary:
    states: dict[str, ActionState] = field(default_factory=dict)  # the actions this run was about
    missing: list[str] = field(default_factory=list)  # one line per provider that lacks its credential
    busy: bool = False  # another process holds the outbox

    @property
    def exit_code(self) -> int:
        """2 a provider's credential is missing; 1 an action failed; 5 actions are pending; 0 all done."""
        if self.missing:
            return EXIT_ERROR
        if any(s.status == Outcome.FAILED.value for s in self.states.values()):
            return EXIT_BLOCKED
        if self.busy or any(not s.final for s in self.states.values()):
            return EXIT_PENDING
        return EXIT_PASS


def backoff(attempt: int, retry: RetrySettings, jitter: float) -> float:
    """The wait after the ``attempt``-th unsuccessful attempt: exponential, capped, ½ to 1 of the step."""
    step = min(retry.base_delay * 2.0 ** max(attempt - 1, 0), retry.max_delay)
    return step * (0.5 + jitter / 2)


class Executor:
    def __init__(
        self,
        outbox: Outbox,
        providers: Callable[[str], Provider],
        retry: RetrySettings,
        *,
        rescan: Rescan | None = None,
        audit: Callable[[AuditRecord], None] | None = None,
        say: Callable[[str], None] = print,
        actor: str = "",
        repository: str = "",
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self.outbox, self.make, self.retry, self.rescan = outbox, providers, retry, rescan
        self.audit, self.say, self.actor, self.repository = audit, say, actor, repository
        self.clock, self.sleep, self.jitter = clock, sleep, jitter
        self._providers: dict[str, Provider] = {}
        self._unavailable: set[str] = set()
        self._credentials: dict[str, Credential] = {}
        self._not_found: set[str] = set()  # secret ids a rescan did not find this run
        self.missing: list[str] = []

    def run(self, credentials: Mapping[str, Credential] | None = None, only: Collection[str] | None = None,
            wait: float = 0.0) -> Summary:  # fmt: skip
        """Act on due actions (``only`` these ids, if given) until none is due within ``wait`` seconds."""
        self._credentials.update(credentials or {})
        with self.outbox.lock() as held:
            if not held:
                self.say(f"leakstop respond: {self.outbox.path}: another process is acting on it; try again later")
                return Summary(self._mine(self.outbox.states(), only), busy=True)
            self._settle_interrupted()
            deadline = self.clock() + wait
            while True:
                states = self._mine(self.outbox.states(), only)
                due = [s for s in states.values() if self._is_due(s)]
                if due:
                    self._act(due)
                    continue
                waiting = [s.due for s in states.values() if self._may_come_due(s)]
                if not waiting or min(waiting) > deadline:
                    return Summary(states, list(self.missing))
                self.sleep(max(0.0, min(waiting) - self.clock()))

    @staticmethod
    def _mine(states: dict[str, ActionState], only: Collection[str] | None) -> dict[str, ActionState]:
        return states if only is None else {aid: s for aid, s in states.items() if aid in only}

    def _may_come_due(self, state: ActionState) -> bool:
        return not state.final and state.status != NEEDS_RESCAN and state.action.provider not in self._unavailable

    def _is_due(self, state: ActionState) -> bool:
        if state.final or state.action.provider in self._unavailable or state.due > self.clock():
            return False
        if state.status == NEEDS_RESCAN:
            secret = state.action.secret_id
            return secret in self._credentials or (self.rescan is not None and secret not in self._not_found)
        return True

    def _settle_interrupted(self) -> None:
        for state in self.outbox.states().values():
            if state.status == IN_FLIGHT and state.action.kind is ActionKind.ROTATE and not state.progress:
                guide = state.action.guide or f"the {state.action.provider} console"
                detail = f"state unknown after an interrupted rotate: check {guide}"
                self._record(state, ProviderResult(Outcome.FAILED, detail))

    def _provider(self, name: str) -> Provider | None:
        if name not in self._providers and name not in self._unavailable:
            try:
                self._providers[name] = self.make(name)
            except MissingCredential as exc:
                self._unavailable.add(name)
                self.missing.append(str(exc))
                self.say(f"leakstop: error: {exc}")
        return self._providers.get(name)

    def _act(self, due: Sequence[ActionState]) -> None:
        by_provider: dict[str, list[ActionState]] = {}
        for state in due:
            by_provider.setdefault(state.action.provider, []).append(state)
        for name, states in by_provider.items():
            provider = self._provider(name)
            if provider is None:
                continue
            ready = self._with_credentials(states)
            for kind in ActionKind:
                todo = [(s, c) for s, c in ready if s.action.kind is kind]
                for start in range(0, len(todo), max(provider.batch_size, 1)):
                    self._attempt(provider, kind, todo[start : start + provider.batch_size])

    def _with_credentials(self, states: Sequence[ActionState]) -> list[tuple[ActionState, Credential]]:
        wanted = [s.action for s in states if s.action.secret_id not in self._credentials]
        if wanted and self.rescan is not None:
            self._credentials.update(self.rescan(wanted))
        ready = []
        for state in states:
            credential = self._credentials.get(state.action.secret_id)
            if credential is None:
                self._not_found.add(state.action.secret_id)
                if state.status != NEEDS_RESCAN:
                    where = ", ".join(p.describe() for p in state.action.places[:3])
                    detail = f"the credential was not found again at {where}: rescan where it is now (--drain PATH)"
                    self.outbox.needs_rescan(state.action.id, detail)
                    self.say(f"leakstop respond: {self._label(state.action)}: needs a rescan: {detail}")
                continue
            findings = tuple(p.finding_id for p in state.action.places if p.finding_id)
            ready.append((state, dataclasses.replace(credential, progress=state.progress, findings=findings)))
        return ready

    def _attempt(self, provider: Provider, kind: ActionKind, batch: Sequence[tuple[ActionState, Credential]]) -> None:
        unsupported = {s.action.id for s, _ in batch if not provider.supports(kind, s.action.rule_id)}
        for state, _ in batch:
            if state.action.id in unsupported:
                why = f"no adapter: {provider.name} cannot {kind.value} {state.action.rule_id} credentials"
                self._record(state, ProviderResult(Outcome.FAILED, why))
        batch = [(s, c) for s, c in batch if s.action.id not in unsupported]
        if not batch:
            return
        self.outbox.attempt([s.action.id for s, _ in batch])
        try:
            results = provider.act(kind, [c for _, c in batch])
        except HttpError as exc:  # a provider should turn these into outcomes; if one did not, retry later
            results = [transport_outcome(exc, provider.name)] * len(batch)
        if len(results) != len(batch):
            results = [ProviderResult(Outcome.FAILED, f"{provider.name}: answered {len(results)} of {len(batch)}")]
            results *= len(batch)
        for (state, _), result in zip(batch, results, strict=True):
            self._record(state, result)

    def _record(self, state: ActionState, result: ProviderResult) -> None:
        outcome, detail, due = result.outcome, result.detail, 0.0
        if outcome is Outcome.RETRY:
            progressed = bool(result.progress) and result.progress != state.progress
            counted = state.attempts + (0 if progressed else 1)
            if counted >= self.retry.max_attempts and not progressed:
                outcome, detail = Outcome.FAILED, f"gave up after {counted} attempts: {detail}"
            else:
                wait = 0.0 if progressed else backoff(counted, self.retry, self.jitter())
                due = self.clock() + max(wait, result.retry_after or 0.0)
        self.outbox.outcome(state.action.id, outcome, detail, due, result.progress, result.reference)
        when = f" (next attempt in {due - self.clock():.0f} s)" if due else ""
        said = f"leakstop respond: {self._label(state.action)}: {outcome.value}{when}"
        self.say(said + (f": {detail}" if detail else ""))
        if self.audit is not None:
            self.audit(self._audit_record(state.action, outcome, detail))

    def _audit_record(self, action: PlannedAction, outcome: Outcome, detail: str) -> AuditRecord:
        return AuditRecord(
            action="respond",
            actor=self.actor,
            repository=self.repository,
            reason=f"{action.kind.value} {action.rule_id} credential",
            findings=tuple(AuditFinding(action.rule_id, p.finding_id) for p in action.places if p.finding_id),
            commits=tuple(dict.fromkeys(p.commit for p in action.places if p.commit)),
            subject=action.id,
            provider=action.provider,
            outcome=outcome.value,
            secrets=(action.secret_id,),
            detail=detail,
        )

    @staticmethod
    def _label(action: PlannedAction) -> str:
        return f"{action.kind.value} {action.rule_id} {action.redacted} via {action.provider} [{action.id[:12]}]"
