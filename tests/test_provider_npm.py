"""The npm provider against a loopback registry speaking the token API npm-profile uses (list, revoke, whoami)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from httpserver import LoopbackServer, Reply, Request, ServerFactory
from provider_api import TIMEOUT, carries, leaked, ok, provider, redirect
from tokens import TokenFactory

from scanner.respond.model import ActionKind, Outcome, ProviderResult
from scanner.respond.providers import PROVIDERS, provider_for_rule
from scanner.respond.providers.apicall import hint_matches
from scanner.respond.providers.base import MissingCredential

RULE = "npm-access-token"
TOKENS = "/-/npm/v1/tokens"


@pytest.fixture
def ours(tokens: TokenFactory) -> dict[str, str]:
    return {"LEAKSTOP_NPM_TOKEN": tokens.npm()}


def listing(tokens: TokenFactory, *values: str) -> list[dict[str, object]]:
    """The registry's token objects for ``values``: a random key each, the redacted value, metadata."""
    return [
        {"key": tokens.hex(64), "token": tokens.npm_redacted(value), "readonly": False, "cidr_whitelist": None}
        for value in values
    ]


def registry(server: LoopbackServer, *pages: list[dict[str, object]]) -> None:
    """``pages`` of the token list: page N links to N+1 in ``urls.next`` until the last."""

    def page(request: Request) -> Reply:
        number = int(dict(p.split("=") for p in request.query.split("&"))["page"])
        more = number + 1 < len(pages)
        return ok({"objects": pages[number], "total": sum(map(len, pages)), "urls": {"next": "more" if more else ""}})

    server.route("GET", TOKENS, page)


def revoke(api: LoopbackServer, ours: dict[str, str], value: str) -> ProviderResult:
    """One leaked token through the provider pointed at ``api``."""
    [result] = provider("npm", ours, {"registry": api.url()}).act(ActionKind.REVOKE, [leaked(RULE, value)])
    return result


def test_revokes_the_listed_token_that_fits(
    http_server: ServerFactory, tokens: TokenFactory, ours: dict[str, str]
) -> None:
    api = http_server()
    value = tokens.npm()
    others = listing(tokens, tokens.npm(), tokens.npm())
    target = listing(tokens, value)
    registry(api, others, target)
    key = target[0]["key"]
    api.route("DELETE", f"{TOKENS}/token/{key}", ok({}))
    npm = provider("npm", ours, {"registry": api.url()})

    [result] = npm.act(ActionKind.REVOKE, [leaked(RULE, value)])

    assert (result.outcome, result.reference) == (Outcome.DONE, key)
    assert [(r.method, r.path, r.query) for r in api.requests] == [
        ("GET", TOKENS, "perPage=100&page=0"),
        ("GET", TOKENS, "perPage=100&page=1"),
        ("DELETE", f"{TOKENS}/token/{key}", ""),
    ]
    assert {r.headers["authorization"] for r in api.requests} == {f"Bearer {ours['LEAKSTOP_NPM_TOKEN']}"}
    assert not carries(api, value) and "npm-otp" not in api.requests[-1].headers


def test_one_listing_serves_a_batch(http_server: ServerFactory, tokens: TokenFactory, ours: dict[str, str]) -> None:
    api = http_server()
    first, second = tokens.npm(), tokens.npm()
    objects = listing(tokens, first, second)
    registry(api, objects)
    for item in objects:
        api.route("DELETE", f"{TOKENS}/token/{item['key']}", Reply(200))
    npm = provider("npm", ours, {"registry": api.url()})

    results = npm.act(ActionKind.REVOKE, [leaked(RULE, first, 1), leaked(RULE, second, 2)])

    assert [(r.outcome, r.reference) for r in results] == [(Outcome.DONE, o["key"]) for o in objects]
    assert [r.method for r in api.requests] == ["GET", "DELETE", "DELETE"]


def test_an_unlisted_token_the_registry_refuses_is_already_revoked(
    http_server: ServerFactory, tokens: TokenFactory, ours: dict[str, str]
) -> None:
    api = http_server()
    value = tokens.npm()
    registry(api, listing(tokens, tokens.npm()))
    api.route("GET", "/-/whoami", Reply(401, b'{"error":"unauthorized"}'))
    npm = provider("npm", ours, {"registry": api.url()})

    [result] = npm.act(ActionKind.REVOKE, [leaked(RULE, value)])

    assert result.outcome is Outcome.ALREADY_DONE and value not in result.detail
    probe = api.requests[-1]
    assert (probe.path, probe.headers["authorization"]) == ("/-/whoami", f"Bearer {value}")
    assert all(r.method == "GET" for r in api.requests)


def test_a_live_token_of_another_account_is_not_ours_to_revoke(
    http_server: ServerFactory, tokens: TokenFactory, ours: dict[str, str]
) -> None:
    api = http_server()
    registry(api, [])
    api.route("GET", "/-/whoami", who(ours, mine="alice", theirs="someone-else"))
    npm = provider("npm", ours, {"registry": api.url()})

    [result] = npm.act(ActionKind.REVOKE, [leaked(RULE, tokens.npm())])

    assert result.outcome is Outcome.FAILED
    assert "not owned by this account" in result.detail and "someone-else" in result.detail


def who(ours: dict[str, str], mine: str, theirs: str) -> Callable[[Request], Reply]:
    """``/-/whoami``: ``mine`` for our token, ``theirs`` for any other."""
    return lambda request: ok(
        {"username": mine if request.headers["authorization"] == f"Bearer {ours['LEAKSTOP_NPM_TOKEN']}" else theirs}
    )


def test_a_revoked_token_still_accepted_for_a_while_is_already_done(
    http_server: ServerFactory, tokens: TokenFactory, ours: dict[str, str]
) -> None:
    """npm documents a delay of up to an hour: unlisted, yet accepted as our own account, means revoked."""
    api = http_server()
    registry(api, [])
    api.route("GET", "/-/whoami", who(ours, mine="alice", theirs="alice"))

    result = revoke(api, ours, tokens.npm())

    assert result.outcome is Outcome.ALREADY_DONE and "up to an hour" in result.detail
    assert [r.path for r in api.requests] == [TOKENS, "/-/whoami", "/-/whoami"]


@pytest.mark.parametrize("answer", [ok({"name": None}), Reply(200, b"<html>hi</html>")])
def test_a_whoami_answer_without_a_user_fails(
    http_server: ServerFactory, tokens: TokenFactory, ours: dict[str, str], answer: Reply
) -> None:
    api = http_server()
    registry(api, [])
    api.route("GET", "/-/whoami", answer)
    npm = provider("npm", ours, {"registry": api.url()})

    [result] = npm.act(ActionKind.REVOKE, [leaked(RULE, tokens.npm())])

    assert result.outcome is Outcome.FAILED and "check the unlisted token" in result.detail


def test_without_the_probe_the_leaked_token_is_never_sent(
    http_server: ServerFactory, tokens: TokenFactory, ours: dict[str, str]
) -> None:
    api = http_server()
    value = tokens.npm()
    registry(api, listing(tokens, tokens.npm()))
    npm = provider("npm", ours, {"registry": api.url(), "probe": False})

    [result] = npm.act(ActionKind.REVOKE, [leaked(RULE, value)])

    assert result.outcome is Outcome.FAILED and "not owned by this account" in result.detail
    assert not carries(api, value) and [r.path for r in api.requests] == [TOKENS]


def test_a_token_gone_between_list_and_revoke_is_already_done(
    http_server: ServerFactory, tokens: TokenFactory, ours: dict[str, str]
) -> None:
    api = http_server()
    value = tokens.npm()
    objects = listing(tokens, value)
    registry(api, objects)
    api.route("DELETE", f"{TOKENS}/token/{objects[0]['key']}", Reply(404, b'{"error":"not found"}'))

    result = revoke(api, ours, value)

    assert result.outcome is Outcome.ALREADY_DONE


def test_two_tokens_fitting_the_redacted_form_are_ambiguous(
    http_server: ServerFactory, tokens: TokenFactory, ours: dict[str, str]
) -> None:
    api = http_server()
    value = tokens.npm()
    twin = value[:8] + tokens.npm()[8:-4] + value[-4:]  # same redacted form, another token
    registry(api, listing(tokens, value, twin))

    result = revoke(api, ours, value)

    assert result.outcome is Outcome.FAILED and "ambiguous" in result.detail
    assert [r.method for r in api.requests] == ["GET"]


def test_the_one_time_password_comes_from_the_environment(
    http_server: ServerFactory, tokens: TokenFactory, ours: dict[str, str]
) -> None:
    api = http_server()
    value = tokens.npm()
    objects = listing(tokens, value)
    registry(api, objects)
    wants_otp = Reply(401, b'{"error":"otp required"}', {"WWW-Authenticate": "OTP"})
    api.route("DELETE", f"{TOKENS}/token/{objects[0]['key']}", wants_otp)

    without = revoke(api, ours, value)
    with_otp = provider("npm", {**ours, "LEAKSTOP_NPM_OTP": "123456"}, {"registry": api.url()})
    [refused] = with_otp.act(ActionKind.REVOKE, [leaked(RULE, value)])
    api.route("DELETE", f"{TOKENS}/token/{objects[0]['key']}", Reply(200))
    [accepted] = with_otp.act(ActionKind.REVOKE, [leaked(RULE, value)])

    assert without.outcome is Outcome.FAILED and "set $LEAKSTOP_NPM_OTP" in without.detail
    assert refused.outcome is Outcome.FAILED and "refused the one-time password" in refused.detail
    assert accepted.outcome is Outcome.DONE and api.requests[-1].headers["npm-otp"] == "123456"


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (Reply(401, b"{}"), "our credential was rejected"),
        (Reply(401, b"{}", {"WWW-Authenticate": "ipaddress"}), "from this IP address"),
        (Reply(403, b"{}"), "our credential was rejected"),
    ],
)
def test_our_token_rejected_fails(
    http_server: ServerFactory, tokens: TokenFactory, ours: dict[str, str], answer: Reply, expected: str
) -> None:
    api = http_server()
    api.route("GET", TOKENS, answer)

    results = provider("npm", ours, {"registry": api.url()}).act(
        ActionKind.REVOKE, [leaked(RULE, tokens.npm(), 1), leaked(RULE, tokens.npm(), 2)]
    )

    assert [r.outcome for r in results] == [Outcome.FAILED] * 2 and expected in results[0].detail


def test_rate_limited_is_retried_after_the_registry_says(
    http_server: ServerFactory, tokens: TokenFactory, ours: dict[str, str]
) -> None:
    api = http_server()
    api.route("GET", TOKENS, Reply(429, b"slow down", {"Retry-After": "7"}))

    result = revoke(api, ours, tokens.npm())

    assert (result.outcome, result.retry_after) == (Outcome.RETRY, 7.0)
    assert len(api.requests) == 1  # no retry inside: the outbox owns retries


def test_a_timeout_is_retried_later(http_server: ServerFactory, tokens: TokenFactory, ours: dict[str, str]) -> None:
    api = http_server()
    value = tokens.npm()
    objects = listing(tokens, value)
    registry(api, objects)
    api.route("DELETE", f"{TOKENS}/token/{objects[0]['key']}", Reply(200, delay=TIMEOUT * 4))

    result = revoke(api, ours, value)

    assert result.outcome is Outcome.RETRY and "timed out" in result.detail


@pytest.mark.parametrize(
    "answer",
    [
        Reply(200, b"<html>registry maintenance</html>"),
        ok({"objects": "none"}),
        ok({"objects": [{"token": "npm_abcd...wxyz"}]}),
        ok(["not", "an", "object"]),
        Reply(302),  # a redirect without a Location
    ],
)
def test_a_garbage_answer_fails(
    http_server: ServerFactory, tokens: TokenFactory, ours: dict[str, str], answer: Reply
) -> None:
    api = http_server()
    api.route("GET", TOKENS, answer)

    result = revoke(api, ours, tokens.npm())

    assert result.outcome is Outcome.FAILED and "list tokens" in result.detail


def test_a_registry_that_never_stops_paging_fails(
    http_server: ServerFactory, tokens: TokenFactory, ours: dict[str, str]
) -> None:
    api = http_server()
    api.route("GET", TOKENS, ok({"objects": [], "urls": {"next": "again"}}))

    result = revoke(api, ours, tokens.npm())

    assert result.outcome is Outcome.FAILED and "pages" in result.detail


def test_no_credential_follows_a_redirect_to_another_host(
    http_server: ServerFactory, tokens: TokenFactory, ours: dict[str, str]
) -> None:
    api, elsewhere = http_server(), http_server()
    api.route("GET", TOKENS, redirect(elsewhere, TOKENS))
    env = {**ours, "LEAKSTOP_NPM_OTP": "654321"}

    [result] = provider("npm", env, {"registry": api.url()}).act(ActionKind.REVOKE, [leaked(RULE, tokens.npm())])

    assert result.outcome is Outcome.FAILED
    assert api.requests[0].headers["authorization"] and api.requests[0].headers["npm-otp"] == "654321"
    [followed] = elsewhere.requests
    assert "authorization" not in followed.headers and "npm-otp" not in followed.headers


def test_missing_credentials_name_the_variable() -> None:
    with pytest.raises(MissingCredential) as raised:
        provider("npm", {}, {})
    assert "$LEAKSTOP_NPM_TOKEN" in str(raised.value) and "\n" not in str(raised.value)


def test_other_rules_and_kinds_are_refused_without_a_request(
    http_server: ServerFactory, tokens: TokenFactory, ours: dict[str, str]
) -> None:
    api = http_server()
    npm = provider("npm", ours, {"registry": api.url()})

    assert npm.supports(ActionKind.REVOKE, RULE) and not npm.supports(ActionKind.ROTATE, RULE)
    assert not npm.supports(ActionKind.REVOKE, "github-pat")
    [rotate] = npm.act(ActionKind.ROTATE, [leaked(RULE, tokens.npm())])
    [other] = npm.act(ActionKind.REVOKE, [leaked("github-pat", tokens.github())])

    assert rotate.outcome is other.outcome is Outcome.FAILED and "no adapter" in other.detail
    assert api.requests == []
    assert provider_for_rule(RULE) == "npm" and PROVIDERS["npm"].action is ActionKind.REVOKE
    assert npm.guide.startswith("https://docs.npmjs.com/")


def test_a_token_sharing_only_the_head_does_not_fit(
    http_server: ServerFactory, tokens: TokenFactory, ours: dict[str, str]
) -> None:
    api = http_server()
    value = tokens.npm()
    cousin = value[:8] + tokens.npm()[8:]  # same first characters, another end
    registry(api, listing(tokens, cousin))
    api.route("GET", "/-/whoami", Reply(401, b"Unauthorized"))

    result = revoke(api, ours, value)

    assert result.outcome is Outcome.ALREADY_DONE and "DELETE" not in [r.method for r in api.requests]


def test_redacted_forms(tokens: TokenFactory) -> None:
    value = tokens.npm()
    assert hint_matches(value, value[:8] + "..." + value[-4:]) and hint_matches(value, value[:8] + "…" + value[-4:])
    assert hint_matches(value, value[:6])  # the older form: the first characters only
    assert not hint_matches(value, value[:8] + "..." + value[-5:-1])
    assert not hint_matches(value, "..." + value[-4:]) and not hint_matches(value, "")
    assert not hint_matches(value[:10], value[:8] + "..." + value[-4:])  # longer than the value itself
