"""A team's own validator declared in rule YAML (issue #14 item 3), the refusals of an unsafe one, and when the
CLI validates (``--validate``, ``validate:`` in the config, never in a hook's scan unless configured)."""

from __future__ import annotations

import argparse
import json
import socket
from pathlib import Path
from typing import Any

import pytest
import yaml
from helpers import RunCli, builtin_rule
from httpserver import Request, ServerFactory
from tokens import ALNUM, TokenFactory
from validate_fakes import js

from scanner.errors import ConfigError, UsageError
from scanner.httpsettings import HttpSettings
from scanner.pipeline import run
from scanner.pipeline.request import ScanRequest
from scanner.policy.config import ValidateSettings, load_config
from scanner.ruleset import builtin_rules_dir, load_rule_files
from scanner.ruleset.validator import encode, parse_declared
from scanner.validate.options import ValidationOptions
from scanner.validate.table import VALIDATORS, validator_for

DECLARED = {
    "method": "GET",
    "url": "https://tokens.acme.example/v1/whoami",
    "headers": {"Authorization": "Token {secret}", "Accept": "application/json"},
    "live": {"status": [200], "json": {"active": True}},
    "invalid": {"status": [401, 403]},
    "identity": ["owner.name"],
}
RULE = {
    "id": "acme-token",
    "name": "Acme internal token",
    "regex": r"\b(acme_[A-Za-z0-9]{32})\b",
    "keywords": ["acme_"],
    "severity": "high",
    "confidence": "high",
    "validator": DECLARED,
}


def test_a_declared_validator_runs_in_a_scan(tmp_path: Path, http_server: ServerFactory, tokens: TokenFactory) -> None:
    live, revoked = "acme_" + tokens.chars(ALNUM, 32), "acme_" + tokens.chars(ALNUM, 32)
    server = http_server()

    def whoami(request: Request) -> Any:
        token = request.headers.get("authorization", "").removeprefix("Token ")
        if token == live:
            return js({"active": True, "owner": {"name": "team-payments"}})
        return js({"active": False}, 401 if token == revoked else 403)

    server.route("GET", "/v1/whoami", whoami)
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "a.env").write_text(f"A={live}\nB={revoked}\n", encoding="utf-8")
    config = tmp_path / "leakstop.yaml"
    config.write_text(yaml.safe_dump({"extend": "none", "rules": [RULE]}), encoding="utf-8")
    options = ValidationOptions(http=HttpSettings(read_timeout=2), routes={"https://tokens.acme.example": server.base})
    request = ScanRequest(kind="paths", paths=(str(tmp_path / "src"),), config=load_config(config), validation=options)
    states = {f.match.line: f.validation for f in run(request).findings}
    assert states[1] is not None and (states[1].state, states[1].identity) == ("live", "team-payments")
    assert states[2] is not None and states[2].state == "invalid"
    assert states[1].validator == "rule:acme-token"
    assert all(live not in r.path + r.query and revoked not in r.path + r.query for r in server.requests)


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"url": "https://tokens.acme.example/v1/whoami?token={secret}"}, "would put the secret in a query string"),
        ({"url": "https://tokens.acme.example/v1/{secret}/whoami"}, "would put the secret in the URL path"),
        ("github", "a built-in name or a mapping"),
        ({"url": "https://{secret}.acme.example/v1"}, "must name a fixed host"),
        ({"url": "https://{tenant}.acme.example/v1"}, "uses {tenant}: a declared check knows only {secret}"),
        ({"headers": {"X-Key": "{secret}", "X-User": "{user}"}}, "uses {user}"),
        ({"url": "http://tokens.acme.example/v1"}, "must be an https:// URL"),
        ({"url": "https://me:pw@tokens.acme.example/v1"}, "user name or password"),
        ({"method": "DELETE"}, "read-only calls"),
        ({"headers": {"Authorization": "Token abc"}}, "sends no {secret}"),
        ({"headers": {"Bad Header": "{secret}"}}, "header names"),
        ({"live": {"status": ["ok"]}}, "status must be a list"),
        ({"live": {"json": ["active"]}}, "json must map"),
        ({"live": "200"}, "expected a mapping"),
        ({"retries": 3}, "unknown key 'retries'"),
    ],
)
def test_an_unsafe_declared_validator_is_refused(change: Any, problem: str) -> None:
    data = {**DECLARED, **change} if isinstance(change, dict) else change
    with pytest.raises(ConfigError, match=r"rules\.yaml: rule acme-token: validator") as raised:
        parse_declared(data, "rules.yaml: rule acme-token")
    assert problem in str(raised.value) and "\n" not in str(raised.value)


def test_a_scan_refuses_a_config_with_such_a_validator(tmp_path: Path, run_cli: RunCli) -> None:
    rule = {**RULE, "validator": {**DECLARED, "url": "https://tokens.acme.example/check?key={secret}"}}
    config = tmp_path / "leakstop.yaml"
    config.write_text(yaml.safe_dump({"extend": "none", "rules": [rule]}), encoding="utf-8")
    (tmp_path / "a.txt").write_text("nothing\n", encoding="utf-8")
    code, out, err = run_cli("scan", tmp_path / "a.txt", "--config", config)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "rule acme-token: validator url would put the secret in a query string" in err
    assert "Traceback" not in err


def test_every_builtin_rule_names_a_known_validator() -> None:
    specs = load_rule_files(sorted(builtin_rules_dir().glob("*.yaml")))
    named = {spec.validator for spec in specs if spec.validator}
    assert named <= set(VALIDATORS)
    assert named == set(VALIDATORS)  # and every validator is used by a rule
    with pytest.raises(ConfigError, match="rule x: unknown validator 'nosuch'"):
        validator_for("x", "nosuch")


def test_builtin_checks_keep_their_hosts() -> None:
    """Every built-in check passes the declared checks' URL rules (its host templates are DNS labels only)."""
    from scanner.ruleset.validator import check_url
    from scanner.validate.builtin import CHECKS

    for name, (_, check) in CHECKS.items():
        check_url(check, name)
        assert not check.secret_in_path or name in ("telegram", "discord-webhook")


def test_a_rule_keeps_its_declared_validator_through_the_cache(tmp_path: Path) -> None:
    """The spec round-trips (rule files are cached as JSON, and ``rule_overrides`` merge onto ``to_dict``)."""
    path = tmp_path / "r.yaml"
    path.write_text(
        yaml.safe_dump({"rules": [{**RULE, "examples": ["x"], "negative_examples": ["y"]}]}), encoding="utf-8"
    )
    (spec,) = load_rule_files([path])
    assert encode(parse_declared(spec.to_dict()["validator"], "again")) == encode(parse_declared(DECLARED, "first"))
    assert builtin_rule("github-pat")["validator"] == "github"


def args(**values: Any) -> argparse.Namespace:
    return argparse.Namespace(**{"validate": None, "validate_cache": None, "validate_deadline": None, **values})


def options_for(
    settings: ValidateSettings, kind: str, environ: dict[str, str] | None = None, **values: Any
) -> ValidationOptions | None:
    from scanner.cli.validation import validation_options
    from scanner.policy.config import Config

    config = Config(validate=settings, source="/repo/.leakstop.yaml")
    return validation_options(args(**values), config, kind, environ or {})


def test_when_the_cli_validates() -> None:
    assert options_for(ValidateSettings(), "paths") is None  # off by default
    assert options_for(ValidateSettings(), "staged", validate=True) is not None  # asked for on the command line
    assert options_for(ValidateSettings(enabled=True), "paths") is not None
    assert options_for(ValidateSettings(enabled=True), "staged") is None  # the pre-commit hook's scan
    assert options_for(ValidateSettings(enabled=True), "push") is None  # the pre-push hook's scan
    assert options_for(ValidateSettings(enabled=True), "paths", {"PRE_COMMIT": "1"}) is None  # pre-commit's files hook
    assert options_for(ValidateSettings(enabled=True, hooks=True), "staged") is not None
    assert options_for(ValidateSettings(enabled=True), "paths", validate=False) is None  # --no-validate
    chosen = options_for(ValidateSettings(enabled=True, cache=".cache/v.db", deadline=9), "history")
    assert chosen is not None and chosen.cache == "/repo/.cache/v.db" and chosen.deadline == 9
    assert options_for(ValidateSettings(), "paths", validate=True, validate_deadline=3).deadline == 3  # type: ignore[union-attr]
    with pytest.raises(UsageError, match="--validate-deadline"):
        options_for(ValidateSettings(), "paths", validate=True, validate_deadline=0)


def test_config_validate_forms(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text("validate: true\n", encoding="utf-8")
    assert load_config(config).validate == ValidateSettings(enabled=True)
    config.write_text("validate: {hooks: true, ttl: 2h, cache: v.db, rate: 5}\n", encoding="utf-8")
    assert load_config(config).validate == ValidateSettings(enabled=True, hooks=True, ttl=7200, cache="v.db", rate=5)
    config.write_text("validate: {ttl: soon}\n", encoding="utf-8")
    with pytest.raises(ConfigError):
        load_config(config)


def test_scan_validate_on_the_command_line(
    tmp_path: Path, run_cli: RunCli, tokens: TokenFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """End to end through the CLI: a proxy that is down (nothing leaves the machine) makes the answer unknown."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        dead = sock.getsockname()[1]
    monkeypatch.setenv("https_proxy", f"http://127.0.0.1:{dead}")
    (tmp_path / "a.env").write_text(f"GITHUB_TOKEN={tokens.github()}\n", encoding="utf-8")
    code, out, err = run_cli("scan", tmp_path, "--no-config", "--validate", "--format", "json", "--no-progress")
    assert code == 1, err
    (finding,) = [f for f in json.loads(out)["findings"] if f["rule"]["id"] == "github-pat"]
    assert finding["validation"]["state"] == "unknown" and "proxy failed" in finding["validation"]["reason"]
