"""Break-glass: ``leakstop breakglass request|approve|list|revoke`` and ``git push -o leakstop.breakglass=TOKEN``
through the real pre-receive hook on real bare repositories, every step in the audit log.

Two people: the tests run as one unix account, so the second person comes in through the identity function the
command takes (``scanner.cli.breakglass.run(args, identity=…)``); the real identity (``pwd`` on ``getuid``) is
exercised by running the command as a subprocess, where requesting and approving as the same account is refused.
"""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from gitrepo import Repo, isolate_git
from prereceive_server import LEAKSTOP, Server, make_server, push, remote_lines, seeded_clone
from tokens import TokenFactory

from scanner.cli import breakglass as glass_cli
from scanner.cli import build_parser
from scanner.errors import LeakstopError
from scanner.policy.pushprotection import BreakGlassSettings
from scanner.respond.audit_log import verify
from scanner.respond.breakglass import BreakGlass, token_id
from scanner.respond.breakglass_store import Store

HOST_VARIABLES = ("GL_ID", "GL_USERNAME", "GL_PROTOCOL", "GL_PROJECT_PATH", "GITHUB_USER_LOGIN", "GITHUB_REPO_NAME")


@pytest.fixture(autouse=True)
def _git_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    isolate_git(monkeypatch, tmp_path / "home")
    for name in (*HOST_VARIABLES, "LEAKSTOP_HOOK_ARGS", "GIT_DIR"):
        monkeypatch.delenv(name, raising=False)


def enable(server: Server, **settings: Any) -> None:
    server.configure(push_protection={"breakglass": {"enabled": True, **settings}})


@pytest.fixture
def server(tmp_path: Path) -> Server:
    server = make_server(tmp_path / "server.git")
    enable(server)
    return server


@pytest.fixture
def work(server: Server, tmp_path: Path) -> Repo:
    """A clone whose main branch (one clean commit) the server has."""
    return seeded_clone(server, tmp_path / "work")


def glass(server: Server, who: str, *args: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """``leakstop breakglass …`` in process, acting as ``who``."""
    parsed = build_parser().parse_args(["breakglass", *args, "--git-dir", str(server.path)])
    capsys.readouterr()
    try:
        code = glass_cli.run(parsed, identity=lambda: who)
    except LeakstopError as exc:  # as scanner.cli.main's handler does
        code = exc.exit_code
        print(f"leakstop: error: {exc}", file=sys.stderr)
    out, err = capsys.readouterr()
    return code, out, err


def issued(server: Server, capsys: pytest.CaptureFixture[str], *request: str) -> tuple[str, str]:
    """alice requests, bob approves: the request id and the token."""
    code, out, err = glass(server, "alice", "request", "--reason", "incident 4711: hotfix", *request, capsys=capsys)
    assert code == 0, err
    request_id = out.strip()
    code, out, err = glass(server, "bob", "approve", request_id, capsys=capsys)
    assert code == 0, err
    return request_id, out.strip()


def secret_push(work: Repo, tokens: TokenFactory, token: str, ref: str = "main") -> subprocess.CompletedProcess[str]:
    work.commit("hotfix", {f"{secrets.token_hex(3)}.env": f"GITHUB_TOKEN={tokens.github_clean()}\n"})
    return push(work, "-o", f"leakstop.breakglass={token}", "origin", f"HEAD:{ref}")


def actions(server: Server) -> list[str]:
    return [r["action"] for r in server.audit()]


def test_an_approved_token_lets_exactly_one_push_through_and_every_step_is_recorded(
    server: Server, work: Repo, tokens: TokenFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    request_id, token = issued(server, capsys)
    assert token.startswith(f"lsbg_{request_id}_") and len(token) == 5 + 12 + 1 + 43

    first = secret_push(work, tokens, token)
    assert first.returncode == 0, first.stderr
    said = remote_lines(first)
    assert said[0].startswith(f"leakstop: push accepted through break-glass {request_id} (requested by alice,")
    assert "1 blocking findings" in said[0]
    assert server.rev("main") == work.head()

    second = secret_push(work, tokens, token)
    assert second.returncode != 0
    assert remote_lines(second) == [f"leakstop: push rejected: break-glass token {request_id}: already used"]

    records = server.audit()
    assert [r["action"] for r in records] == [
        "breakglass-request", "breakglass-approve", "breakglass-use", "breakglass-refused"
    ]  # fmt: skip
    assert {r["subject"] for r in records[:4]} == {request_id}
    assert [r["actor"] for r in records[:2]] == ["alice", "bob"]
    use = records[2]
    assert (use["refs"], [f["rule"] for f in use["findings"]]) == (["refs/heads/main"], ["github-pat"])
    assert use["detail"] == "1 blocking findings; requested by alice, approved by bob"
    secret_part = token.split("_", 2)[2]
    for text in (server.audit_log.read_text(), first.stderr, second.stderr):
        assert secret_part not in text
    assert verify(server.audit_log).ok


def test_self_approval_is_refused_with_the_real_identity_and_recorded(server: Server, work: Repo) -> None:
    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(LEAKSTOP), "breakglass", *args], cwd=server.path, capture_output=True, text=True, check=False
        )

    requested = cli("request", "--reason", "restore prod", "--ref", "main", "--ttl", "30m")
    assert requested.returncode == 0, requested.stderr
    request_id = requested.stdout.strip()
    assert f"leakstop breakglass approve {request_id}" in requested.stderr

    approved = cli("approve", request_id, "--git-dir", str(server.path))
    assert approved.returncode == 1
    assert "a different person must approve it (self-approval refused)" in approved.stderr
    assert approved.stdout == ""  # no token
    listed = cli("list", "--json")
    (row,) = [json.loads(line) for line in listed.stdout.splitlines()]
    assert (row["id"], row["state"], row["ref"]) == (request_id, "pending", "refs/heads/main")
    assert actions(server) == ["breakglass-request", "breakglass-approve-refused"]
    assert server.audit()[1]["actor"] == glass_cli.os_user()


def test_only_a_listed_approver_may_approve_and_revoke(
    server: Server, work: Repo, capsys: pytest.CaptureFixture[str]
) -> None:
    enable(server, approvers=["carol"])
    code, out, _ = glass(server, "alice", "request", "--reason", "why", capsys=capsys)
    request_id = out.strip()
    code, out, err = glass(server, "bob", "approve", request_id, capsys=capsys)
    assert (code, out) == (1, "")
    assert "bob is not one of the policy's break-glass approvers" in err
    code, _, err = glass(server, "bob", "revoke", request_id, capsys=capsys)
    assert code == 1 and "only its requester or an approver" in err
    code, out, err = glass(server, "carol", "approve", request_id, capsys=capsys)
    assert code == 0 and out.startswith(f"lsbg_{request_id}_")
    code, _, err = glass(server, "carol", "approve", request_id, capsys=capsys)
    assert code == 1 and "is approved, not waiting for approval" in err


def test_an_expired_token_and_an_unapproved_request_expire_with_a_moved_clock(
    server: Server, work: Repo, tokens: TokenFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    hours_ago = time.time() - 3 * 3600
    settings = BreakGlassSettings(enabled=True)
    store = Store(server.path / "leakstop" / "breakglass.sqlite")
    then = BreakGlass(store, server.audit_log, settings, clock=lambda: hours_ago)
    old = then.request("alice", "three hours ago", str(server.path), "", 3600)
    _, token = then.approve("bob", old.id)  # valid for one hour, two hours ago
    late = BreakGlass(store, server.audit_log, settings, clock=lambda: hours_ago - 22 * 3600)
    stale = late.request("alice", "a day ago", str(server.path), "", 3600)  # never approved within 24h

    proc = secret_push(work, tokens, token)
    assert proc.returncode != 0
    assert remote_lines(proc) == [f"leakstop: push rejected: break-glass token {old.id}: expired"]
    expired = {r["subject"]: r["detail"] for r in server.audit() if r["action"] == "breakglass-expired"}
    assert expired[old.id].startswith("token not used by ")
    assert expired[stale.id].startswith("not approved by ")
    code, _, err = glass(server, "bob", "approve", stale.id, capsys=capsys)
    assert code == 1 and f"break-glass request {stale.id} is expired" in err
    assert actions(server).count("breakglass-expired") == 2  # recorded once, by whoever found it first
    store.close()


def test_a_forged_a_malformed_a_revoked_and_an_out_of_scope_token_are_refused(
    server: Server, work: Repo, tokens: TokenFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    request_id, token = issued(server, capsys, "--ref", "hotfix")
    forged = f"lsbg_{request_id}_{secrets.token_urlsafe(32)}"
    cases = {
        forged: f"break-glass token {request_id}: not valid (forged, mistyped or never approved)",
        "lsbg_nothing": "leakstop.breakglass: not a break-glass token (expected lsbg_<id>_<secret>)",
        f"lsbg_{'0' * 12}_{secrets.token_urlsafe(32)}": f"break-glass token {'0' * 12}: no such request",
        token: f"break-glass token {request_id}: issued for refs/heads/hotfix only",  # pushed to main
    }
    for presented, reason in cases.items():
        proc = secret_push(work, tokens, presented)
        assert remote_lines(proc) == [f"leakstop: push rejected: {reason}"]
        assert presented.split("_", 2)[-1] not in proc.stderr
        work.git("reset", "-q", "--hard", "origin/main")

    code, _, _ = glass(server, "alice", "revoke", request_id, capsys=capsys)
    assert code == 0
    revoked = secret_push(work, tokens, token, ref="hotfix")
    assert remote_lines(revoked) == [f"leakstop: push rejected: break-glass token {request_id}: revoked"]
    refused = [r for r in server.audit() if r["action"] == "breakglass-refused"]
    assert len(refused) == 5 and {r.get("subject", "") for r in refused} == {request_id, "", "0" * 12}
    assert "breakglass-revoke" in actions(server)

    other_id, other = issued(server, capsys, "--repo", "group/other")
    proc = secret_push(work, tokens, other)
    assert remote_lines(proc) == [
        f"leakstop: push rejected: break-glass token {other_id}: issued for another repository"
    ]


def test_two_concurrent_pushes_with_one_token_one_wins(
    server: Server, work: Repo, tokens: TokenFactory, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, token = issued(server, capsys)
    clones = []
    for n in range(2):
        clone = server.repo.clone(tmp_path / f"clone-{n}")
        clone.git("switch", "-q", "-c", f"race-{n}", "origin/main")
        clone.commit(f"race {n}", {f"race{n}.env": f"GITHUB_TOKEN={tokens.github_clean()}\n"})
        clones.append(clone)
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda c: push(c, "-o", f"leakstop.breakglass={token}", "origin", "HEAD"), clones))
    assert sorted(p.returncode == 0 for p in results) == [False, True]
    assert actions(server).count("breakglass-use") == 1
    assert verify(server.audit_log).ok


def test_a_clean_push_does_not_use_the_token_and_a_dump_of_the_store_holds_no_token(
    server: Server, work: Repo, tokens: TokenFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    request_id, token = issued(server, capsys)
    work.commit("clean", {"a.py": "print(1)\n"})
    clean = push(work, "-o", f"leakstop.breakglass={token}", "origin", "HEAD:main")
    assert clean.returncode == 0, clean.stderr
    assert remote_lines(clean)[1].startswith(f"leakstop: break-glass {request_id} not used: nothing to let through")
    assert secret_push(work, tokens, token).returncode == 0  # still good for one push

    secret_part = token.split("_", 2)[2].encode()
    dumped = b"".join(p.read_bytes() for p in (server.path / "leakstop").glob("breakglass.sqlite*"))
    assert request_id.encode() in dumped
    assert secret_part not in dumped and token.encode() not in dumped
    code, out, _ = glass(server, "carol", "list", capsys=capsys)
    assert code == 0 and f"{request_id}  used" in out and secret_part.decode() not in out


def test_break_glass_off_the_commands_and_bad_arguments(
    server: Server, work: Repo, tokens: TokenFactory, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    enable(server, max_ttl="2h")
    code, _, err = glass(server, "alice", "request", "--reason", "x", "--ttl", "1d", capsys=capsys)
    assert code == 1 and "--ttl is longer than the policy allows" in err
    code, _, err = glass(server, "alice", "request", "--reason", "two\nlines", capsys=capsys)
    assert code == 2 and "--reason: one line of text" in err
    code, _, err = glass(server, "alice", "revoke", "ffffffffffff", capsys=capsys)
    assert code == 1 and "not found" in err
    with pytest.raises(SystemExit):
        build_parser().parse_args(["breakglass", "request", "--reason", "x", "--ttl", "soon"])
    parsed = build_parser().parse_args(["breakglass", "list", "--git-dir", str(tmp_path)])
    with pytest.raises(LeakstopError, match="not a git dir"):
        glass_cli.run(parsed)

    server.configure()  # break-glass off
    code, _, err = glass(server, "alice", "list", capsys=capsys)
    assert code == 2 and "break-glass is not enabled (push_protection.breakglass.enabled)" in err
    proc = secret_push(work, tokens, "lsbg_whatever")
    expected = "leakstop: push rejected: leakstop.breakglass: break-glass is not enabled on this server"
    assert remote_lines(proc)[0].startswith(expected)
    assert token_id("lsbg_whatever") == ""


def test_a_token_gets_an_undecided_push_through_and_a_use_that_cannot_be_recorded_does_not_happen(
    server: Server, work: Repo, tokens: TokenFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    request_id, token = issued(server, capsys)
    head = server.audit_log.with_name("audit.jsonl.head")
    head.unlink()
    head.mkdir()  # the audit log cannot be written: the use is rolled back, the push rejected
    proc = secret_push(work, tokens, token)
    said = remote_lines(proc)
    assert proc.returncode != 0
    assert any(
        line.startswith("leakstop: break-glass refused: break-glass must be recorded and cannot be") for line in said
    )
    head.rmdir()
    work.git("reset", "-q", "--hard", "origin/main")

    server.configure(push_protection={"budget": "1ms", "breakglass": {"enabled": True}})
    work.commit("change", {"a.py": "print('a')\n"})
    undecided = push(work, "-o", f"leakstop.breakglass={token}", "origin", "HEAD:main")
    assert undecided.returncode == 0, undecided.stderr
    line = remote_lines(undecided)[0]
    assert line.startswith(f"leakstop: push accepted through break-glass {request_id}") and "time budget" in line
    assert actions(server)[-1] == "breakglass-use"
