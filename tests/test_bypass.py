"""Bypass channels (commit trailer, ``LEAKSTOP_BYPASS``, push options) and branch overrides (issue #5).

Unit tests for the policy's judgement and the request readers, then the whole path through the CLI on real git
repositories (``test_git.Repo``: pinned identity, a clock set near now so trailer ages are meaningful).
"""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from gitrepo import Repo, isolate_git
from helpers import RunCli, config_doc, write_files
from tokens import TokenFactory

from scanner.models import Bypass, FileOrigin, Finding, Match, RuleInfo, Secret
from scanner.policy.context import (
    current_branch,
    env_bypass,
    head_branch,
    push_option_bypass,
    run_bypasses,
)
from scanner.policy.gate import BypassPolicy, Facts, Override, Policy, decide
from scanner.sources.git.trailers import trailer_reason

ROOT = Path(__file__).resolve().parents[1]
NOW = datetime(2030, 6, 1, 12, 0, tzinfo=timezone.utc)
ON = BypassPolicy(enabled=True)


@pytest.fixture(autouse=True)
def _git_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    isolate_git(monkeypatch, tmp_path / "home")
    for name in ("GITLAB_USER_EMAIL", "GITHUB_ACTOR", "GL_USERNAME", "GITHUB_USER_LOGIN"):
        monkeypatch.delenv(name, raising=False)


def finding() -> Finding:
    rule = RuleInfo("r", "name", "description", "high", "high")
    match = Match("r", Secret("s3cr3t-value"), 0, 12, 1, 1, 1, 13, "snippet", 3.0)
    return Finding(rule, match, FileOrigin("app/x.py"), "fid", "sid")


def trailer(when: datetime, reason: str = "test fixture", who: str = "alice@example.com") -> Bypass:
    return Bypass("trailer", reason, who=who, when=when.isoformat(), commit="c" * 40)


# --- the policy's judgement ---


@pytest.mark.parametrize(
    ("policy", "request_", "refused"),
    [
        (ON, trailer(NOW - timedelta(hours=1)), ""),
        (BypassPolicy(), trailer(NOW), "bypass is not enabled by the policy"),
        (BypassPolicy(enabled=True, channels=("env",)), trailer(NOW), "does not allow bypass through trailer"),
        (ON, trailer(NOW, reason="  "), "no reason given"),
        (BypassPolicy(enabled=True, reason_required=False), trailer(NOW, reason=""), ""),
        (BypassPolicy(enabled=True, who=("*@example.com",)), trailer(NOW), ""),
        (BypassPolicy(enabled=True, who=("*@corp.example",)), trailer(NOW), "alice@example.com may not bypass"),
        (BypassPolicy(enabled=True, who=("*",)), Bypass("env", "r"), "an unknown user may not bypass"),
        (ON, trailer(NOW - timedelta(hours=73)), "commit cccccccccccc is older than 3d"),
        (BypassPolicy(enabled=True, max_age=timedelta(hours=3)), trailer(NOW - timedelta(hours=4)), "older than 3h"),
        # An env or push-option request lasts one run: no age applies.
        (ON, Bypass("env", "ci fix", when=(NOW - timedelta(days=30)).isoformat()), ""),
    ],
)
def test_the_policy_judges_a_bypass(policy: BypassPolicy, request_: Bypass, refused: str) -> None:
    verdict = policy.refusal(request_, NOW)
    assert (verdict == "") if not refused else (refused in verdict), verdict


def test_an_accepted_bypass_allows_what_would_block_or_warn_and_nothing_else() -> None:
    accepted, refused = trailer(NOW), Bypass("env", "", refused="no reason given")
    assert decide(finding(), Policy(), Facts("a", bypass=accepted)) == ("allow", "bypass")
    assert decide(finding(), Policy(), Facts("a", bypass=refused)) == ("block", "")
    # The policy allowed it anyway: the reason stays the policy's.
    assert decide(finding(), Policy(), Facts("a", baselined=True, bypass=accepted)) == ("allow", "baseline")
    warn_only = Policy(overrides=(Override.build("warn", 0, rules=("r",)),))
    assert decide(finding(), warn_only, Facts("a", bypass=accepted)) == ("allow", "bypass")


# --- reading requests ---


@pytest.mark.parametrize(
    ("message", "reason"),
    [
        ("Add fixture\n\nLeakstop-Bypass: test key, revoked\n", "test key, revoked"),
        ("Add fixture\n\nSigned-off-by: A <a@b>\nleakstop-bypass:   spaced out  \n", "spaced out"),
        ("Add fixture\n\nLeakstop-Bypass:\n", ""),  # a request without a reason
        ("Add fixture\n\nLeakstop-Bypass: not a trailer\n\nBody after it.\n", None),  # not the last paragraph
        ("Add fixture\n\nMentions Leakstop-Bypass: inline\n", None),
        ("Add fixture\n", None),
    ],
)
def test_trailer_reason(message: str, reason: str | None) -> None:
    assert trailer_reason(message) == reason


def test_push_options_as_receive_pack_passes_them() -> None:
    env = {"GIT_PUSH_OPTION_COUNT": "2", "GIT_PUSH_OPTION_0": "ci.skip", "GIT_PUSH_OPTION_1": "leakstop.bypass=fp"}
    found = push_option_bypass({**env, "GL_USERNAME": "bob"}, NOW)
    assert found == Bypass("push-option", "fp", who="bob", when="2030-06-01T12:00:00+00:00")
    assert push_option_bypass({"GIT_PUSH_OPTION_COUNT": "1", "GIT_PUSH_OPTION_0": "leakstop.bypass"}, NOW) == Bypass(
        "push-option", "", when="2030-06-01T12:00:00+00:00"
    )
    # Not negotiated, none sent, a count without its options, garbage, an option of another name.
    for environ in (
        {},
        {"GIT_PUSH_OPTION_COUNT": "0"},
        {"GIT_PUSH_OPTION_COUNT": "1"},
        {"GIT_PUSH_OPTION_COUNT": "x", "GIT_PUSH_OPTION_0": "leakstop.bypass=r"},
        {"GIT_PUSH_OPTION_COUNT": "1", "GIT_PUSH_OPTION_0": "leakstop.bypassed=r"},
    ):
        assert push_option_bypass(environ, NOW) is None


def test_env_requests_and_their_order() -> None:
    assert env_bypass({}, NOW) is None
    assert env_bypass({"LEAKSTOP_BYPASS": "", "USER": "dev"}, NOW) == Bypass("env", "", "dev", NOW.isoformat())
    noisy = env_bypass({"LEAKSTOP_BYPASS": "two\nlines \x1b[31mred" + "x" * 300, "GITHUB_ACTOR": "octo"}, NOW)
    assert noisy is not None and noisy.who == "octo"
    assert noisy.reason.startswith("two lines [31mred") and len(noisy.reason) == 200 and "\x1b" not in noisy.reason
    both = {"LEAKSTOP_BYPASS": "e", "GIT_PUSH_OPTION_COUNT": "1", "GIT_PUSH_OPTION_0": "leakstop.bypass=p"}
    assert [b.channel for b in run_bypasses(both, NOW)] == ["push-option", "env"]


def test_the_branch_comes_from_the_flag_then_ci_then_head(tmp_path: Path) -> None:
    repo = Repo.init(tmp_path / "repo", clock=[int(time.time())])
    repo.commit("first", {"a.txt": "a\n"})
    repo.git("checkout", "-q", "-b", "feature/x")
    assert head_branch(str(repo.path / "a.txt")) == "feature/x"
    assert current_branch(str(repo.path), {}) == "feature/x"
    ci = {"GITHUB_REF_NAME": "main", "GITHUB_HEAD_REF": "topic"}
    assert current_branch(str(repo.path), ci) == "topic"
    assert current_branch(str(repo.path), {**ci, "GITHUB_HEAD_REF": ""}) == "main"
    assert current_branch(str(repo.path), {"CI_COMMIT_REF_NAME": "dev"}) == "dev"
    assert current_branch(str(repo.path), ci, given="release/1") == "release/1"
    repo.git("worktree", "add", "-q", "-b", "wt-branch", str(tmp_path / "wt"))
    assert head_branch(str(tmp_path / "wt")) == "wt-branch"  # .git is a file pointing at the worktree's dir
    repo.git("checkout", "-q", "--detach")
    assert head_branch(str(repo.path)) == ""
    assert head_branch(str(tmp_path / "elsewhere")) == ""


# --- through the CLI ---


def write_config(root: Path, **extra: Any) -> Path:
    path = root / ".leakstop.yaml"
    path.write_text(yaml.safe_dump(config_doc(**extra), sort_keys=False), encoding="utf-8")
    return path


def report(run_cli: RunCli, *argv: str | Path) -> tuple[int, dict[str, Any]]:
    code, out, err = run_cli("scan", *argv, "--format", "json")
    assert code in (0, 1), err
    doc = json.loads(out)
    schema = json.loads((ROOT / "scanner" / "report" / "report.schema.json").read_text())
    jsonschema.validate(doc, schema)
    return code, doc


def recent_repo(tmp_path: Path, hours_ago: float = 1) -> Repo:
    return Repo.init(tmp_path / "repo", clock=[int(time.time() - hours_ago * 3600)])


def test_branch_overrides_through_the_cli(
    tmp_path: Path, run_cli: RunCli, tokens: TokenFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = recent_repo(tmp_path)
    overrides = [{"branches": ["release/*"], "action": "allow"}, {"branches": ["main"], "action": "warn"}]
    write_config(repo.path, policy={"overrides": overrides})
    repo.commit("config", {"app.py": f"t = '{tokens.github_clean()}'\n"})
    code, doc = report(run_cli, repo.path)
    assert (code, doc["branch"]) == (0, "main")
    assert [(f["verdict"], f["reason"]) for f in doc["findings"]] == [("warn", "override:1")]
    repo.git("checkout", "-q", "-b", "release/2.0")
    code, doc = report(run_cli, repo.path)
    assert (code, doc["branch"], doc["findings"][0]["reason"]) == (0, "release/2.0", "override:0")
    code, doc = report(run_cli, repo.path, "--branch", "topic")
    assert (code, doc["branch"], doc["findings"][0]["reason"]) == (1, "topic", "")
    monkeypatch.setenv("CI_MERGE_REQUEST_SOURCE_BRANCH_NAME", "release/3")
    assert report(run_cli, repo.path)[1]["branch"] == "release/3"
    repo.git("checkout", "-q", "--detach")
    monkeypatch.delenv("CI_MERGE_REQUEST_SOURCE_BRANCH_NAME")
    code, doc = report(run_cli, repo.path)  # unknown branch: no branch override matches
    assert (code, "branch" in doc, doc["findings"][0]["reason"]) == (1, False, "")
    _, out, _ = run_cli("scan", repo.path, "--branch", "main", "--color", "never")
    assert "· branch main" in out


BYPASS_ON = {"bypass": {"enabled": True}}


def test_a_trailer_bypasses_the_findings_its_commit_introduced(
    tmp_path: Path, run_cli: RunCli, tokens: TokenFactory
) -> None:
    repo = recent_repo(tmp_path)
    write_config(repo.path, policy=BYPASS_ON)
    base = repo.commit("config")
    secret = tokens.github_clean()
    fixture = repo.commit("Add a fixture\n\nLeakstop-Bypass: revoked test token", {"fixture.py": f"t = '{secret}'\n"})
    plain = repo.commit("Add the app", {"app.py": f"t = '{tokens.github_clean()}'\n"})
    code, doc = report(run_cli, repo.path, "--range", f"{base}..HEAD")
    assert code == 1
    by_path = {f["location"]["path"]: f for f in doc["findings"]}
    assert (by_path["fixture.py"]["verdict"], by_path["fixture.py"]["reason"]) == ("allow", "bypass")
    record = by_path["fixture.py"]["bypass"]
    assert record["channel"] == "trailer" and record["reason"] == "revoked test token"
    assert (record["who"], record["commit"], record["applied"], record["refused"]) == (
        "alice@example.com",
        fixture,
        True,
        "",
    )
    assert datetime.fromisoformat(record["when"]) > datetime.now(timezone.utc) - timedelta(hours=2)
    assert (by_path["app.py"]["verdict"], "bypass" in by_path["app.py"]) == ("block", False)
    assert doc["bypasses"] == [record]
    assert plain != fixture and secret not in json.dumps(doc)

    code, out, _ = run_cli("scan", repo.path, "--range", f"{base}..HEAD", "--format", "sarif")
    results = {
        r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]: r
        for r in json.loads(out)["runs"][0]["results"]
    }
    assert results["fixture.py"]["suppressions"] == [{"kind": "external", "justification": "revoked test token"}]
    assert results["fixture.py"]["properties"]["bypass"] == record
    assert "suppressions" not in results["app.py"]
    _, out, _ = run_cli("scan", repo.path, "--history", "--color", "never", "--verbose")
    assert f"bypass applied to 1 findings: bypass via trailer by alice@example.com (commit {fixture[:12]})" in out
    assert "(bypass)" in out and "1 allowed (1 bypass)" in out


def test_a_trailer_that_does_not_apply_says_why(tmp_path: Path, run_cli: RunCli, tokens: TokenFactory) -> None:
    repo = recent_repo(tmp_path, hours_ago=24 * 10)
    write_config(repo.path, policy={"bypass": {"enabled": True, "max_age": "7d"}})
    base = repo.commit("config")
    old = repo.commit("Old\n\nLeakstop-Bypass: was fine then", {"old.py": f"t = '{tokens.github_clean()}'\n"})
    repo.git("commit", "-q", "--allow-empty", "-m", "skip ahead")
    repo._clock[0] = int(time.time()) - 60
    bare = repo.commit("New\n\nLeakstop-Bypass:", {"new.py": f"t = '{tokens.github_clean()}'\n"})
    code, doc = report(run_cli, repo.path, "--range", f"{base}..HEAD")
    assert code == 1
    refused = {f["location"]["path"]: (f["verdict"], f["bypass"]["refused"]) for f in doc["findings"]}
    assert refused == {
        "old.py": ("block", f"commit {old[:12]} is older than 7d"),
        "new.py": ("block", "no reason given"),
    }
    assert [(b["commit"], b["applied"]) for b in doc["bypasses"]] == [(old, False), (bare, False)]
    _, out, _ = run_cli("scan", repo.path, "--range", f"{base}..HEAD", "--color", "never")
    assert f"bypass refused: commit {old[:12]} is older than 7d (bypass via trailer" in out
    assert "bypass refused: no reason given" in out

    # A range runs under its base's policy (issue #18 item 6): other policies are named with --config.
    named = write_config(tmp_path)  # bypass not enabled: still reported as refused
    code, doc = report(run_cli, repo.path, "--range", f"{base}..HEAD", "--config", named)
    assert code == 1 and {b["refused"] for b in doc["bypasses"]} == {"bypass is not enabled by the policy"}
    write_config(tmp_path, policy={"bypass": {"enabled": True, "channels": ["env"]}})
    code, doc = report(run_cli, repo.path, "--range", f"{base}..HEAD", "--config", named)
    assert {b["refused"] for b in doc["bypasses"]} == {"the policy does not allow bypass through trailer"}


def test_the_env_channel_for_ci_and_staged_commits(
    tmp_path: Path, run_cli: RunCli, tokens: TokenFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = recent_repo(tmp_path)
    write_config(repo.path, policy={"bypass": {"enabled": True, "channels": ["env"], "who": ["ci-*"]}})
    repo.commit("config")
    repo.write({"a.py": f"t = '{tokens.github_clean()}'\n"})
    repo.git("add", "a.py")
    assert run_cli("scan", repo.path, "--staged")[0] == 1
    monkeypatch.setenv("LEAKSTOP_BYPASS", "hotfix, key rotated")
    monkeypatch.setenv("GITLAB_USER_EMAIL", "ci-bot@example.com")
    for flags in (("--staged",), ()):
        code, doc = report(run_cli, repo.path, *flags)
        assert code == 0, flags
        assert [(f["reason"], f["bypass"]["channel"], f["bypass"]["who"]) for f in doc["findings"]] == [
            ("bypass", "env", "ci-bot@example.com")
        ]
    monkeypatch.setenv("GITLAB_USER_EMAIL", "mallory@example.com")
    code, doc = report(run_cli, repo.path, "--staged")
    assert code == 1 and doc["findings"][0]["bypass"]["refused"] == "mallory@example.com may not bypass"


def test_the_push_option_channel(
    tmp_path: Path, run_cli: RunCli, tokens: TokenFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = recent_repo(tmp_path)
    write_config(repo.path, policy={"bypass": {"enabled": True, "channels": ["push-option"]}})
    base = repo.commit("config")
    repo.commit("add", {"a.py": f"t = '{tokens.github_clean()}'\n"})
    monkeypatch.setenv("GIT_PUSH_OPTION_COUNT", "1")
    monkeypatch.setenv("GIT_PUSH_OPTION_0", "leakstop.bypass=false positive: a test vector")
    monkeypatch.setenv("GL_USERNAME", "bob")
    code, doc = report(run_cli, repo.path, "--range", f"{base}..HEAD")
    assert code == 0
    assert [(b["channel"], b["reason"], b["who"], b["applied"]) for b in doc["bypasses"]] == [
        ("push-option", "false positive: a test vector", "bob", True)
    ]
    monkeypatch.setenv("LEAKSTOP_BYPASS", "env is not allowed here")
    monkeypatch.setenv("GIT_PUSH_OPTION_COUNT", "0")
    code, doc = report(run_cli, repo.path, "--range", f"{base}..HEAD")
    assert code == 1 and doc["bypasses"][0]["refused"] == "the policy does not allow bypass through env"


def test_a_reason_holding_a_secret_is_withheld_and_refused(
    tmp_path: Path, run_cli: RunCli, tokens: TokenFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_files(tmp_path / "tree", {"a.py": f"t = '{tokens.github_clean()}'\n"})
    write_config(tmp_path / "tree", policy=BYPASS_ON)
    pasted = tokens.github_clean()
    monkeypatch.setenv("LEAKSTOP_BYPASS", f"use {pasted} instead")
    code, out, _ = run_cli("scan", tmp_path / "tree", "--format", "json")
    assert code == 1 and pasted not in out and pasted[4:20] not in out
    record = json.loads(out)["findings"][0]["bypass"]
    assert (record["reason"], record["refused"]) == (
        "(withheld: it looks like a secret)",
        "the reason looks like a secret",
    )


def test_the_bypass_schema_rejects_a_bad_max_age(tmp_path: Path, run_cli: RunCli) -> None:
    config = write_config(tmp_path, policy={"bypass": {"enabled": True, "max_age": "3 weeks"}})
    code, out, err = run_cli("scan", tmp_path)
    assert code == 2 and out == ""
    assert err.startswith(f"leakstop: error: {config}: policy/bypass/max_age: '3 weeks' does not match")
