"""The Anthropic provider against a loopback server speaking the Admin API's API-key endpoints (list, update)."""

from __future__ import annotations

import json

import pytest
from httpserver import LoopbackServer, Reply, Request, ServerFactory
from provider_api import TIMEOUT, carries, leaked, ok, provider, redirect
from tokens import TokenFactory

from scanner.respond.model import ActionKind, Outcome, ProviderResult
from scanner.respond.providers import PROVIDERS, provider_for_rule
from scanner.respond.providers.base import MissingCredential

RULE = "anthropic-api-key"
KEYS = "/v1/organizations/api_keys"


@pytest.fixture
def ours(tokens: TokenFactory) -> dict[str, str]:
    return {
        "LEAKSTOP_ANTHROPIC_ADMIN_KEY": "sk-ant-admin01-" + tokens.clean_chars("abcdefghijkmnpqrstuvwxyz", 93) + "AA"
    }


def api_key(tokens: TokenFactory, value: str, status: str = "active") -> dict[str, object]:
    """An API key object as the Admin API documents it (the value itself is never returned)."""
    return {
        "type": "api_key",
        "id": "apikey_" + tokens.clean_chars("ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz0123456789", 24),
        "name": "service key",
        "partial_key_hint": tokens.anthropic_hint(value),
        "status": status,
        "created_at": "2026-01-02T03:04:05Z",
        "workspace_id": "wrkspc_test",
    }


def organization(server: LoopbackServer, *pages: list[dict[str, object]]) -> None:
    """``pages`` of the key list, chained by ``after_id`` = the previous page's ``last_id``."""

    def page(request: Request) -> Reply:
        query = dict(part.split("=") for part in request.query.split("&"))
        number = next((i + 1 for i, p in enumerate(pages) if p and p[-1]["id"] == query.get("after_id")), 0)
        data = pages[number]
        return ok(
            {
                "data": data,
                "has_more": number + 1 < len(pages),
                "first_id": data[0]["id"] if data else None,
                "last_id": data[-1]["id"] if data else None,
            }
        )

    server.route("GET", KEYS, page)


def deactivate(api: LoopbackServer, ours: dict[str, str], value: str) -> ProviderResult:
    """One leaked key through the provider pointed at ``api``."""
    [result] = provider("anthropic", ours, {"api_url": api.url()}).act(ActionKind.REVOKE, [leaked(RULE, value)])
    return result


def deactivated(request: Request) -> Reply:
    body = json.loads(request.body)
    return ok({"type": "api_key", "id": request.path.rsplit("/", 1)[1], "status": body["status"]})


def test_deactivates_the_key_whose_hint_fits(
    http_server: ServerFactory, tokens: TokenFactory, ours: dict[str, str]
) -> None:
    api = http_server()
    value = tokens.anthropic()
    target = api_key(tokens, value)
    organization(api, [api_key(tokens, tokens.anthropic())], [api_key(tokens, tokens.anthropic()), target])
    api.route("POST", f"{KEYS}/{target['id']}", deactivated)
    anthropic = provider("anthropic", ours, {"api_url": api.url()})

    [result] = anthropic.act(ActionKind.REVOKE, [leaked(RULE, value)])

    assert (result.outcome, result.reference) == (Outcome.DONE, target["id"])
    first, second, update = api.requests
    assert (first.query, second.query.split("&")[1].startswith("after_id=apikey_")) == ("limit=100", True)
    assert json.loads(update.body) == {"status": "inactive"}
    assert {r.headers["x-api-key"] for r in api.requests} == {ours["LEAKSTOP_ANTHROPIC_ADMIN_KEY"]}
    assert {r.headers["anthropic-version"] for r in api.requests} == {"2023-06-01"}
    assert not carries(api, value)


def test_a_workspace_narrows_the_listing(
    http_server: ServerFactory, tokens: TokenFactory, ours: dict[str, str]
) -> None:
    api = http_server()
    value = tokens.anthropic()
    target = api_key(tokens, value)
    organization(api, [target])
    api.route("POST", f"{KEYS}/{target['id']}", deactivated)

    [result] = provider("anthropic", ours, {"api_url": api.url(), "workspace_id": "wrkspc_x"}).act(
        ActionKind.REVOKE, [leaked(RULE, value)]
    )

    assert result.outcome is Outcome.DONE and api.requests[0].query == "limit=100&workspace_id=wrkspc_x"


@pytest.mark.parametrize("status", ["inactive", "archived", "expired"])
def test_a_key_no_longer_active_is_already_done(
    http_server: ServerFactory, tokens: TokenFactory, ours: dict[str, str], status: str
) -> None:
    api = http_server()
    value = tokens.anthropic()
    organization(api, [api_key(tokens, value, status)])

    result = deactivate(api, ours, value)

    assert result.outcome is Outcome.ALREADY_DONE and status in result.detail
    assert [r.method for r in api.requests] == ["GET"]


def test_a_key_gone_before_the_update_is_already_done(
    http_server: ServerFactory, tokens: TokenFactory, ours: dict[str, str]
) -> None:
    api = http_server()
    value = tokens.anthropic()
    target = api_key(tokens, value)
    organization(api, [target])
    api.route("POST", f"{KEYS}/{target['id']}", Reply(404, b'{"type":"error","error":{"type":"not_found_error"}}'))

    result = deactivate(api, ours, value)

    assert result.outcome is Outcome.ALREADY_DONE


def test_several_keys_with_the_same_hint_are_ambiguous(
    http_server: ServerFactory, tokens: TokenFactory, ours: dict[str, str]
) -> None:
    api = http_server()
    value = tokens.anthropic()
    twin = value[:16] + tokens.anthropic()[16:-4] + value[-4:]
    organization(api, [api_key(tokens, value), api_key(tokens, twin)])

    result = deactivate(api, ours, value)

    assert result.outcome is Outcome.FAILED and "ambiguous" in result.detail
    assert [r.method for r in api.requests] == ["GET"]


def test_a_key_of_another_organization_fails(
    http_server: ServerFactory, tokens: TokenFactory, ours: dict[str, str]
) -> None:
    api = http_server()
    organization(api, [api_key(tokens, tokens.anthropic())], [])

    result = deactivate(api, ours, tokens.anthropic())

    assert result.outcome is Outcome.FAILED and "no API key of this organization" in result.detail


@pytest.mark.parametrize("status", [401, 403])
def test_our_admin_key_rejected_fails(
    http_server: ServerFactory, tokens: TokenFactory, ours: dict[str, str], status: int
) -> None:
    api = http_server()
    api.route("GET", KEYS, Reply(status, b'{"type":"error","error":{"type":"authentication_error"}}'))

    result = deactivate(api, ours, tokens.anthropic())

    assert result.outcome is Outcome.FAILED and "our credential was rejected" in result.detail


def test_rate_limited_is_retried_after_the_api_says(
    http_server: ServerFactory, tokens: TokenFactory, ours: dict[str, str]
) -> None:
    api = http_server()
    value = tokens.anthropic()
    target = api_key(tokens, value)
    organization(api, [target])
    api.route("POST", f"{KEYS}/{target['id']}", Reply(429, b"{}", {"Retry-After": "30"}))

    result = deactivate(api, ours, value)

    assert (result.outcome, result.retry_after) == (Outcome.RETRY, 30.0)


@pytest.mark.parametrize("status", [500, 529])
def test_an_overloaded_api_is_retried(
    http_server: ServerFactory, tokens: TokenFactory, ours: dict[str, str], status: int
) -> None:
    api = http_server()
    api.route("GET", KEYS, Reply(status, b'{"type":"error","error":{"type":"overloaded_error"}}'))

    result = deactivate(api, ours, tokens.anthropic())

    assert (result.outcome, result.retry_after) == (Outcome.RETRY, None)


def test_a_timeout_is_retried_later(http_server: ServerFactory, tokens: TokenFactory, ours: dict[str, str]) -> None:
    api = http_server()
    api.route("GET", KEYS, Reply(200, b"{}", delay=TIMEOUT * 4))

    result = deactivate(api, ours, tokens.anthropic())

    assert result.outcome is Outcome.RETRY and "timed out" in result.detail


@pytest.mark.parametrize(
    "answer",
    [
        Reply(200, b"not json"),
        ok({"data": "keys"}),
        ok({"data": [], "has_more": "no"}),
        ok({"data": [{"partial_key_hint": "sk-ant-api03-abc...wxAA"}], "has_more": False}),
        ok({"data": [], "has_more": True}),  # more, but no last_id to continue from
        Reply(201, b"{}", truncate=1),  # the body breaks off
    ],
)
def test_a_garbage_listing_fails(
    http_server: ServerFactory, tokens: TokenFactory, ours: dict[str, str], answer: Reply
) -> None:
    api = http_server()
    api.route("GET", KEYS, answer)

    result = deactivate(api, ours, tokens.anthropic())

    assert result.outcome in (Outcome.FAILED, Outcome.RETRY) and "list API keys" in result.detail
    assert result.outcome is (Outcome.RETRY if answer.truncate else Outcome.FAILED)


@pytest.mark.parametrize(
    ("key_status", "update"),
    [("active", ok({"type": "api_key", "status": "active"})), ("active", Reply(200)), ("suspended", None)],
)
def test_an_answer_that_does_not_show_the_key_inactive_fails(
    http_server: ServerFactory, tokens: TokenFactory, ours: dict[str, str], key_status: str, update: Reply | None
) -> None:
    api = http_server()
    value = tokens.anthropic()
    target = api_key(tokens, value, key_status)
    organization(api, [target])
    if update is not None:
        api.route("POST", f"{KEYS}/{target['id']}", update)

    result = deactivate(api, ours, value)

    assert result.outcome is Outcome.FAILED
    assert [r.method for r in api.requests] == (["GET", "POST"] if update else ["GET"])


def test_a_registry_that_never_stops_paging_fails(
    http_server: ServerFactory, tokens: TokenFactory, ours: dict[str, str]
) -> None:
    api = http_server()
    api.route("GET", KEYS, ok({"data": [], "has_more": True, "last_id": "apikey_same"}))

    result = deactivate(api, ours, tokens.anthropic())

    assert result.outcome is Outcome.FAILED and "pages" in result.detail


def test_the_admin_key_does_not_follow_a_redirect_to_another_host(
    http_server: ServerFactory, tokens: TokenFactory, ours: dict[str, str]
) -> None:
    api, elsewhere = http_server(), http_server()
    api.route("GET", KEYS, redirect(elsewhere, KEYS))

    result = deactivate(api, ours, tokens.anthropic())

    assert result.outcome is Outcome.FAILED
    assert api.requests[0].headers["x-api-key"] == ours["LEAKSTOP_ANTHROPIC_ADMIN_KEY"]
    [followed] = elsewhere.requests
    assert "x-api-key" not in followed.headers and "authorization" not in followed.headers
    assert followed.headers["anthropic-version"] == "2023-06-01"  # not a credential: it may go along


def test_missing_credentials_name_the_variable() -> None:
    with pytest.raises(MissingCredential) as raised:
        provider("anthropic", {"ANTHROPIC_API_KEY": "not ours to use"}, {})
    assert "$LEAKSTOP_ANTHROPIC_ADMIN_KEY" in str(raised.value) and "\n" not in str(raised.value)


def test_other_rules_and_kinds_are_refused_without_a_request(
    http_server: ServerFactory, tokens: TokenFactory, ours: dict[str, str]
) -> None:
    api = http_server()
    anthropic = provider("anthropic", ours, {"api_url": api.url()})
    admin_key = ours["LEAKSTOP_ANTHROPIC_ADMIN_KEY"]

    assert anthropic.supports(ActionKind.REVOKE, RULE) and not anthropic.supports(ActionKind.NOTIFY, RULE)
    assert not anthropic.supports(ActionKind.REVOKE, "anthropic-admin-key")  # admin keys: Console only
    [notify] = anthropic.act(ActionKind.NOTIFY, [leaked(RULE, tokens.anthropic())])
    [admin] = anthropic.act(ActionKind.REVOKE, [leaked("anthropic-admin-key", admin_key)])

    assert notify.outcome is admin.outcome is Outcome.FAILED and "no adapter" in admin.detail
    assert api.requests == []
    assert provider_for_rule(RULE) == "anthropic" and PROVIDERS["anthropic"].action is ActionKind.REVOKE
