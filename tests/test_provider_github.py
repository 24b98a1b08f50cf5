"""The GitHub provider against a loopback server speaking the credential revocation API."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from httpserver import Reply, ServerFactory
from tokens import TokenFactory

from scanner.integrations.response import response_http
from scanner.models import Secret
from scanner.respond.model import ActionKind, Credential, Outcome
from scanner.respond.providers import make_provider
from scanner.respond.providers.base import MissingCredential, ProviderContext
from scanner.respond.providers.github import GUIDE, MAX_BATCH
from scanner.transport import HttpClient, HttpSettings

PATH = "/credentials/revoke"


def credential(token: str, rule: str = "github-pat") -> Credential:
    return Credential(rule, "sid-" + token[-8:], Secret(token), location="a.env:1")


def provider(url: str, http: HttpClient | None = None, **settings: Any) -> Any:
    context = ProviderContext("github", http or response_http({}), {}, {"api_url": url, **settings})
    return make_provider(context)


def test_a_batch_is_revoked_in_one_unauthenticated_request(http_server: ServerFactory, tokens: TokenFactory) -> None:
    api = http_server()
    api.route("POST", PATH, Reply(202, b'{"message":"accepted"}'))
    github = provider(api.base)
    found = [tokens.github(), tokens.github_fine_grained(), tokens.github("gho_")]
    results = github.act(ActionKind.REVOKE, [credential(t) for t in found])
    assert [r.outcome for r in results] == [Outcome.DONE] * 3
    (request,) = api.requests
    assert json.loads(request.body) == {"credentials": found}
    assert "authorization" not in request.headers
    assert request.headers["accept"] == "application/vnd.github+json"
    assert all(t not in r.detail for r in results for t in found)
    assert github.guide == GUIDE and github.batch_size == MAX_BATCH


def test_kinds_it_takes_and_never_an_installation_token(http_server: ServerFactory, tokens: TokenFactory) -> None:
    github = provider(http_server().base)
    assert github.supports(ActionKind.REVOKE, "github-refresh-token")
    assert not github.supports(ActionKind.REVOKE, "github-app-installation-token")
    assert not github.supports(ActionKind.ROTATE, "github-pat")
    api = http_server()
    api.route("POST", PATH, Reply(202))
    ghs = tokens.github("ghs_")
    results = provider(api.base).act(ActionKind.REVOKE, [credential(ghs), credential(tokens.github())])
    assert [r.outcome for r in results] == [Outcome.FAILED, Outcome.DONE]
    assert ghs.encode() not in api.requests[0].body  # never sent


def test_validation_failed_is_failed_without_echoing_a_token(http_server: ServerFactory, tokens: TokenFactory) -> None:
    token = tokens.github()
    api = http_server()
    api.route("POST", PATH, Reply(422, json.dumps({"message": f"Validation Failed: {token}"}).encode()))
    (result,) = provider(api.base).act(ActionKind.REVOKE, [credential(token)])
    assert result.outcome is Outcome.FAILED and "422" in result.detail
    assert token not in result.detail and "[token]" in result.detail


@pytest.mark.parametrize("status", [403, 422, 429])
def test_a_spent_rate_limit_waits_for_its_reset(http_server: ServerFactory, tokens: TokenFactory, status: int) -> None:
    api = http_server()
    reset = int(time.time()) + 1800
    api.route("POST", PATH, Reply(status, b"{}", {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(reset)}))
    (result,) = provider(api.base).act(ActionKind.REVOKE, [credential(tokens.github())])
    assert result.outcome is Outcome.RETRY
    assert result.retry_after is not None and 1700 < result.retry_after <= 1800


def test_429_with_retry_after(http_server: ServerFactory, tokens: TokenFactory) -> None:
    api = http_server()
    api.route("POST", PATH, Reply(429, b"{}", {"Retry-After": "120"}))
    (result,) = provider(api.base).act(ActionKind.REVOKE, [credential(tokens.github())])
    assert (result.outcome, result.retry_after) == (Outcome.RETRY, 120.0)


def test_an_authenticated_call_on_github_com_is_refused(http_server: ServerFactory, tokens: TokenFactory) -> None:
    api = http_server()
    api.route("POST", PATH, Reply(403, b'{"message":"Must not be authenticated"}', {"x-ratelimit-remaining": "59"}))
    (result,) = provider(api.base).act(ActionKind.REVOKE, [credential(tokens.github())])
    assert result.outcome is Outcome.FAILED and "Must not be authenticated" in result.detail


def test_ghes_authenticated_sends_our_token_and_a_rejection_is_ours(
    http_server: ServerFactory, tokens: TokenFactory
) -> None:
    api = http_server()
    ours = tokens.github()
    context = ProviderContext("github", response_http({}), {"LEAKSTOP_GITHUB_TOKEN": ours},
                              {"api_url": api.base + "/api/v3", "authenticated": True})  # fmt: skip
    api.route("POST", "/api/v3" + PATH, Reply(202), Reply(401, b"{}"))
    github = make_provider(context)
    assert github.act(ActionKind.REVOKE, [credential(tokens.github())])[0].outcome is Outcome.DONE
    assert api.requests[0].headers["authorization"] == f"Bearer {ours}"
    rejected = github.act(ActionKind.REVOKE, [credential(tokens.github())])[0]
    assert rejected.outcome is Outcome.FAILED and "our credential was rejected" in rejected.detail


def test_ghes_without_the_token_names_the_variable() -> None:
    context = ProviderContext("github", response_http({}), {}, {"authenticated": True})
    with pytest.raises(MissingCredential, match=r"^respond: provider 'github' needs a credential: set "
                                                 r"\$LEAKSTOP_GITHUB_TOKEN$"):  # fmt: skip
        make_provider(context)


def test_server_errors_timeouts_and_garbage(http_server: ServerFactory, tokens: TokenFactory) -> None:
    api = http_server()
    api.route("POST", PATH, Reply(502), Reply(200, b"<html>"), Reply(202, delay=1.5))
    client = HttpClient(HttpSettings(read_timeout=0.5, max_redirects=0))
    github = provider(api.base, client)
    one = [credential(tokens.github())]
    assert github.act(ActionKind.REVOKE, one)[0].outcome is Outcome.RETRY
    garbage = github.act(ActionKind.REVOKE, one)[0]
    assert garbage.outcome is Outcome.FAILED and "unexpected HTTP 200" in garbage.detail
    timed_out = github.act(ActionKind.REVOKE, one)[0]
    assert timed_out.outcome is Outcome.RETRY and "timed out" in timed_out.detail
    assert len(api.requests) == 3  # retry=False: the outbox owns retries


def test_a_422_that_is_not_json(http_server: ServerFactory, tokens: TokenFactory) -> None:
    api = http_server()
    api.route("POST", PATH, Reply(422, b"spam"), Reply(422, b"[]"))
    github = provider(api.base)
    one = [credential(tokens.github())]
    assert "not GitHub's JSON" in github.act(ActionKind.REVOKE, one)[0].detail
    assert "without a message" in github.act(ActionKind.REVOKE, one)[0].detail


def test_a_redirect_to_another_host_is_not_followed(http_server: ServerFactory, tokens: TokenFactory) -> None:
    elsewhere = http_server()
    elsewhere.route("POST", PATH, Reply(202))
    api = http_server()
    api.route("POST", PATH, Reply(307, headers={"Location": elsewhere.url(PATH)}))
    ours = tokens.github()
    context = ProviderContext("github", response_http({}), {"LEAKSTOP_GITHUB_TOKEN": ours},
                              {"api_url": api.base, "authenticated": True})  # fmt: skip
    (result,) = make_provider(context).act(ActionKind.REVOKE, [credential(tokens.github())])
    assert result.outcome is Outcome.FAILED and "redirect" in result.detail
    assert elsewhere.requests == []  # neither our token nor the leaked one (in the body) went there
    # With a client that follows redirects, our token still stays with the first origin (the transport's rule).
    api.route("POST", PATH, Reply(307, headers={"Location": elsewhere.url(PATH)}))
    context = ProviderContext("github", HttpClient(), {"LEAKSTOP_GITHUB_TOKEN": ours},
                              {"api_url": api.base, "authenticated": True})  # fmt: skip
    make_provider(context).act(ActionKind.REVOKE, [credential(tokens.github())])
    assert [r.path for r in elsewhere.requests] == [PATH]
    assert "authorization" not in elsewhere.requests[0].headers


def test_batch_size_setting_is_capped(http_server: ServerFactory) -> None:
    assert provider(http_server().base, batch_size=5).batch_size == 5
    assert provider(http_server().base, batch_size=5000).batch_size == MAX_BATCH
