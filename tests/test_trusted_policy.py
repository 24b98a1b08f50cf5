"""Issue #18 item 6: a pull request cannot set its own policy.

A range (``scan --range``/``--since``, ``leakstop ci``) is scanned under its base commit's ``.leakstop.yaml`` (or
the file ``--config`` names), never the one the range brings; a change to the policy file in the range is a finding
of rule ``leakstop-policy-change`` (warn by default, ``policy.policy_change`` in the trusted policy).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from ciworld import World
from gitrepo import Repo, isolate_git
from helpers import RunCli, config_doc
from tokens import TokenFactory

from scanner.cli.trusted import range_ends

OPEN_DOOR = {"allowlist": {"paths": ["**"]}}


def _config(**extra: object) -> str:
    return yaml.safe_dump(config_doc(("github-pat",), **extra), sort_keys=False)


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Repo:
    isolate_git(monkeypatch, tmp_path / "home")
    repo = Repo.init(tmp_path / "repo")
    repo.commit("policy", {".leakstop.yaml": _config(), "README.md": "# app\n"})
    return repo


def _scan(repo: Repo, *args: str) -> tuple[int, dict[str, object], str]:
    proc = subprocess.run(
        [sys.executable, "-m", "scanner", "scan", "--no-progress", "--format", "json", *args, str(repo.path)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert "Traceback" not in proc.stderr
    return proc.returncode, json.loads(proc.stdout) if proc.stdout else {}, proc.stderr


def _rules(doc: dict[str, object]) -> list[tuple[str, str]]:
    findings = doc["findings"]
    assert isinstance(findings, list)
    return [(f["rule"]["id"], f["verdict"]) for f in findings]


@pytest.mark.parametrize("mode", ["range", "since", "range-tip"])
def test_a_change_that_opens_the_allowlist_does_not_pass_its_own_scan(
    repo: Repo, tokens: TokenFactory, mode: str
) -> None:
    base = repo.head()
    added = repo.commit("open the door", {".leakstop.yaml": _config(**OPEN_DOOR)})
    repo.commit("add settings", {"app.env": f"GITHUB_TOKEN={tokens.github_clean()}\n"})
    args = {"range": ["--range", f"{base}..HEAD"], "since": ["--since", base], "range-tip": ["--range", base]}[mode]
    code, doc, err = _scan(repo, *args)
    assert code == 1, err
    assert sorted(_rules(doc)) == [("github-pat", "block"), ("leakstop-policy-change", "warn")]
    (change,) = [f for f in doc["findings"] if f["rule"]["id"] == "leakstop-policy-change"]  # type: ignore[union-attr]
    assert change["location"]["path"] == ".leakstop.yaml"
    assert change["location"]["commit"] == added


def test_the_same_tree_scanned_as_a_directory_uses_its_own_policy(repo: Repo, tokens: TokenFactory) -> None:
    """Control: the open allowlist does work where the checkout is the trusted side (a tree scan)."""
    repo.commit("open the door", {".leakstop.yaml": _config(**OPEN_DOOR)})
    repo.commit("add settings", {"app.env": f"GITHUB_TOKEN={tokens.github_clean()}\n"})
    code, doc, _ = _scan(repo)
    assert code == 0
    assert _rules(doc) == [("github-pat", "allow")]


def test_the_base_policy_may_make_a_policy_change_block(repo: Repo) -> None:
    base = repo.commit("stricter", {".leakstop.yaml": _config(policy={"policy_change": "block"})})
    repo.commit("relax", {".leakstop.yaml": _config(policy={"policy_change": "allow"})})
    code, doc, _ = _scan(repo, "--range", f"{base}..HEAD")
    assert code == 1
    assert _rules(doc) == [("leakstop-policy-change", "block")]


def test_a_range_that_leaves_the_policy_alone_reports_nothing_of_it(repo: Repo, tokens: TokenFactory) -> None:
    base = repo.head()
    repo.commit("docs", {"docs.md": "how\n"})
    code, doc, _ = _scan(repo, "--range", f"{base}..HEAD")
    assert (code, _rules(doc)) == (0, [])


def test_a_config_the_range_adds_or_removes_is_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tokens: TokenFactory
) -> None:
    isolate_git(monkeypatch, tmp_path / "home")
    repo = Repo.init(tmp_path / "bare-policy")
    base = repo.commit("start", {"README.md": "# app\n"})
    repo.commit("add a policy", {".leakstop.yaml": _config(**OPEN_DOOR)})
    repo.commit("add settings", {"app.env": f"GITHUB_TOKEN={tokens.github_clean()}\n"})
    code, doc, _ = _scan(repo, "--range", f"{base}..HEAD")
    assert code == 1  # the built-in policy of a base with no config: the token blocks
    assert ("leakstop-policy-change", "warn") in _rules(doc)
    tip = repo.head()
    repo.git("rm", "-q", ".leakstop.yaml")
    repo.commit("remove the policy")
    code, doc, _ = _scan(repo, "--range", f"{tip}..HEAD")
    assert _rules(doc) == [("leakstop-policy-change", "warn")]
    (change,) = doc["findings"]  # type: ignore[misc]
    assert "removes .leakstop.yaml" in change["snippet"]


def test_a_config_named_by_the_ci_or_server_wins(repo: Repo, tokens: TokenFactory, tmp_path: Path) -> None:
    base = repo.head()
    repo.commit("open the door", {".leakstop.yaml": _config(**OPEN_DOOR)})
    repo.commit("add settings", {"app.env": f"GITHUB_TOKEN={tokens.github_clean()}\n"})
    named = tmp_path / "server.yaml"
    named.write_text(_config(), encoding="utf-8")
    code, doc, _ = _scan(repo, "--range", f"{base}..HEAD", "--config", str(named))
    assert (code, _rules(doc)) == (1, [("github-pat", "block")])


def test_a_broken_base_policy_or_a_missing_base_is_one_line(repo: Repo) -> None:
    repo.commit("broken", {".leakstop.yaml": "version: [\n"})
    broken = repo.head()
    repo.commit("docs", {"docs.md": "x\n"})
    code, _, err = _scan(repo, "--range", f"{broken}..HEAD")
    assert code == 2
    assert err.strip().splitlines() == [err.strip()] and f"{broken[:12]}:.leakstop.yaml" in err
    code, _, err = _scan(repo, "--range", "no-such-rev..HEAD")
    assert code == 2 and "no-such-rev: no such commit" in err


def test_range_ends_reads_every_notation() -> None:
    assert range_ends("a..b") == (["a"], "b")
    assert range_ends("a...b") == (["a"], "b")
    assert range_ends("a..") == (["a"], "HEAD")
    assert range_ends("a") == (["a"], "HEAD")
    assert range_ends("b ^a1 ^a2") == (["a1", "a2"], "b")
    assert range_ends("..b") is None
    assert range_ends("b c") is None
    assert range_ends("") is None


def test_leakstop_ci_takes_the_policy_of_the_pull_requests_base(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tokens: TokenFactory, run_cli: RunCli
) -> None:
    world = World(tmp_path, monkeypatch)
    world.commit("policy", {".leakstop.yaml": _config()})
    base = world.commit("readme", {"README.md": "# app\n"})
    world.dev.git("checkout", "-q", "-b", "feature")
    world.commit("open the door", {".leakstop.yaml": _config(**OPEN_DOOR)})
    head = world.commit("settings", {"app.env": f"TOKEN={tokens.github_clean()}\n"})
    world.dev.git("checkout", "-q", "main")
    world.push("feature", "main")
    runner = world.checkout(head)
    ids = {"BASE": base, "HEAD": head, "MERGE": head, "BRANCH": "feature"}
    world.enter(runner, world.github(runner, "pull_request", world.payload("pull_request", ids)))
    code, out, err = run_cli("ci", "--format", "json")
    assert code == 1, err
    assert sorted(_rules(json.loads(out))) == [("github-pat", "block"), ("leakstop-policy-change", "warn")]
