"""``--format gitlab`` (GitLab's secret-detection report) and ``--format codequality``, for every scan mode.

Every report is validated against GitLab's own schema, version 15.0.7, vendored in ``tests/data/gitlab/`` (see its
README for where it comes from); the tokens are generated per test and must never appear in a report.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from gitrepo import AUTHOR, EPOCH, Repo, isolate_git
from helpers import MakeConfig, RunCli, password_state, write_files
from tokens import TokenFactory

import scanner
from scanner.models import Finding, GitOrigin, Match, RuleInfo, ScanIssue, ScanResult, Secret
from scanner.report.gitlab import MAX_MESSAGES, SCHEMA_VERSION, _location, as_uuid, gitlab_dict
from tests.test_image import docker_save, image_config, layer, sha

SCHEMA_PATH = Path(__file__).parent / "data" / "gitlab" / SCHEMA_VERSION / "secret-detection-report-format.json"
SCHEMA = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
VALIDATOR = jsonschema.Draft7Validator(SCHEMA)
TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$")
UUID8 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")

Report = Callable[..., tuple[int, dict[str, Any], str]]


@pytest.fixture(autouse=True)
def _git_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    isolate_git(monkeypatch, tmp_path / "home")


@pytest.fixture
def config(make_config: MakeConfig) -> Path:
    return make_config(("github-pat", "terraform-sensitive-in-state"), allowlist={"paths": ["fixtures/"]})


@pytest.fixture
def gitlab(run_cli: RunCli, config: Path, tmp_path: Path) -> Report:
    """``gitlab(*argv) -> (exit code, report, raw text)``: a scan written with ``--output``, checked against the
    schema."""

    def run(*argv: str | Path, fmt: str = "gitlab") -> tuple[int, Any, str]:
        target = tmp_path / f"report-{fmt}.json"
        code, out, err = run_cli("scan", "--format", fmt, "--output", target, "--config", config, *argv)
        assert out == ""
        assert "report written to" in err
        text = target.read_text(encoding="utf-8")
        report = json.loads(text)
        if fmt == "gitlab":
            VALIDATOR.validate(report)
        return code, report, text

    return run


def assert_no_secret(text: str, *secrets: str) -> None:
    for secret in secrets:
        assert secret not in text
        assert secret[4:20] not in text


def test_the_vendored_schema_is_the_version_the_report_declares() -> None:
    jsonschema.Draft7Validator.check_schema(SCHEMA)
    assert SCHEMA["self"]["version"] == SCHEMA_VERSION == "15.0.7"
    assert SCHEMA["title"] == "Report format for GitLab Secret Detection"


def test_a_directory_scan(tmp_path: Path, gitlab: Report, tokens: TokenFactory) -> None:
    token, allowed = tokens.github_clean(), tokens.github_clean()
    write_files(
        tmp_path / "tree",
        {
            "app/.env": f"DEBUG=1\nGITHUB_TOKEN={token}\nAGAIN={token}\n",
            "fixtures/sample.env": f"GITHUB_TOKEN={allowed}\n",
            "logo.bin": b"\x89PNG\x00\x00",
            "big.log": "line\n" * 500,
        },
    )

    code, report, text = gitlab(tmp_path / "tree", "--max-file-size", "1k", "--show-secrets")

    assert code == 1
    assert_no_secret(text, token, allowed)  # not even with --show-secrets
    assert report["version"] == "15.0.7"
    assert report["schema"].endswith("/v15.0.7/dist/secret-detection-report-format.json")
    scan = report["scan"]
    assert scan["type"] == "secret_detection" and scan["status"] == "success"
    for who in ("analyzer", "scanner"):
        assert scan[who] == {
            "id": "leakstop",
            "name": "leakstop",
            "version": scanner.__version__,
            "vendor": {"name": "leakstop"},
            "url": "https://github.com/leakstop/leakstop",
        }
    assert TIMESTAMP.match(scan["start_time"]) and TIMESTAMP.match(scan["end_time"])
    assert scan["start_time"] <= scan["end_time"]
    messages = {m["value"]: m["level"] for m in scan["messages"]}
    assert messages["allowed findings, not listed: 1 allowlist:paths"] == "info"
    assert any(
        v.startswith("not scanned: ") and "big.log: too-large" in v and lvl == "warn" for v, lvl in messages.items()
    )
    assert not any("logo.bin" in v for v in messages)  # binary files are counted, not listed
    assert any("skipped: 1 binary, 1 too-large" in v for v in messages)

    # The allowlisted finding is left out; the same secret twice in one file is two vulnerabilities, two ids.
    vulns = report["vulnerabilities"]
    assert [(v["location"]["file"], v["location"]["start_line"]) for v in vulns] == [
        (f"{tmp_path}/tree/app/.env", 2),
        (f"{tmp_path}/tree/app/.env", 3),
    ]
    first = vulns[0]
    assert first["id"] != vulns[1]["id"] and all(UUID8.match(v["id"]) for v in vulns)
    details = first["details"]
    finding_id = details["finding_id"]["value"]
    assert first["id"].replace("-", "")[:12] == finding_id[:12]  # what the text report shows as the id
    assert first["name"] == "GitHub personal access token (classic)"
    assert first["severity"] == "Critical"
    assert first["identifiers"][0]["type"] == "leakstop_rule_id"
    assert first["identifiers"][0]["value"] == "github-pat"
    assert first["identifiers"][0]["url"].startswith("https://")
    assert first["location"]["commit"] == {"sha": "0000000"}
    assert first["location"]["end_line"] == 2
    assert first["raw_source_code_extract"] == "GITHUB_TOKEN=ghp_…(40)"
    assert details["verdict"]["value"] == "block"
    assert details["secret"]["value"] == "ghp_…(40)"
    assert "ghp_…(40)" in first["description"]
    assert "rotate" in first["solution"]


def test_ids_are_the_same_on_every_run(tmp_path: Path, gitlab: Report, tokens: TokenFactory) -> None:
    write_files(tmp_path / "tree", {"a.env": f"T={tokens.github_clean()}\nU={tokens.github_clean()}\n"})

    runs = [gitlab(tmp_path / "tree")[1] for _ in range(2)]

    ids = [[v["id"] for v in report["vulnerabilities"]] for report in runs]
    assert ids[0] == ids[1] and len(set(ids[0])) == 2


@pytest.fixture
def history(tmp_path: Path, tokens: TokenFactory) -> tuple[Repo, str, str, str]:
    repo = Repo.init(tmp_path / "repo", clock=[EPOCH])
    base = repo.commit("clean", {"README.md": "# app\n"})
    token = tokens.github_clean()
    added = repo.commit("add config", {"deploy/app.env": f"USER=ci\nGITHUB_TOKEN={token}\n"})
    repo.git("rm", "-q", "deploy/app.env")
    repo.commit("remove it again")
    return repo, base, added, token


@pytest.mark.parametrize("mode", ["range", "history"])
def test_git_modes_name_the_commit(
    history: tuple[Repo, str, str, str], gitlab: Report, mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo, base, added, token = history
    monkeypatch.chdir(repo.path)
    flags = ["--range", f"{base}..HEAD"] if mode == "range" else ["--history"]

    code, report, text = gitlab(*flags)

    assert code == 1
    assert_no_secret(text, token)
    (vuln,) = report["vulnerabilities"]
    location = vuln["location"]
    assert location["file"] == "deploy/app.env" and location["start_line"] == 2
    assert location["commit"] == {
        "sha": added,
        "author": f"{AUTHOR[0]} <{AUTHOR[1]}>",
        "date": repo.author_date(added),
    }
    assert "git commit --amend" in vuln["solution"]
    assert "commit" not in vuln["details"]  # the commit is in location, not repeated


def test_staged_has_no_commit_yet(tmp_path: Path, gitlab: Report, tokens: TokenFactory) -> None:
    repo = Repo.init(tmp_path / "repo", clock=[EPOCH])
    repo.commit("clean", {"README.md": "# app\n"})
    token = tokens.github_clean()
    repo.write({"app.env": f"GITHUB_TOKEN={token}\n"})
    repo.git("add", "app.env")

    code, report, text = gitlab("--staged", repo.path)

    assert code == 1
    assert_no_secret(text, token)
    (vuln,) = report["vulnerabilities"]
    assert vuln["location"]["commit"] == {"sha": "0000000"}
    assert vuln["location"]["file"] == "app.env"


def test_an_image_tarball(tmp_path: Path, gitlab: Report, tokens: TokenFactory) -> None:
    deleted, visible = tokens.github_clean(), tokens.github_clean()
    base = layer({"app/.env": f"TOKEN={deleted}\n".encode()})
    top = layer({"app/.wh..env": b"", "app/main.py": f"key = '{visible}'\n".encode()})
    image = docker_save(tmp_path / "img.tar", [base, top], image_config([base, top], [], ["ADD . /app"] * 2))

    code, report, text = gitlab("--image", image)

    assert code == 1
    assert_no_secret(text, deleted, visible)
    files = [v["location"]["file"] for v in report["vulnerabilities"]]
    assert files == [f"{image}!sha256:{sha(base)}!app/.env", f"{image}!sha256:{sha(top)}!app/main.py"]
    gone = report["vulnerabilities"][0]
    assert gone["location"]["commit"] == {"sha": "0000000"}
    assert gone["details"]["status"]["value"] == "deleted in layer 1, still extractable"
    assert gone["details"]["layer_digest"]["value"] == f"sha256:{sha(base)}"
    assert "Rebuild the image" in gone["solution"]


def test_terraform_state(tmp_path: Path, gitlab: Report, tokens: TokenFactory) -> None:
    password = tokens.clean_chars("abcdefghijklmnopqrstuvwxyz0123456789", 24)
    state = tmp_path / "terraform.tfstate"
    state.write_text(json.dumps(password_state(password), indent=2), encoding="utf-8")

    code, report, text = gitlab("--tfstate", state)

    assert code == 1
    assert_no_secret(text, password)
    (vuln,) = report["vulnerabilities"]
    assert vuln["location"]["file"] == str(state)
    assert vuln["identifiers"][0]["value"] == "terraform-sensitive-in-state"
    assert vuln["details"]["resource"]["value"] == "random_password.db"
    assert vuln["details"]["attribute"]["value"] == "result"
    assert "state" in vuln["solution"]


def test_a_clean_scan_and_a_bypass(
    tmp_path: Path, run_cli: RunCli, make_config: MakeConfig, tokens: TokenFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = tokens.github_clean()
    write_files(tmp_path / "tree", {"a.env": f"T={token}\n"})
    config = make_config(policy={"bypass": {"enabled": True, "channels": ["env"]}})
    monkeypatch.setenv("LEAKSTOP_BYPASS", "a revoked test key")

    code, out, _ = run_cli("scan", "--format", "gitlab", "--config", config, tmp_path / "tree")

    report = json.loads(out)
    VALIDATOR.validate(report)
    assert code == 0
    assert report["vulnerabilities"] == []
    values = [m["value"] for m in report["scan"]["messages"]]
    assert "allowed findings, not listed: 1 bypass" in values
    assert any(v.startswith("bypass via env") and "a revoked test key" in v for v in values)


def test_the_schema_check_can_fail(tmp_path: Path, gitlab: Report, tokens: TokenFactory) -> None:
    """What GitLab refuses, the vendored schema refuses too: the checks above are not vacuous."""
    write_files(tmp_path / "tree", {"a.env": f"T={tokens.github_clean()}\n"})
    _, report, _ = gitlab(tmp_path / "tree")
    broken = [
        ("scan", "start_time", report["scan"]["start_time"] + "Z"),
        ("scan", "end_time", report["scan"]["end_time"] + ".5"),
        ("scan", "status", "blocked"),
    ]
    for *path, value in broken:
        doc = json.loads(json.dumps(report))
        doc[path[0]][path[1]] = value
        assert not VALIDATOR.is_valid(doc), path
    for key, value in (("severity", "critical"), ("identifiers", []), ("location", {"file": "a.env"})):
        doc = json.loads(json.dumps(report))
        doc["vulnerabilities"][0][key] = value
        assert not VALIDATOR.is_valid(doc), key


def test_as_uuid_keeps_the_fingerprint_readable() -> None:
    assert as_uuid("f" * 40) == "ffffffff-ffff-8fff-bfff-ffffffffffff"
    assert as_uuid("0" * 40) == "00000000-0000-8000-8000-000000000000"
    assert as_uuid("0123456789abcdef0123456789abcdef01234567") == "01234567-89ab-8def-8123-456789abcdef"


# --- Code Quality ---


def test_codequality_lists_what_blocks_or_warns(tmp_path: Path, gitlab: Report, tokens: TokenFactory) -> None:
    token, allowed = tokens.github_clean(), tokens.github_clean()
    write_files(tmp_path / "tree", {"a.env": f"T={token}\nU={token}\n", "fixtures/b.env": f"T={allowed}\n"})

    code, issues, text = gitlab(tmp_path / "tree", "--show-secrets", fmt="codequality")
    _, again, _ = gitlab(tmp_path / "tree", fmt="codequality")

    assert code == 1
    assert_no_secret(text, token, allowed)
    assert isinstance(issues, list) and len(issues) == 2
    for issue, line in zip(issues, (1, 2), strict=True):
        assert issue["check_name"] == "github-pat"
        assert issue["severity"] == "blocker"
        assert issue["location"] == {"path": f"{tmp_path}/tree/a.env", "lines": {"begin": line}}
        assert issue["description"].startswith("GitHub personal access token (classic): ghp_…(40) (block)")
    fingerprints = [i["fingerprint"] for i in issues]
    assert len(set(fingerprints)) == 2
    assert fingerprints == [i["fingerprint"] for i in again]


def test_messages_stop_at_a_thousand_and_say_how_many_more() -> None:
    issues = [ScanIssue(f"f{i}", "unreadable", "cannot read: Permission denied") for i in range(MAX_MESSAGES + 5)]
    report = gitlab_dict(ScanResult(target="files", issues=issues))
    VALIDATOR.validate(report)
    messages = report["scan"]["messages"]
    assert len(messages) == MAX_MESSAGES
    assert messages[1] == {
        "level": "warn",
        "value": f"incomplete: {MAX_MESSAGES + 5} not read ({MAX_MESSAGES + 5} unreadable) (policy incomplete: warn)",
    }
    assert messages[-1] == {"level": "warn", "value": "… and 8 more not scanned"}  # one more: the incomplete message
    assert TIMESTAMP.match(report["scan"]["start_time"])  # a result not made by the pipeline: now


def test_a_commit_without_author_or_date_names_only_its_sha() -> None:
    rule = RuleInfo("r", "Rule", "A rule.", "high", "high")
    match = Match("r", Secret("x" * 20), 0, 20, 1, 1, 1, 21, "x…(20)", 3.0)
    for origin, commit in (
        (GitOrigin("a", "c0ffee"), {"sha": "c0ffee"}),
        (GitOrigin("a", "c0ffee", author="Bob"), {"sha": "c0ffee", "author": "Bob"}),
        (GitOrigin("a", ""), {"sha": "0000000"}),
    ):
        assert _location(Finding(rule, match, origin, "f" * 40, "s" * 40))["commit"] == commit
