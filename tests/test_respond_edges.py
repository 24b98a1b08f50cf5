"""The response's edges: rescans of places that are gone, the sink for rotations, providers that break their
contract, torn and oversized outbox lines, a policy that asks for no response."""

from __future__ import annotations

import importlib.util
import io
import os
from collections.abc import Sequence
from pathlib import Path

import pytest
import yaml
from gitrepo import Repo, isolate_git
from helpers import RunCli, config_doc
from test_respond_outbox import Clock, Scripted, action, credentials, executor
from tokens import TokenFactory

from scanner.errors import ConfigError
from scanner.integrations.response import make_sink, rescanner, response_http
from scanner.policy.config import Config, load_config
from scanner.policy.respond import RespondSettings
from scanner.respond.model import ActionKind, Credential, Outcome, ProviderResult
from scanner.respond.outbox import Outbox
from scanner.respond.plan import Place, PlannedAction, action_id, make_plan, render
from scanner.transport import NetworkError


def test_rescans_find_what_is_still_there_and_skip_what_is_gone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tokens: TokenFactory
) -> None:
    isolate_git(monkeypatch, tmp_path / "home")
    repo = Repo.init(tmp_path / "repo")
    kept, lost = tokens.github_clean(), tokens.github_clean()
    commit = repo.commit("settings", {"a.env": f"T={kept}\n"})
    (tmp_path / "b.env").write_text(f"T={lost}\n")
    config = load_config(None)
    from scanner.fingerprint import DEFAULT_KEY, secret_id

    def planned(token: str, *places: Place) -> PlannedAction:
        sid = secret_id(DEFAULT_KEY, "github-pat", token)
        return PlannedAction(action_id(sid, ActionKind.REVOKE, "github"), sid, "github-pat", ActionKind.REVOKE,
                             "github", "ghp_…(40)", places)  # fmt: skip

    root = str(repo.path)
    found = rescanner(config, {})([
        planned(kept, Place("git", "a.env", root, commit, 1), Place("git", "a.env", root, "f" * 40, 1),
                Place("git", "a.env", root, "not-an-id", 1)),
        planned(lost, Place("file", str(tmp_path / "gone.env")), Place("git", "x", str(tmp_path / "nope"), commit),
                Place("git", "x", "", commit), Place("image", "img!x")),
    ])  # fmt: skip
    assert [c.secret.reveal() for c in found.values()] == [kept]
    key = {"LEAKSTOP_FINGERPRINT_KEY": "another key"}
    assert rescanner(config, key)([planned(kept, Place("git", "a.env", root, commit, 1))]) == {}


def test_a_sink_is_made_only_when_configured(tmp_path: Path) -> None:
    http = response_http({})
    assert make_sink(Config(), {}, http) is None
    config = Config(respond=RespondSettings(source="c.yaml", sink={"kind": "webhook"}))
    if importlib.util.find_spec("scanner.respond.sinks") is None:
        with pytest.raises(ConfigError, match=r"^c.yaml: respond/sink: kind 'webhook': no sink is available"):
            make_sink(config, {}, http)


class Broken(Scripted):
    def __init__(self, mode: str) -> None:
        super().__init__([ProviderResult(Outcome.DONE)], name="github")
        self.mode = mode

    def act(self, kind: ActionKind, credentials: Sequence[Credential]) -> list[ProviderResult]:
        if self.mode == "raise":
            raise NetworkError("POST", "https://api.example/x", "connection refused")
        return []


@pytest.mark.parametrize(("mode", "status"), [("raise", "pending"), ("short", "failed")])
def test_a_provider_that_breaks_its_contract(tmp_path: Path, tokens: TokenFactory, mode: str, status: str) -> None:
    token = tokens.github()
    one = action(token)
    outbox = Outbox(tmp_path / "outbox.jsonl")
    outbox.enqueue([one])
    summary = executor(outbox, lambda _: Broken(mode), Clock()).run(credentials((one, token)))
    assert summary.states[one.id].status == status


def test_long_torn_lines_are_cut_back_to_the_last_record(tmp_path: Path, tokens: TokenFactory) -> None:
    outbox = Outbox(tmp_path / "outbox.jsonl")
    outbox.path.write_bytes(b"x" * 70_000)  # no record at all, just a torn write
    outbox.enqueue([action(tokens.github())])
    assert len(outbox.states()) == 1
    with open(outbox.path, "ab") as f:
        f.write(b"[1]\n" + b"y" * 70_000)  # a JSON line that is not a record, then a long torn one
    one = action(tokens.github())
    outbox.enqueue([one])
    assert len(outbox.states()) == 2 and b"y" * 100 not in outbox.path.read_bytes()


def test_fold_records_a_rescan_and_ignores_an_unknown_type(tmp_path: Path, tokens: TokenFactory) -> None:
    outbox = Outbox(tmp_path / "outbox.jsonl")
    one = action(tokens.github())
    outbox.enqueue([one])
    outbox.append([{"type": "a-later-kind", "id": one.id}])
    assert outbox.states()[one.id].status == "pending"


def test_no_response_when_the_policy_asks_for_none(tmp_path: Path, tokens: TokenFactory, run_cli: RunCli) -> None:
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "a.env").write_text(f"T={tokens.github_clean()}\n")
    config = tmp_path / "leakstop.yaml"
    doc = config_doc(("github-pat",), respond={"actions": [{"rules": ["aws-*"]}]})
    config.write_text(yaml.safe_dump(doc), encoding="utf-8")
    code, out, _ = run_cli("respond", "-c", config, tree)
    assert code == 0 and "no response: respond.actions ask for none for this rule" in out
    from scanner.pipeline import run
    from scanner.pipeline.request import ScanRequest

    result = run(ScanRequest(kind="paths", paths=(str(tree),), config=load_config(config)))
    plan = make_plan(result, load_config(config).respond, lambda _: None)
    text = io.StringIO()
    render(plan, text)
    assert "0 actions for 0 credentials" in text.getvalue()


def test_audit_verify_notes_records_after_the_head(tmp_path: Path, run_cli: RunCli) -> None:
    from scanner.respond.audit_log import AuditRecord, append, head_path

    log = tmp_path / "audit.jsonl"
    append(log, AuditRecord("respond", "me", "repo"))
    head = head_path(log).read_bytes()
    append(log, AuditRecord("respond", "me", "repo"))
    head_path(log).write_bytes(head)
    code, out, _ = run_cli("audit", "verify", log)
    assert code == 0 and "note: 1 records after the head" in out


def test_drain_with_nothing_to_do(tmp_path: Path, run_cli: RunCli) -> None:
    outbox = tmp_path / "o.jsonl"
    code, _, err = run_cli("respond", "--drain", "--no-config", "--outbox", outbox, tmp_path)
    assert code == 0 and "nothing to do" in err
    assert not os.path.exists(outbox)


def test_audit_verify_reads_a_line_written_by_another_encoder(tmp_path: Path) -> None:
    """A record re-encoded with spaces (another tool appended it) is checked against its JSON, not its bytes."""
    import json as jsonlib

    from scanner.respond.audit_log import AuditRecord, append, verify

    log = tmp_path / "audit.jsonl"
    append(log, AuditRecord("respond", "me", "repo", subject="a"))
    doc = jsonlib.loads(log.read_text())
    log.write_text(jsonlib.dumps(doc, indent=None, separators=(", ", ": ")) + "\n")
    assert verify(log).ok
    doc["actor"] = "someone else"
    log.write_text(jsonlib.dumps(doc) + "\n")
    assert verify(log).problem == "edited: its content does not match its hash"
