"""The respond policy (``respond:`` in .leakstop.yaml) and the plan it makes of a scan's blocking findings."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from helpers import ROOT, RunCli, config_doc
from tokens import TokenFactory

from scanner.errors import ConfigError
from scanner.integrations.response import Providers, response_http
from scanner.models import ScanResult
from scanner.pipeline import run
from scanner.pipeline.request import ScanRequest
from scanner.policy.config import Config, load_config
from scanner.policy.respond import RespondSettings, respond_settings
from scanner.respond.model import ActionKind
from scanner.respond.plan import action_id, check_settings, make_plan, render
from scanner.respond.providers import PROVIDERS

RULES = ("github-pat", "github-app-installation-token", "aws-access-key-id", "aws-secret-access-key")


def write_config(tmp_path: Path, respond: dict[str, Any] | None = None, rules: tuple[str, ...] = RULES) -> Path:
    path = tmp_path / "config" / "leakstop.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    doc = config_doc(rules, **({"respond": respond} if respond is not None else {}))
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return path


def scan(tree: Path, config: Config) -> ScanResult:
    return run(ScanRequest(kind="paths", paths=(str(tree),), config=config))


def plan_for(tree: Path, config: Config) -> Any:
    providers = Providers(config, {}, response_http({}), False)
    return make_plan(scan(tree, config), config.respond, providers.lookup, str(tree))


def test_the_schema_names_exactly_the_providers_of_the_table() -> None:
    schema = json.loads((ROOT / "scanner/policy/config.schema.json").read_text())
    respond = schema["properties"]["respond"]["properties"]
    assert set(respond["providers"]["properties"]) == set(PROVIDERS)
    assert set(respond["actions"]["items"]["properties"]["provider"]["enum"]) == set(PROVIDERS)
    assert (ROOT / "docs/config.schema.json").read_text() == (ROOT / "scanner/policy/config.schema.json").read_text()


def test_an_unknown_provider_is_an_error_naming_its_path(tmp_path: Path, run_cli: RunCli) -> None:
    actions = [{"rules": ["a"]}, {"do": "notify", "provider": "webhook"}, {"do": "revoke", "provider": "gitlub"}]
    config = write_config(tmp_path, {"actions": actions})
    code, _, err = run_cli("respond", "--config", config, tmp_path)
    assert code == 2
    assert "respond/actions/2/provider: 'gitlub' is not one of" in err


def test_provider_globs_and_names_are_checked_against_the_table() -> None:
    check_settings(respond_settings({"actions": [{"providers": ["git*"]}]}, "c.yaml"))
    with pytest.raises(ConfigError, match=r"^c.yaml: respond/actions/1/providers/0: 'bit\*' matches no provider"):
        check_settings(respond_settings({"actions": [{}, {"providers": ["bit*"]}]}, "c.yaml"))
    with pytest.raises(ConfigError, match=r"respond/actions/0/provider: unknown provider 'nope'"):
        check_settings(respond_settings({"actions": [{"provider": "nope"}]}, "c.yaml"))
    with pytest.raises(ConfigError, match=r"respond/providers/nope: unknown provider"):
        check_settings(respond_settings({"providers": {"nope": {}}}, "c.yaml"))


def test_settings_parse_into_frozen_values(tmp_path: Path) -> None:
    raw = {
        "actions": [{"rules": ["github-*"], "tags": ["vcs"], "providers": ["github"], "do": "revoke"}],
        "outbox": "state/outbox.jsonl",
        "audit_log": "/var/log/leakstop.jsonl",
        "retry": {"max_attempts": 3, "base_delay": 2, "max_delay": 60},
        "sink": {"kind": "webhook", "url": "https://example.invalid/hook"},
        "on_push": "execute",
        "on_ci": "enqueue",
        "providers": {"github": {"api_url": "http://127.0.0.1:9/"}},
    }
    config = load_config(write_config(tmp_path, raw))
    settings = config.respond
    assert settings.retry.max_attempts == 3 and settings.retry.base_delay == 2
    assert settings.path(settings.outbox) == str(tmp_path / "config" / "state" / "outbox.jsonl")
    assert settings.path(settings.audit_log) == "/var/log/leakstop.jsonl"
    assert settings.sink == {"kind": "webhook", "url": "https://example.invalid/hook"}
    assert (settings.on_push, settings.on_ci) == ("execute", "enqueue")
    assert settings.providers["github"]["api_url"] == "http://127.0.0.1:9/"
    assert settings.actions[0].matches("github-pat", ("vcs",), "github")
    assert not settings.actions[0].matches("github-pat", ("cloud",), "github")
    assert not settings.actions[0].matches("aws-access-key-id", ("vcs",), "aws-iam")
    assert RespondSettings().on_push == "off" and RespondSettings().path("") == ""


def test_a_credential_in_30_places_is_one_action(tmp_path: Path, tokens: TokenFactory) -> None:
    token = tokens.github_clean()
    tree = tmp_path / "tree"
    for n in range(30):
        (tree / f"d{n}").mkdir(parents=True)
        (tree / f"d{n}" / "app.env").write_text(f"GITHUB_TOKEN={token}\n")
    config = load_config(write_config(tmp_path))
    plan = plan_for(tree, config)
    (action,) = plan.actions
    assert (action.kind, action.provider, action.rule_id) == (ActionKind.REVOKE, "github", "github-pat")
    assert len(action.places) == 30 and len({p.finding_id for p in action.places}) == 30
    assert action.id == action_id(action.secret_id, ActionKind.REVOKE, "github")
    assert plan.credentials[action.secret_id].secret.reveal() == token
    out = io.StringIO()
    render(plan, out)
    text = out.getvalue()
    assert "1 actions for 1 credentials" in text and "(+27 more)" in text and "guide: https://docs.github.com" in text
    assert token not in text


def test_related_secrets_and_rules_without_an_adapter(tmp_path: Path, tokens: TokenFactory) -> None:
    tree = tmp_path / "tree"
    tree.mkdir()
    key_id, secret, token = tokens.aws_key_id(), tokens.aws_secret(), tokens.github_clean()
    (tree / "creds").write_text(f"aws_access_key_id = {key_id}\naws_secret_access_key = {secret}\ngh = {token}\n")
    (tree / "app.env").write_text(f"TOKEN={tokens.github_clean('ghs_')}\n")
    actions = [
        {"rules": ["aws-*"], "do": "rotate"},
        {"rules": ["github-app-*"], "provider": "github"},
        {"rules": ["*"]},
    ]
    config = load_config(write_config(tmp_path, {"actions": actions}))
    plan = plan_for(tree, config)
    (revoke,) = [a for a in plan.actions if a.kind is ActionKind.REVOKE and a.provider == "github"]
    related = plan.credentials[revoke.secret_id].related
    assert related["aws-secret-access-key"].reveal() == secret and related["aws-access-key-id"].reveal() == key_id
    whys = {u.rule_id: u.why for u in plan.unhandled}
    assert "no provider acts on this rule" in whys["aws-secret-access-key"]
    assert "github cannot revoke github-app-installation-token" in whys["github-app-installation-token"]
    assert any(a.kind is ActionKind.ROTATE and a.provider == "aws-iam" for a in plan.actions)
    out = io.StringIO()
    render(plan, out)
    assert "nothing attempted" in out.getvalue()


def test_do_none_stops_and_an_explicit_provider_wins(tmp_path: Path, tokens: TokenFactory) -> None:
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "app.env").write_text(f"TOKEN={tokens.github_clean()}\n")
    actions = [{"tags": ["vcs"], "do": "notify", "provider": "webhook"}, {"rules": ["github-*"], "do": "none"}, {}]
    webhook = {"webhook": {"url": "https://hooks.example.com/leakstop"}}
    config = load_config(write_config(tmp_path, {"actions": actions, "providers": webhook}))
    plan = plan_for(tree, config)
    assert [(a.kind, a.provider) for a in plan.actions] == [(ActionKind.NOTIFY, "webhook")]
    assert not plan.unhandled
