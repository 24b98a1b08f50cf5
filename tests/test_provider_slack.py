"""The Slack provider against a loopback server speaking the Web API's auth.revoke / auth.test: errors arrive as
HTTP 200 ``{"ok": false}``, the leaked token is its own credential, webhooks have no provider."""

from __future__ import annotations

import json
from typing import Any

import pytest
from httpserver import LoopbackServer, Reply, ServerFactory
from tokens import TokenFactory

from scanner.errors import ConfigError
from scanner.models import Secret
from scanner.respond.model import ActionKind, Credential, Outcome, ProviderResult
from scanner.respond.providers import make_provider, provider_for_rule
from scanner.respond.providers.base import Provider, ProviderContext
from scanner.transport import HttpClient, HttpSettings

REVOKE, TEST = "/api/auth.revoke", "/api/auth.test"


def ok(**fields: Any) -> Reply:
    return Reply(200, json.dumps({"ok": True, **fields}).encode(), {"Content-Type": "application/json"})


def error(code: str, status: int = 200, **headers: str) -> Reply:
    return Reply(status, json.dumps({"ok": False, "error": code}).encode(), headers)


def slack(server: LoopbackServer, **settings: Any) -> Provider:
    http = HttpClient(HttpSettings(connect_timeout=2, read_timeout=0.5))
    return make_provider(ProviderContext("slack", http, env={}, settings={"api_url": server.url("/api"), **settings}))


def act(
    provider: Provider, token: str, rule: str = "slack-bot-token", kind: ActionKind = ActionKind.REVOKE
) -> ProviderResult:
    [result] = provider.act(kind, [Credential(rule, "fp-1", Secret(token))])
    assert token not in result.detail + result.reference
    return result


@pytest.mark.parametrize("shape", ["slack_bot", "slack_user"])
def test_revoke_with_the_token_itself(http_server: ServerFactory, tokens: TokenFactory, shape: str) -> None:
    token = getattr(tokens, shape)()
    api = http_server()
    api.route("POST", REVOKE, ok(revoked=True))
    rule = "slack-bot-token" if shape == "slack_bot" else "slack-user-token"
    result = act(slack(api), token, rule)  # no credential of ours: an empty environment is enough
    assert result.outcome is Outcome.DONE
    [request] = api.requests
    assert request.headers["authorization"] == f"Bearer {token}" and request.body == b""
    assert token not in request.path + request.query


@pytest.mark.parametrize("code", ["invalid_auth", "token_revoked", "token_expired", "account_inactive"])
def test_a_token_slack_no_longer_accepts_is_already_revoked(
    http_server: ServerFactory, tokens: TokenFactory, code: str
) -> None:
    api = http_server()
    api.route("POST", REVOKE, error(code))
    result = act(slack(api), tokens.slack_bot())
    assert result.outcome is Outcome.ALREADY_DONE and code in result.detail


@pytest.mark.parametrize(
    ("reply", "outcome", "retry_after"),
    [
        (error("ratelimited", 429, **{"Retry-After": "7"}), Outcome.RETRY, 7.0),
        (error("ratelimited", 200, **{"Retry-After": "3"}), Outcome.RETRY, 3.0),
        (error("internal_error"), Outcome.RETRY, None),
        (Reply(503), Outcome.RETRY, None),
        (Reply(200, b"{}", delay=1.5), Outcome.RETRY, None),  # timeout
        (error("not_allowed_token_type"), Outcome.FAILED, None),
        (Reply(403), Outcome.FAILED, None),
        (Reply(200, b"<html>oops</html>"), Outcome.FAILED, None),
        (Reply(200, b'{"revoked": true}'), Outcome.FAILED, None),
        (ok(revoked=False), Outcome.FAILED, None),
    ],
)
def test_answers(
    http_server: ServerFactory, tokens: TokenFactory, reply: Reply, outcome: Outcome, retry_after: float | None
) -> None:
    api = http_server()
    api.route("POST", REVOKE, reply)
    result = act(slack(api), tokens.slack_bot())
    assert (result.outcome, result.retry_after) == (outcome, retry_after)
    assert len(api.requests) == 1


def test_an_error_code_is_echoed_only_when_it_looks_like_one(http_server: ServerFactory, tokens: TokenFactory) -> None:
    token = tokens.slack_bot()
    api = http_server()
    api.route("POST", REVOKE, error(f"bad token {token}"))
    result = act(slack(api), token)
    assert result.outcome is Outcome.FAILED and "unreadable error" in result.detail


def test_identify_first(http_server: ServerFactory, tokens: TokenFactory) -> None:
    api = http_server()
    api.route("POST", TEST, ok(team_id="T0001", user_id="U0002", team="acme"))
    api.route("POST", REVOKE, ok(revoked=True))
    result = act(slack(api, identify=True), tokens.slack_bot())
    assert (result.outcome, result.reference) == (Outcome.DONE, "T0001:U0002")
    assert [r.path for r in api.requests] == [TEST, REVOKE]


def test_identify_finds_it_already_revoked(http_server: ServerFactory, tokens: TokenFactory) -> None:
    api = http_server()
    api.route("POST", TEST, error("token_revoked"))
    assert act(slack(api, identify=True), tokens.slack_bot()).outcome is Outcome.ALREADY_DONE
    assert [r.path for r in api.requests] == [TEST]


def test_test_mode_revokes_nothing_and_does_not_count_as_done(http_server: ServerFactory, tokens: TokenFactory) -> None:
    api = http_server()
    api.route("POST", REVOKE, ok(revoked=False))
    result = act(slack(api, test=True), tokens.slack_bot())
    assert result.outcome is Outcome.FAILED and "test mode" in result.detail
    assert api.requests[0].body == b"test=true"


def test_a_redirect_to_another_host_gets_no_token(http_server: ServerFactory, tokens: TokenFactory) -> None:
    api, elsewhere = http_server(), http_server()
    api.route("POST", REVOKE, Reply(307, headers={"Location": elsewhere.url(REVOKE)}))
    elsewhere.route("POST", REVOKE, ok(revoked=True))
    result = act(slack(api), tokens.slack_bot())
    assert result.outcome is Outcome.FAILED and "redirected to another host" in result.detail
    [followed] = elsewhere.requests
    assert "authorization" not in followed.headers


def test_webhooks_and_app_level_tokens_have_no_adapter(http_server: ServerFactory, tokens: TokenFactory) -> None:
    api = http_server()
    provider = slack(api)
    for rule in ("slack-webhook-url", "slack-workflow-webhook-url", "slack-trigger-webhook-url", "slack-app-token"):
        assert not provider.supports(ActionKind.REVOKE, rule) and provider_for_rule(rule) == ""
    assert provider.supports(ActionKind.REVOKE, "slack-config-access-token")
    assert not provider.supports(ActionKind.ROTATE, "slack-bot-token")
    assert act(provider, tokens.slack_bot(), kind=ActionKind.ROTATE).outcome is Outcome.FAILED
    assert act(provider, tokens.slack_bot(), rule="slack-webhook-url").outcome is Outcome.FAILED
    assert api.requests == []
    assert provider.guide.startswith("https://docs.slack.dev/")


def test_settings() -> None:
    with pytest.raises(ConfigError, match=r"providers\.slack\.api_url"):
        make_provider(ProviderContext("slack", HttpClient(), settings={"api_url": "slack.com/api"}))
    provider: Any = make_provider(ProviderContext("slack", HttpClient()))
    assert provider.api == "https://slack.com/api"
