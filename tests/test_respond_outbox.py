"""The outbox (records, fold, durability) and the executor (batches, retries, interruptions, rescans), against
the GitHub provider on a loopback server, and a scripted provider for multi-step actions."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from httpserver import LoopbackServer, Reply, ServerFactory
from tokens import TokenFactory

from scanner.errors import EXIT_BLOCKED, EXIT_ERROR, EXIT_PASS, EXIT_PENDING, InputError
from scanner.integrations.response import response_http
from scanner.models import Secret
from scanner.policy.respond import RetrySettings
from scanner.respond.audit_log import AuditRecord, append, verify
from scanner.respond.executor import Executor, Summary, backoff
from scanner.respond.model import ActionKind, Credential, Outcome, ProviderResult
from scanner.respond.outbox import NEEDS_RESCAN, Outbox, fold
from scanner.respond.plan import Place, PlannedAction, action_id
from scanner.respond.providers import make_provider
from scanner.respond.providers.base import Provider, ProviderContext

PATH = "/credentials/revoke"


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


@dataclass
class Scripted:
    """A provider answering from a script (for multi-step kinds no provider of this build has)."""

    answers: list[ProviderResult]
    name: str = "webhook"
    guide: str = "https://example.invalid/guide"
    batch_size: int = 10
    seen: list[str] = field(default_factory=list)  # the progress each call was handed

    def supports(self, kind: ActionKind, rule_id: str) -> bool:
        return rule_id != "unsupported-rule"

    def act(self, kind: ActionKind, credentials: Sequence[Credential]) -> list[ProviderResult]:
        self.seen.extend(c.progress for c in credentials)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        return [answer] * len(credentials)


def action(
    token: str, kind: ActionKind = ActionKind.REVOKE, provider: str = "github", rule: str = "github-pat"
) -> PlannedAction:
    sid = "sid-" + token[-10:]
    place = Place("file", "/repo/a.env", line=1, finding_id="fid-" + token[-6:])
    return PlannedAction(action_id(sid, kind, provider), sid, rule, kind, provider, Secret(token).redacted(), (place,))


def credentials(*actions_and_tokens: tuple[PlannedAction, str]) -> dict[str, Credential]:
    return {a.secret_id: Credential(a.rule_id, a.secret_id, Secret(t)) for a, t in actions_and_tokens}


def github(api: LoopbackServer, **settings: Any) -> Any:
    def make(name: str) -> Provider:
        return make_provider(ProviderContext(name, response_http({}), {}, {"api_url": api.base, **settings}))

    return make


def executor(outbox: Outbox, providers: Any, clock: Clock, audit: Path | None = None, **kwargs: Any) -> Executor:
    retry = kwargs.pop("retry", RetrySettings(max_attempts=3, base_delay=10, max_delay=100))
    record = (lambda r: append(audit, r) and None) if audit else None
    return Executor(outbox, providers, retry, audit=record, say=lambda _: None, clock=clock, sleep=clock.sleep,
                    jitter=lambda: 1.0, **kwargs)  # fmt: skip


@dataclass
class World:
    """One revocation enqueued in a fresh outbox, a clock, and the API it goes to."""

    api: LoopbackServer
    token: str
    one: PlannedAction
    outbox: Outbox
    clock: Clock

    def run(self, **kwargs: Any) -> Summary:
        wait = kwargs.pop("wait", 0.0)
        return executor(self.outbox, github(self.api), self.clock, **kwargs).run(
            credentials((self.one, self.token)), wait=wait
        )


def world(tmp_path: Path, http_server: ServerFactory, tokens: TokenFactory, *replies: Reply) -> World:
    api = http_server()
    api.route("POST", PATH, *replies)
    token = tokens.github()
    one = action(token)
    outbox = Outbox(tmp_path / "outbox.jsonl")
    outbox.enqueue([one])
    return World(api, token, one, outbox, Clock())


def test_an_action_is_recorded_before_it_is_attempted_and_never_a_secret(
    tmp_path: Path, http_server: ServerFactory, tokens: TokenFactory
) -> None:
    w = world(tmp_path, http_server, tokens, Reply(202))
    one, token = w.one, w.token
    assert w.outbox.enqueue([one, one]) == []  # already there
    summary = w.run(audit=tmp_path / "audit.jsonl")
    assert summary.exit_code == EXIT_PASS and summary.states[one.id].status == "done"
    lines = [json.loads(line) for line in (tmp_path / "outbox.jsonl").read_text().splitlines()]
    assert [d["type"] for d in lines] == ["enqueue", "attempt", "outcome"]
    assert lines[0]["redacted"] == one.redacted and lines[2]["outcome"] == "done"
    for name in ("outbox.jsonl", "audit.jsonl"):
        assert token not in (tmp_path / name).read_text()
    assert verify(tmp_path / "audit.jsonl").ok
    audit = json.loads((tmp_path / "audit.jsonl").read_text())
    assert (audit["action"], audit["subject"], audit["provider"], audit["outcome"], audit["secrets"]) == (
        "respond",
        one.id,
        "github",
        "done",
        [one.secret_id],
    )
    # A completed action is never attempted again.
    w.run()
    assert len(w.api.requests) == 1


def test_retries_back_off_exponentially_and_honour_retry_after(
    tmp_path: Path, http_server: ServerFactory, tokens: TokenFactory
) -> None:
    w = world(tmp_path, http_server, tokens, Reply(503), Reply(429, headers={"Retry-After": "250"}), Reply(202))
    start, aid = w.clock.now, w.one.id
    first = w.run()
    assert first.exit_code == EXIT_PENDING and first.states[aid].due == start + 10  # base delay, jitter 1.0
    second = w.run(wait=15)
    assert w.clock.slept == [10] and second.states[aid].due == pytest.approx(start + 10 + 250)
    third = w.run(wait=300)
    assert third.exit_code == EXIT_PASS and len(w.api.requests) == 3


def test_backoff_is_capped_and_jittered() -> None:
    retry = RetrySettings(base_delay=10, max_delay=100)
    assert [backoff(n, retry, 1.0) for n in (1, 2, 3, 4, 5)] == [10, 20, 40, 80, 100]
    assert backoff(3, retry, 0.0) == 20  # half the step at the least


def test_it_gives_up_after_max_attempts(tmp_path: Path, http_server: ServerFactory, tokens: TokenFactory) -> None:
    w = world(tmp_path, http_server, tokens, Reply(500))
    summary = w.run(wait=1000)
    assert summary.exit_code == EXIT_BLOCKED and len(w.api.requests) == 3
    assert summary.states[w.one.id].detail.startswith("gave up after 3 attempts: github: revoke: HTTP 500")


def test_a_retry_that_made_progress_is_not_an_attempt(tmp_path: Path, tokens: TokenFactory) -> None:
    steps = [ProviderResult(Outcome.RETRY, "created", 5, progress="created:AKIA1"),
             ProviderResult(Outcome.RETRY, "deactivated", 5, progress="deactivated:AKIA1"),
             ProviderResult(Outcome.DONE, "deleted", reference="AKIA1")]  # fmt: skip
    provider = Scripted(steps)
    token = tokens.aws_key_id()
    one = action(token, ActionKind.ROTATE, "webhook", "aws-access-key-id")
    outbox, clock = Outbox(tmp_path / "outbox.jsonl"), Clock()
    outbox.enqueue([one])
    retry = RetrySettings(max_attempts=1)
    summary = executor(outbox, lambda _: provider, clock, retry=retry).run(credentials((one, token)), wait=60)
    assert summary.states[one.id].status == "done" and summary.states[one.id].reference == "AKIA1"
    assert provider.seen == ["", "created:AKIA1", "deactivated:AKIA1"]
    assert clock.slept == [5, 5]


def test_an_interrupted_attempt(tmp_path: Path, http_server: ServerFactory, tokens: TokenFactory) -> None:
    """Killed between the attempt record and the outcome: revoke is attempted again; a rotate is not, unless its
    progress says where to resume."""
    api = http_server()
    api.route("POST", PATH, Reply(202))
    revoke_token, rotate_token, resume_token = tokens.github(), tokens.aws_key_id(), tokens.aws_key_id()
    revoke = action(revoke_token)
    rotate = action(rotate_token, ActionKind.ROTATE, "webhook", "aws-access-key-id")
    resume = action(resume_token, ActionKind.ROTATE, "webhook", "aws-access-key-id")
    outbox, clock = Outbox(tmp_path / "outbox.jsonl"), Clock()
    outbox.enqueue([revoke, rotate, resume])
    outbox.attempt([resume.id])
    outbox.outcome(resume.id, Outcome.RETRY, "created", clock.now, progress="created:AKIA2")
    outbox.attempt([revoke.id, rotate.id, resume.id])  # and then the process was killed
    scripted = Scripted([ProviderResult(Outcome.DONE)], guide="https://aws.example/guide")
    providers = {"github": github(api)("github"), "webhook": scripted}
    creds = credentials((revoke, revoke_token), (rotate, rotate_token), (resume, resume_token))
    summary = executor(outbox, providers.__getitem__, clock).run(creds)
    assert summary.states[revoke.id].status == "done" and len(api.requests) == 1
    assert summary.states[rotate.id].status == "failed"
    assert summary.states[rotate.id].detail == "state unknown after an interrupted rotate: check the webhook console"
    assert summary.states[resume.id].status == "done" and scripted.seen == ["created:AKIA2"]
    assert summary.exit_code == EXIT_BLOCKED


def test_a_pending_action_is_found_again_by_a_rescan_or_waits_for_one(
    tmp_path: Path, http_server: ServerFactory, tokens: TokenFactory
) -> None:
    w = world(tmp_path, http_server, tokens, Reply(202))
    api, token, one, outbox, clock = w.api, w.token, w.one, w.outbox, w.clock
    asked: list[list[str]] = []

    def nothing(actions: Sequence[PlannedAction]) -> Mapping[str, Credential]:
        asked.append([a.id for a in actions])
        return {}

    summary = executor(outbox, github(api), clock, rescan=nothing).run()
    assert summary.states[one.id].status == NEEDS_RESCAN and summary.exit_code == EXIT_PENDING
    assert "was not found again at /repo/a.env:1" in summary.states[one.id].detail and asked == [[one.id]]
    assert api.requests == []
    found = executor(outbox, github(api), clock, rescan=lambda _: credentials((one, token))).run()
    assert found.states[one.id].status == "done" and len(api.requests) == 1
    assert token not in (tmp_path / "outbox.jsonl").read_text()


def test_a_missing_credential_attempts_nothing_for_its_provider(tmp_path: Path, tokens: TokenFactory) -> None:
    token = tokens.github()
    one = action(token)
    outbox, clock = Outbox(tmp_path / "outbox.jsonl"), Clock()
    outbox.enqueue([one])

    def make(name: str) -> Provider:
        return make_provider(ProviderContext(name, response_http({}), {}, {"authenticated": True}))

    summary = executor(outbox, make, clock).run(credentials((one, token)))
    assert summary.exit_code == EXIT_ERROR
    assert summary.missing == ["respond: provider 'github' needs a credential: set $LEAKSTOP_GITHUB_TOKEN"]
    assert summary.states[one.id].status == "pending"
    assert [json.loads(line)["type"] for line in outbox.path.read_text().splitlines()] == ["enqueue"]


def test_batches_and_unsupported_rules(tmp_path: Path, http_server: ServerFactory, tokens: TokenFactory) -> None:
    api = http_server()
    api.route("POST", PATH, Reply(202))
    pairs = [(action(t), t) for t in (tokens.github() for _ in range(5))]
    odd = tokens.github("ghs_")
    unsupported = action(odd, rule="github-app-installation-token")
    outbox, clock = Outbox(tmp_path / "outbox.jsonl"), Clock()
    outbox.enqueue([a for a, _ in pairs] + [unsupported])
    summary = executor(outbox, github(api, batch_size=2), clock).run(credentials(*pairs, (unsupported, odd)))
    assert [len(json.loads(r.body)["credentials"]) for r in api.requests] == [2, 2, 1]
    assert summary.states[unsupported.id].detail.startswith("no adapter: github cannot revoke")


def test_one_executor_at_a_time(tmp_path: Path, tokens: TokenFactory) -> None:
    outbox, clock = Outbox(tmp_path / "outbox.jsonl"), Clock()
    outbox.enqueue([action(tokens.github())])
    with outbox.lock() as held:
        assert held
        summary = executor(Outbox(outbox.path), lambda _: Scripted([]), clock).run()
    assert summary.busy and summary.exit_code == EXIT_PENDING


def test_a_torn_last_line_is_skipped_then_cut_and_a_damaged_one_stops(tmp_path: Path, tokens: TokenFactory) -> None:
    outbox = Outbox(tmp_path / "outbox.jsonl")
    one, two = action(tokens.github()), action(tokens.github())
    outbox.enqueue([one])
    with open(outbox.path, "ab") as f:
        f.write(b'{"type":"attempt","id":"' + one.id.encode())  # a write cut short
    assert list(outbox.states()) == [one.id] and outbox.states()[one.id].status == "pending"
    outbox.enqueue([two])
    assert [json.loads(line)["id"] for line in outbox.path.read_text().splitlines()] == [one.id, two.id]
    outbox.path.write_text("not json\n")
    with pytest.raises(InputError, match=r"outbox.jsonl: line 1: not a JSON record"):
        outbox.states()
    assert Outbox(tmp_path / "none.jsonl").states() == {}


def test_fold_ignores_what_comes_after_the_end(tokens: TokenFactory) -> None:
    one = action(tokens.github())
    enqueue = {"type": "enqueue", "id": one.id, "secret_id": one.secret_id, "rule": one.rule_id, "kind": "revoke",
               "provider": "github", "redacted": one.redacted, "places": [{"kind": "file", "path": "/a"}]}  # fmt: skip
    states = fold([
        {"type": "attempt", "id": "unknown"},
        enqueue,
        {"type": "outcome", "id": one.id, "outcome": "done"},
        {"type": "attempt", "id": one.id},
        {"type": "from-a-newer-version", "id": one.id},
    ])  # fmt: skip
    assert states[one.id].status == "done" and states[one.id].action.places == (Place("file", "/a"),)


def test_summary_exit_codes(tokens: TokenFactory) -> None:
    assert Summary().exit_code == EXIT_PASS
    assert Summary(busy=True).exit_code == EXIT_PENDING
    assert Summary(missing=["x"]).exit_code == EXIT_ERROR


def test_an_unwritable_outbox_is_a_one_line_error(tmp_path: Path, tokens: TokenFactory) -> None:
    (tmp_path / "file").write_text("")
    broken = Outbox(tmp_path / "file" / "outbox.jsonl")
    with pytest.raises(InputError, match=r"file/outbox.jsonl: cannot read the outbox: Not a directory"):
        broken.enqueue([action(tokens.github())])
    with pytest.raises(InputError, match=r"file/outbox.jsonl: cannot open the outbox"):
        broken.append([{"type": "attempt", "id": "x"}])
    with pytest.raises(InputError, match=r"cannot open the outbox's lock"), Outbox(tmp_path / "file" / "o").lock():
        pass


def test_audit_records_are_written_with_their_own_fields(tmp_path: Path) -> None:
    entry = append(tmp_path / "a.jsonl", AuditRecord("respond", "me", "repo", subject="x", outcome="done"))
    assert entry.seq == 1
