"""``leakstop respond``, ``scan --respond``, ``audit verify``, and the responses of ``leakstop ci`` and the
pre-receive hook, end to end: real git repositories, real pushes, a loopback GitHub API."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from ciworld import World
from gitrepo import Repo, isolate_git
from helpers import RunCli, config_doc
from httpserver import LoopbackServer, Reply, ServerFactory
from prereceive_server import make_server, push, remote_lines
from tokens import TokenFactory

PATH = "/credentials/revoke"


@pytest.fixture
def api(http_server: ServerFactory) -> LoopbackServer:
    server = http_server()
    server.route("POST", PATH, Reply(202))
    return server


def respond_config(path: Path, api: LoopbackServer, **respond: Any) -> Path:
    github = {"api_url": api.base, **respond.pop("github", {})}
    doc = config_doc(("github-pat",), respond={"providers": {"github": github}, **respond})
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return path


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Repo:
    isolate_git(monkeypatch, tmp_path / "home")
    return Repo.init(tmp_path / "repo")


def revoked(api: LoopbackServer) -> list[str]:
    return [t for r in api.requests if r.path == PATH for t in json.loads(r.body)["credentials"]]


def outbox_of(repo: Repo) -> Path:
    return repo.path / ".git" / "leakstop" / "outbox.jsonl"


def test_dry_run_execute_and_the_files_hold_no_secret(
    repo: Repo, api: LoopbackServer, tokens: TokenFactory, run_cli: RunCli, tmp_path: Path
) -> None:
    token = tokens.github_clean()
    commit = repo.commit("settings", {"a.env": f"T={token}\n", "b/c.env": f"T={token}\n"})
    config = respond_config(tmp_path / "cfg" / "leakstop.yaml", api)

    code, out, err = run_cli("respond", "--history", "-c", config, repo.path)
    assert code == 0, err
    assert "dry run (--execute to act): 1 actions" in out and f"commit {commit[:12]}" in out
    assert token not in out and revoked(api) == [] and not outbox_of(repo).exists()

    code, out, err = run_cli("respond", "--execute", "--history", "-c", config, repo.path)
    assert code == 0, err
    assert revoked(api) == [token]
    assert "via github" in err and ": done" in err and "1 done" in err
    audit = outbox_of(repo).with_name("audit.jsonl")
    for path in (outbox_of(repo), audit):
        assert token not in path.read_text()
    code, out, _ = run_cli("audit", "verify", audit)
    assert code == 0 and "1 records, chain intact" in out
    # Again: the credential is known and done; nothing is sent twice.
    assert run_cli("respond", "--execute", "--history", "-c", config, repo.path)[0] == 0
    assert revoked(api) == [token]


def test_a_provider_that_is_down_leaves_actions_pending_and_drain_rescans(
    repo: Repo, http_server: ServerFactory, tokens: TokenFactory, run_cli: RunCli, tmp_path: Path
) -> None:
    api = http_server()
    api.route("POST", PATH, Reply(503), Reply(202))
    token = tokens.github_clean()
    repo.commit("settings", {"deploy.env": f"T={token}\n"})
    repo.commit("gone", {"deploy.env": "T=\n"})
    retry = {"base_delay": 0.2, "max_delay": 1}
    config = respond_config(tmp_path / "cfg" / "leakstop.yaml", api, retry=retry)

    code, _, err = run_cli("respond", "--execute", "--history", "--wait", "0", "-c", config, repo.path)
    assert code == 5 and "1 pending" in err
    time.sleep(0.25)
    code, _, err = run_cli("respond", "--drain", "-c", config, repo.path)  # no secret in memory: a rescan
    assert code == 0, err
    assert revoked(api) == [token, token]


def test_a_credential_gone_from_its_place_needs_a_rescan(
    tmp_path: Path, http_server: ServerFactory, tokens: TokenFactory, run_cli: RunCli
) -> None:
    api = http_server()
    api.route("POST", PATH, Reply(500))
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "app.env").write_text(f"T={tokens.github_clean()}\n")
    config = respond_config(tmp_path / "cfg" / "leakstop.yaml", api, retry={"base_delay": 0.01})
    outbox = tmp_path / "state" / "outbox.jsonl"
    assert run_cli("respond", "--execute", "--wait", "0", "--outbox", outbox, "-c", config, tree)[0] == 5
    (tree / "app.env").write_text("T=\n")
    time.sleep(0.05)
    code, _, err = run_cli("respond", "--drain", "--outbox", outbox, "-c", config, tree)
    assert code == 5 and "needs a rescan: the credential was not found again at" in err
    assert "1 needs-rescan" in err


def test_scan_respond(repo: Repo, api: LoopbackServer, tokens: TokenFactory, run_cli: RunCli, tmp_path: Path) -> None:
    token = tokens.github_clean()
    (repo.path / "x.env").write_text(f"T={token}\n")
    config = respond_config(tmp_path / "cfg" / "leakstop.yaml", api)
    code, out, err = run_cli("scan", "--respond", "-f", "json", "-c", config, repo.path)
    assert code == 1 and json.loads(out)["findings"] and "revoke  github" in err and revoked(api) == []
    assert run_cli("scan", "--execute", "-c", config, repo.path)[0] == 2
    code, _, err = run_cli("scan", "--respond", "--execute", "-c", config, repo.path)
    assert code == 1 and revoked(api) == [token]


def test_a_missing_provider_credential_is_one_line_and_exit_2(
    repo: Repo, api: LoopbackServer, tokens: TokenFactory, run_cli: RunCli, tmp_path: Path
) -> None:
    (repo.path / "x.env").write_text(f"T={tokens.github_clean()}\n")
    config = respond_config(tmp_path / "cfg" / "leakstop.yaml", api, github={"authenticated": True})
    code, _, err = run_cli("respond", "--execute", "-c", config, repo.path)
    assert code == 2 and revoked(api) == []
    assert "leakstop: error: respond: provider 'github' needs a credential: set $LEAKSTOP_GITHUB_TOKEN" in err
    assert run_cli("respond", "--execute", "--drain", "-c", config, repo.path)[0] == 2  # usage


def test_audit_verify_names_the_first_bad_line(tmp_path: Path, run_cli: RunCli) -> None:
    from scanner.respond.audit_log import AuditRecord, append

    log = tmp_path / "audit.jsonl"
    for n in range(3):
        append(log, AuditRecord("respond", "me", "repo", subject=f"a{n}", outcome="done"))
    lines = log.read_text().splitlines()
    log.write_text("\n".join([lines[0], lines[1].replace('"done"', '"failed"'), lines[2]]) + "\n")
    code, out, _ = run_cli("audit", "verify", log)
    assert code == 1 and "line 2: edited" in out
    assert run_cli("audit", "verify", tmp_path / "none.jsonl")[0] == 2


def test_ci_enqueues_or_executes_and_keeps_its_exit_code(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, api: LoopbackServer, tokens: TokenFactory, run_cli: RunCli
) -> None:
    world = World(tmp_path, monkeypatch)
    first = world.commit("readme", {"README.md": "# demo\n"})
    world.push("main")
    token = tokens.github_clean()
    after = world.commit("settings", {"app.env": f"T={token}\n"})
    world.push("main")
    runner = world.checkout(after)
    values = {"BRANCH": "main", "BEFORE": first, "AFTER": after}
    world.enter(runner, world.github(runner, "push", world.payload("push", values, commits=[after])))
    enqueue = respond_config(tmp_path / "cfg" / "enqueue.yaml", api, on_ci="enqueue")
    code, _, err = run_cli("ci", "-c", enqueue, "--no-summary")
    assert code == 1 and revoked(api) == []
    states = [json.loads(line)["type"] for line in outbox_of(runner).read_text().splitlines()]
    assert states == ["enqueue"]
    execute = respond_config(tmp_path / "cfg" / "execute.yaml", api, on_ci="execute")
    code, _, err = run_cli("ci", "-c", execute, "--no-summary")
    assert code == 1 and revoked(api) == [token]
    # An outbox that cannot be written is said and the job's exit code stands.
    broken = respond_config(tmp_path / "cfg" / "broken.yaml", api, on_ci="execute", outbox="broken.yaml/x")
    code, _, err = run_cli("ci", "-c", broken, "--no-summary")
    assert code == 1 and "warning: the response to this scan could not be executed" in err


def test_the_hook_responds_after_its_decision(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, api: LoopbackServer, tokens: TokenFactory
) -> None:
    isolate_git(monkeypatch, tmp_path / "home")
    server = make_server(tmp_path / "server.git")
    work = server.repo.clone(tmp_path / "work")
    work.commit("initial", {"README.md": "# app\n"})
    assert push(work, "origin", "HEAD:refs/heads/main").returncode == 0
    providers = {"github": {"api_url": api.base}}
    server.configure(respond={"on_push": "enqueue", "providers": providers})
    token = tokens.github_clean()
    work.commit("settings", {"app.env": f"T={token}\n"})
    proc = push(work, "origin", "HEAD:main")
    assert proc.returncode != 0 and remote_lines(proc)[0].startswith("leakstop: push rejected")
    outbox = server.path / "leakstop" / "outbox.jsonl"
    assert [json.loads(line)["type"] for line in outbox.read_text().splitlines()] == ["enqueue"]
    assert revoked(api) == []

    server.configure(respond={"on_push": "execute", "providers": providers})
    started = time.monotonic()
    proc = push(work, "origin", "HEAD:main")
    assert proc.returncode != 0 and remote_lines(proc)[0].startswith("leakstop: push rejected")
    deadline = time.monotonic() + 20
    while not revoked(api) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert revoked(api) == [token], f"no revoke within {time.monotonic() - started:.1f} s"
    audit = [json.loads(line) for line in server.audit_log.read_text().splitlines()]
    for _ in range(100):
        if any(r["action"] == "respond" for r in audit):
            break
        time.sleep(0.05)
        audit = [json.loads(line) for line in server.audit_log.read_text().splitlines()]
    assert any(r["action"] == "respond" and r["outcome"] == "done" for r in audit)
    assert token not in server.audit_log.read_text() and token not in outbox.read_text()
