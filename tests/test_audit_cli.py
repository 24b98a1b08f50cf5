"""``leakstop audit verify|show`` and the audit records ``scan``, ``ci`` and the pre-receive hook write for
bypasses (applied, refused) and policy exceptions (applied, expired): fingerprints and rule ids only."""

from __future__ import annotations

import datetime
import json
from pathlib import Path

import pytest
from gitrepo import isolate_git
from helpers import MakeConfig, RunCli
from prereceive_server import make_server, push, seeded_clone
from tokens import TokenFactory

from scanner.respond.audit_log import AuditFinding, AuditRecord, append, canonical


@pytest.fixture
def log(tmp_path: Path) -> Path:
    path = tmp_path / "audit.jsonl"
    finding = AuditFinding("github-pat", "f" * 64)
    append(path, AuditRecord("reject", "bo", "group/app", "1 finding", refs=("refs/heads/main",), findings=(finding,)))
    append(path, AuditRecord("bypass", "carol", "group/app", "fixture (through push-option)"))
    append(path, AuditRecord("breakglass-use", "dana", "group/app", "incident", subject="0123456789ab", detail="x"))
    return path


def test_verify_says_intact_tampered_or_unreadable_with_its_exit_code(log: Path, run_cli: RunCli) -> None:
    assert run_cli("audit", "verify", log) == (0, f"{log}: 3 records, chain intact\n", "")
    code, out, _ = run_cli("audit", "verify", log, "--json")
    assert (code, json.loads(out)["records"], json.loads(out)["ok"]) == (0, 3, True)

    lines = log.read_bytes().splitlines()
    doc = json.loads(lines[1])
    doc["actor"] = "mallory"
    log.write_bytes(b"\n".join([lines[0], canonical(doc), lines[2]]) + b"\n")
    code, out, _ = run_cli("audit", "verify", log)
    assert (code, out) == (1, f"{log}: line 2: edited: its content does not match its hash\n")
    log.write_bytes(b"\n".join([lines[0], lines[2], lines[1]]) + b"\n")
    code, out, _ = run_cli("audit", "verify", log, "--json")
    assert (code, json.loads(out)["bad_line"]) == (1, 2)
    log.write_bytes(b"\n".join(lines[:2]) + b"\n")
    code, out, _ = run_cli("audit", "verify", log)
    assert code == 1 and "line 3: missing: the log ends after 2 records" in out

    code, out, err = run_cli("audit", "verify", log.with_name("none.jsonl"))
    assert (code, out) == (2, "") and "cannot read the audit log" in err


def test_verify_notes_a_lagging_head_and_finds_the_log_in_the_policy(
    log: Path, run_cli: RunCli, make_config: MakeConfig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    head = log.with_name("audit.jsonl.head")
    append(log, AuditRecord("reject", "bob", "group/app"))
    head.write_text('{"hash":"' + json.loads(log.read_bytes().splitlines()[2])["hash"] + '","seq":3}\n')
    config = make_config(path=tmp_path / "leakstop.yaml", policy={"audit_log": "audit.jsonl"})
    code, out, _ = run_cli("audit", "verify", "--config", config)
    assert code == 0
    assert out.splitlines()[1] == "  note: 1 records after the head (a write interrupted before the head was updated)"
    monkeypatch.chdir(tmp_path.parent)
    code, _, err = run_cli("audit", "verify", "--no-config")
    assert code == 2 and "give LOG, or set policy.audit_log" in err


def test_show_lists_recent_records_filtered_by_action(log: Path, run_cli: RunCli) -> None:
    code, out, _ = run_cli("audit", "show", log)
    assert code == 0
    first, second, third = out.splitlines()
    assert first.startswith("1  ") and "reject  bo  group/app  refs/heads/main  1 findings (github-pat)" in first
    assert "[0123456789ab]" in third and third.endswith("reason: incident  detail: x")
    code, out, _ = run_cli("audit", "show", log, "--action", "bypass", "--action", "reject", "--last", "1")
    assert out.splitlines() == [second]
    code, out, _ = run_cli("audit", "show", log, "--json", "--last", "0")
    assert [json.loads(line)["seq"] for line in out.splitlines()] == [1, 2, 3]
    log.write_bytes(log.read_bytes() + b"\x1b[2J not json\n")
    code, _, err = run_cli("audit", "show", log)
    assert code == 2 and "line 4: not a JSON record" in err
    code, _, err = run_cli("audit", "show", log.with_name("none"))
    assert code == 2 and "cannot read the audit log" in err


# --- records from scan, ci and the hook ---


def _repo_with_secret(tmp_path: Path, tokens: TokenFactory) -> tuple[Path, str]:
    repo = tmp_path / "repo"
    repo.mkdir()
    token = tokens.github_clean()
    (repo / "ci.env").write_text(f"GITHUB_TOKEN={token}\n")
    return repo, token


def test_scan_records_bypasses_applied_and_refused(
    tmp_path: Path, tokens: TokenFactory, make_config: MakeConfig, run_cli: RunCli, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo, token = _repo_with_secret(tmp_path, tokens)
    config = make_config(policy={"bypass": {"enabled": True}, "audit_log": "logs/audit.jsonl"})
    audit_log = config.parent / "logs" / "audit.jsonl"
    monkeypatch.setenv("GITHUB_ACTOR", "erin")
    monkeypatch.setenv("GITHUB_REPOSITORY", "org/app")
    monkeypatch.setenv("LEAKSTOP_BYPASS", "test fixture")
    assert run_cli("scan", repo, "--config", config)[0] == 0
    monkeypatch.setenv("LEAKSTOP_BYPASS", "")
    assert run_cli("scan", repo, "--config", config)[0] == 1
    applied, refused = (json.loads(line) for line in audit_log.read_text().splitlines())
    assert (applied["action"], applied["actor"], applied["repository"]) == ("bypass", "erin", "org/app")
    assert applied["reason"] == "test fixture (through env)"
    assert [f["rule"] for f in applied["findings"]] == ["github-pat"]
    assert (refused["action"], refused["detail"]) == ("bypass-refused", "no reason given")
    assert token not in audit_log.read_text()
    assert run_cli("audit", "verify", audit_log)[0] == 0

    (audit_log.parent / "audit.jsonl.head").unlink()
    (audit_log.parent / "audit.jsonl.head").mkdir()  # the log cannot be written: the bypass must not pass unseen
    monkeypatch.setenv("LEAKSTOP_BYPASS", "test fixture")
    code, _, err = run_cli("scan", repo, "--config", config)
    assert code == 2 and "cannot write the audit log" in err


def test_scan_and_the_hook_record_exceptions_that_applied_and_that_expired(
    tmp_path: Path, tokens: TokenFactory, make_config: MakeConfig, run_cli: RunCli, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo, _ = _repo_with_secret(tmp_path, tokens)
    _, out, _ = run_cli("scan", repo, "--no-config", "--format", "json")
    finding_id = json.loads(out)["findings"][0]["id"]
    today = datetime.date.today()
    cases = [(today, "exception", "expires", 0), (today.replace(year=2020), "exception-expired", "expired", 1)]
    for expires, action, verb, code in cases:
        exception = {"id": finding_id[:16], "owner": "sec-team", "reason": "test data", "expires": expires.isoformat()}
        config = make_config(policy={"audit_log": "audit.jsonl"}, exceptions=[exception])
        assert run_cli("scan", repo, "--config", config)[0] == code
        record = json.loads((config.parent / "audit.jsonl").read_text().splitlines()[-1])
        assert (record["action"], record["subject"]) == (action, finding_id[:16])
        assert record["detail"] == f"owner sec-team; {verb} {expires.isoformat()}"
        assert record["findings"] == [{"fingerprint": finding_id, "rule": "github-pat"}]

    isolate_git(monkeypatch, tmp_path / "home")
    server = make_server(tmp_path / "server.git")
    work = seeded_clone(server, tmp_path / "work")
    token = tokens.github_clean()
    work.commit("fixture", {"f.env": f"GITHUB_TOKEN={token}\n"})
    rejected = push(work, "origin", "HEAD:main")
    pushed_id = server.audit()[-1]["findings"][0]["fingerprint"]
    exception = {"id": pushed_id, "owner": "sec-team", "reason": "test data", "expires": today.isoformat()}
    server.configure(exceptions=[exception])
    accepted = push(work, "origin", "HEAD:main")
    assert rejected.returncode != 0 and accepted.returncode == 0, accepted.stderr
    record = server.audit()[-1]
    assert (record["action"], record["subject"], record["refs"]) == ("exception", pushed_id, ["refs/heads/main"])
