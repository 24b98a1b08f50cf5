"""Terraform state: rule matches tied to resource attributes, and values state keeps in plaintext."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from helpers import MakeConfig, RunCli, notes_resource, password_state
from tokens import ALNUM, TokenFactory

from scanner.formats.tfstate import attribute_path

RULE = "terraform-sensitive-in-state"


def state(tokens: TokenFactory) -> tuple[dict[str, Any], dict[str, str]]:
    values = {
        "password": tokens.clean_chars(ALNUM, 24),
        "api_key": tokens.clean_chars(ALNUM, 32),
        "output": tokens.clean_chars(ALNUM, 20),
        "deposed": tokens.github_clean(),
        "tagged": tokens.clean_chars(ALNUM, 18),
    }
    doc = {
        "version": 4,
        "terraform_version": "1.9.5",
        "serial": 7,
        "lineage": "00000000-0000-4000-8000-000000000000",
        "outputs": {
            "admin_token": {"value": values["output"], "type": "string", "sensitive": True},
            "endpoint": {"value": "https://api.example.test", "type": "string"},
        },
        "resources": [
            {
                "mode": "managed",
                "type": "random_password",
                "name": "db",
                "provider": 'provider["registry.terraform.io/hashicorp/random"]',
                "instances": [
                    {"schema_version": 3, "attributes": {"id": "none", "length": 24, "result": values["password"]}}
                ],
            },
            {
                "module": "module.app",
                "mode": "managed",
                "type": "acme_service",
                "name": "api",
                "provider": 'provider["registry.terraform.io/acme/acme"]',
                "instances": [
                    {
                        "index_key": "eu",
                        "attributes": {"name": "api", "settings": {"api_key": values["api_key"], "region": "eu"}},
                        "sensitive_attributes": [
                            [
                                {"type": "get_attr", "value": "settings"},
                                {"type": "index", "value": {"value": "api_key", "type": "string"}},
                            ]
                        ],
                    },
                    {
                        "index_key": "us",
                        "deposed": "a1b2c3d4",
                        "attributes": {"name": "api", "notes": f"token {values['deposed']}"},
                    },
                ],
            },
            {
                "mode": "managed",
                "type": "aws_s3_bucket",
                "name": "logs",
                "provider": 'provider["registry.terraform.io/hashicorp/aws"]',
                "instances": [{"attributes": {"bucket": "logs", "tags": {"Name": values["tagged"]}}}],
            },
        ],
        "check_results": None,
    }
    return doc, values


def write(path: Path, doc: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    return path


def line_of(path: Path, value: str) -> int:
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if value in line:
            return number
    raise AssertionError(value)


@pytest.fixture
def config(make_config: MakeConfig) -> Path:
    return make_config(("github-pat", RULE))


def scan_json(run_cli: RunCli, *argv: str | Path) -> tuple[int, dict[str, Any]]:
    code, out, err = run_cli("scan", *argv, "-f", "json", "--show-secrets")
    assert err == "" or "report written" in err
    return code, json.loads(out)


def test_state_v4_sensitive_values_secret_attributes_and_deposed_instances(
    tmp_path: Path, tokens: TokenFactory, run_cli: RunCli, config: Path
) -> None:
    doc, values = state(tokens)
    path = write(tmp_path / "terraform.tfstate", doc)

    code, report = scan_json(run_cli, "--tfstate", path, "-c", config)

    assert code == 1
    assert report["target"] == "tfstate"
    got = {
        f["secret"]: (f["rule"]["id"], f["location"]["resource"], f["location"]["attribute"], f["location"]["line"])
        for f in report["findings"]
    }
    assert got == {
        values["output"]: (RULE, "output.admin_token", "value", line_of(path, values["output"])),
        values["password"]: (RULE, "random_password.db", "result", line_of(path, values["password"])),
        values["api_key"]: (
            RULE,
            'module.app.acme_service.api["eu"]',
            "settings.api_key",
            line_of(path, values["api_key"]),
        ),
        values["deposed"]: (
            "github-pat",
            'module.app.acme_service.api["us"] (deposed a1b2c3d4)',
            "notes",
            line_of(path, values["deposed"]),
        ),
    }
    assert all(f["location"]["path"] == str(path) for f in report["findings"])
    assert values["tagged"] not in got  # neither marked nor a secret-bearing attribute


def test_backup_files_and_stdin_read_the_same(
    tmp_path: Path, tokens: TokenFactory, run_cli: RunCli, config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    doc, _values = state(tokens)
    backup = write(tmp_path / "terraform.tfstate.backup", doc)
    code, report = scan_json(run_cli, "--tfstate", backup, "-c", config)
    assert code == 1 and len(report["findings"]) == 4

    stdin = io.TextIOWrapper(io.BytesIO(backup.read_bytes()), encoding="utf-8")
    monkeypatch.setattr(sys, "stdin", stdin)
    code, report = scan_json(run_cli, "--tfstate", "-", "-c", config)
    assert code == 1
    assert {f["location"]["path"] for f in report["findings"]} == {"-"}
    assert len(report["findings"]) == 4


def test_show_json_output_and_its_sensitive_values(
    tmp_path: Path, tokens: TokenFactory, run_cli: RunCli, config: Path
) -> None:
    secret, key = tokens.clean_chars(ALNUM, 24), tokens.clean_chars(ALNUM, 30)
    doc = {
        "format_version": "1.0",
        "terraform_version": "1.9.5",
        "values": {
            "outputs": {"db_password": {"sensitive": True, "value": secret, "type": "string"}},
            "root_module": {
                "resources": [],
                "child_modules": [
                    {
                        "address": "module.db",
                        "resources": [
                            {
                                "address": "module.db.acme_db.main",
                                "mode": "managed",
                                "type": "acme_db",
                                "name": "main",
                                "values": {"admin_key": key, "name": "main"},
                                "sensitive_values": {"admin_key": True},
                            }
                        ],
                    }
                ],
            },
        },
    }
    path = write(tmp_path / "show.json", doc)

    code, report = scan_json(run_cli, "--tfstate", path, "-c", config)

    assert code == 1
    got = {f["secret"]: (f["location"]["resource"], f["location"]["attribute"]) for f in report["findings"]}
    assert got == {secret: ("output.db_password", "value"), key: ("module.db.acme_db.main", "admin_key")}


def test_a_minified_state_still_ties_each_match_to_its_attribute(
    tmp_path: Path, tokens: TokenFactory, run_cli: RunCli, config: Path
) -> None:
    doc, values = state(tokens)
    doc["outputs"]["endpoint"]["value"] = "https://ëxample.test/çafé"  # non-ASCII before the values: bytes != chars
    path = tmp_path / "min.tfstate"
    path.write_text(json.dumps(doc, separators=(",", ":"), ensure_ascii=False) + "\n", encoding="utf-8")
    code, report = scan_json(run_cli, "--tfstate", path, "-c", config)
    assert code == 1
    got = {f["secret"]: (f["location"]["attribute"], f["location"]["line"]) for f in report["findings"]}
    assert got[values["api_key"]] == ("settings.api_key", 1)
    assert got[values["deposed"]] == ("notes", 1)
    assert got[values["output"]] == ("value", 1)


def test_the_rule_can_be_disabled(
    tmp_path: Path, tokens: TokenFactory, run_cli: RunCli, make_config: MakeConfig
) -> None:
    doc, values = state(tokens)
    path = write(tmp_path / "terraform.tfstate", doc)
    config = make_config(("github-pat",))
    code, report = scan_json(run_cli, "--tfstate", path, "-c", config)
    assert code == 1
    assert [f["secret"] for f in report["findings"]] == [values["deposed"]]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"version": 4, "resources": [', "not a Terraform state: invalid JSON"),
        ('{"version": 3, "modules": []}', "unknown Terraform state version 3"),
        ("[1, 2]", "not a Terraform state: the JSON is not an object"),
    ],
)
def test_bad_state_is_a_one_line_error_naming_the_file(
    tmp_path: Path, run_cli: RunCli, config: Path, content: str, message: str
) -> None:
    path = tmp_path / "bad.tfstate"
    path.write_text(content, encoding="utf-8")
    code, out, err = run_cli("scan", "--tfstate", path, "-c", config)
    assert code == 2
    assert out == ""
    assert len(err.strip().splitlines()) == 1
    assert err.startswith(f"leakstop: error: {path}: {message}")


def test_a_missing_state_file(tmp_path: Path, run_cli: RunCli, config: Path) -> None:
    code, _, err = run_cli("scan", "--tfstate", tmp_path / "nope.tfstate", "-c", config)
    assert code == 2 and "no such file" in err


def test_attribute_paths() -> None:
    assert attribute_path(("settings", "api_key")) == "settings.api_key"
    assert attribute_path(("rules", 0, "token")) == "rules[0].token"
    assert attribute_path(()) == ""


# --- state files met in a directory, staged or history scan ---


def _git(cwd: Path, *args: str, clock: list[int]) -> str:
    """The git CLI with a pinned identity and clock (one minute per call), nothing from the developer's setup."""
    clock[0] += 60
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GIT_", "PRE_COMMIT_"))}
    env.update(
        HOME=str(cwd.parent / "home"),
        GIT_AUTHOR_NAME="Alice Example",
        GIT_AUTHOR_EMAIL="alice@example.com",
        GIT_COMMITTER_NAME="Leakstop Tests",
        GIT_COMMITTER_EMAIL="tests@leakstop.invalid",
        GIT_AUTHOR_DATE=f"{clock[0]} +0000",
        GIT_COMMITTER_DATE=f"{clock[0]} +0000",
        GIT_CONFIG_GLOBAL=os.devnull,
        GIT_CONFIG_NOSYSTEM="1",
    )
    proc = subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True, check=True)
    return proc.stdout.strip()


def findings_by_secret(report: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {}
    for finding in report["findings"]:
        found.setdefault(finding["secret"], []).append(finding)
    return found


def test_a_directory_scan_reads_state_files_as_state(
    tmp_path: Path, tokens: TokenFactory, run_cli: RunCli, config: Path
) -> None:
    password, backup_password, ws_password = (tokens.clean_chars(ALNUM, 24) for _ in range(3))
    token, loose = tokens.github_clean(), tokens.github_clean()
    root = tmp_path / "tree"
    write(root / "infra/terraform.tfstate", password_state(password, extra=notes_resource(f"token {token}")))
    write(root / "infra/terraform.tfstate.backup", password_state(backup_password))
    write(root / "infra/terraform.tfstate.d/staging/terraform.tfstate", password_state(ws_password))
    # Backend settings, not state (version 3): scanned as a plain file, no invalid-state issue.
    write(root / "infra/.terraform/terraform.tfstate", {"version": 3, "backend": {"type": "s3", "config": {}}})
    (root / "broken.tfstate").write_text(f'{{"version": 4, "resources": [ "{loose}"\n', encoding="utf-8")

    code, report = scan_json(run_cli, root, "-c", config)

    assert code == 1
    found = findings_by_secret(report)
    assert set(found) == {password, backup_password, ws_password, token, loose}
    assert all(len(f) == 1 for f in found.values()), "a secret is reported once per file, state or rule"

    def where(secret: str) -> tuple[str, str, str, str, str, int]:
        (f,) = found[secret]
        loc = f["location"]
        return (
            f["rule"]["id"],
            loc["kind"],
            loc["path"],
            loc.get("resource", ""),
            loc.get("attribute", ""),
            loc["line"],
        )

    state = root / "infra/terraform.tfstate"
    assert where(password) == (RULE, "tfstate", f"{state}", "random_password.db", "result", line_of(state, password))
    assert where(token) == ("github-pat", "tfstate", f"{state}", "acme_service.api", "notes", line_of(state, token))
    assert where(backup_password)[2:4] == (f"{state}.backup", "random_password.db")
    assert where(ws_password)[2:4] == (
        f"{root}/infra/terraform.tfstate.d/staging/terraform.tfstate",
        "random_password.db",
    )
    # Invalid JSON: scanned as text (the token is still found) and listed as an issue; the scan goes on.
    assert where(loose)[:3] == ("github-pat", "file", f"{root}/broken.tfstate")
    issues = {(i["path"], i["reason"]) for i in report["issues"]}
    assert (f"{root}/broken.tfstate", "invalid-state") in issues
    assert not any("/.terraform/" in path for path, _ in issues)
    assert report["summary"]["skipped"].get("invalid-state") == 1

    code, out, _ = run_cli("scan", root, "-c", config)  # the text report names the resource too
    assert code == 1
    assert "in state: random_password.db result" in out
    assert "invalid-state: scanned as plain text, not as state: not a Terraform state: invalid JSON" in out


def test_history_range_and_staged_scans_read_committed_state(
    tmp_path: Path, tokens: TokenFactory, run_cli: RunCli, config: Path
) -> None:
    clock = [1_700_000_000]
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "-c", "init.defaultBranch=main", "init", "-q", clock=clock)
    first, second, staged = (tokens.clean_chars(ALNUM, 24) for _ in range(3))
    token = tokens.github_clean()

    write(repo / "terraform.tfstate", password_state(first, serial=1))
    _git(repo, "add", "-A", clock=clock)
    _git(repo, "commit", "-q", "-m", "state", clock=clock)
    introduced = _git(repo, "rev-parse", "HEAD", clock=clock)
    # The password rotated and a resource with a token added: a new version of the same file.
    write(repo / "terraform.tfstate", password_state(second, serial=2, extra=notes_resource(f"token {token}")))
    _git(repo, "commit", "-q", "-am", "apply", clock=clock)
    rotated = _git(repo, "rev-parse", "HEAD", clock=clock)
    (repo / "terraform.tfstate").unlink()
    _git(repo, "commit", "-q", "-am", "remove state", clock=clock)

    code, report = scan_json(run_cli, repo, "--history", "--workers", "2", "-c", config)
    assert code == 1
    found = findings_by_secret(report)
    assert set(found) == {first, second, token}
    got = {
        secret: (f["rule"]["id"], f["location"]["kind"], f["location"]["commit"], f["location"]["resource"],
                 f["location"]["attribute"])
        for secret, (f,) in found.items()
    }  # fmt: skip
    assert got == {
        first: (RULE, "git", introduced, "random_password.db", "result"),
        second: (RULE, "git", rotated, "random_password.db", "result"),
        token: ("github-pat", "git", rotated, "acme_service.api", "notes"),
    }

    # A range reports what its commits add, not the state the base already had.
    code, report = scan_json(run_cli, repo, "--range", f"{introduced}..{rotated}", "-c", config)
    assert code == 1
    assert set(findings_by_secret(report)) == {second, token}

    # Staged: the lines the index adds, still tied to their resource.
    write(repo / "env/terraform.tfstate", password_state(staged))
    _git(repo, "add", "-A", clock=clock)
    code, report = scan_json(run_cli, repo, "--staged", "-c", config)
    assert code == 1
    (f,) = report["findings"]
    assert (f["secret"], f["location"]["resource"], f["location"]["attribute"]) == (
        staged,
        "random_password.db",
        "result",
    )


def test_history_skips_the_analysis_of_versions_that_change_no_secret(tokens: TokenFactory) -> None:
    from helpers import BUILTIN_RULES

    from scanner.detect.engine import Detector
    from scanner.detect.structured import version_groups
    from scanner.ruleset import load_ruleset

    detector = Detector(load_ruleset([BUILTIN_RULES / "terraform.yaml", BUILTIN_RULES / "github.yaml"]))

    def blob(doc: dict[str, Any]) -> bytes:
        return (json.dumps(doc, indent=2) + "\n").encode()

    password = tokens.clean_chars(ALNUM, 24)
    base = password_state(password, serial=1, extra=notes_resource("first"))
    previous = blob(base)

    def changed(**edits: Any) -> dict[str, Any]:
        doc = json.loads(previous)
        doc["serial"] = 2
        attributes = doc["resources"][1]["instances"][0]["attributes"]
        attributes.update(edits)
        return doc

    # Only the serial and a plain attribute changed: nothing new.
    assert version_groups(detector, blob(changed(notes="second")), previous, None) == []

    # A new token where a rule matches, a rotated password, a new sensitive output: the version is analysed
    # (whole: findings the previous version already had are dropped later, as for any blob).
    def found(doc: dict[str, Any]) -> set[tuple[str, str]]:
        groups = version_groups(detector, blob(doc), previous, None)
        return {(g.address, m.secret.reveal()) for g in groups or [] for m in g.matches}

    token, rotated, output = tokens.github_clean(), tokens.clean_chars(ALNUM, 24), tokens.clean_chars(ALNUM, 20)
    assert ("acme_service.api", token) in found(changed(notes=f"token {token}"))
    assert ("random_password.db", rotated) in found(password_state(rotated, serial=2, extra=notes_resource("first")))
    doc = changed()
    doc["outputs"] = {"admin": {"value": output, "type": "string", "sensitive": True}}
    assert ("output.admin", output) in found(doc)
    # Not a state any more: None, so the blob is scanned as text.
    assert version_groups(detector, previous[:-20], previous, None) is None
