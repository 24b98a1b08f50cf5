"""Every built-in validator against a loopback server speaking its provider's documented API (validate_fakes.py):
live, invalid, rate limited, timeout, garbage; no validator sends a secret to any host but its own; redirects and a
proxy that is down. All validators of a scenario run in one ``validate`` call, as a scan runs them: concurrently."""

from __future__ import annotations

import base64

import pytest
from httpserver import LoopbackServer, Reply, ServerFactory
from tokens import TokenFactory
from validate_fakes import FAKES, js

from scanner.httpsettings import HttpSettings
from scanner.models import Validation
from scanner.validate.base import Candidate
from scanner.validate.options import ValidationOptions
from scanner.validate.run import Job, validate
from scanner.validate.table import VALIDATORS

FAST = HttpSettings(connect_timeout=1.0, read_timeout=0.3)  # the timeout scenario: the fake waits 2 s
PATIENT = HttpSettings(connect_timeout=5.0, read_timeout=5.0)  # every other: a loaded machine is no timeout


def run_all(
    http_server: ServerFactory, tokens: TokenFactory, mode: str, **options: object
) -> tuple[dict[str, Validation], dict[str, Candidate], dict[str, LoopbackServer]]:
    """Each validator on its own candidate, one loopback server per provider origin, all in one run."""
    servers: dict[str, LoopbackServer] = {}
    routes: dict[str, str] = {}
    candidates: dict[str, Candidate] = {}
    jobs = []
    for name, fake in FAKES.items():
        validator = VALIDATORS[name]
        server = servers.setdefault(validator.origins[0], http_server())
        routes.update(dict.fromkeys(validator.origins, server.base))  # Datadog's seven sites: one fake answers all
        candidate = candidates[name] = fake.make(tokens)
        fake.route(server, candidate, mode, tokens)
        jobs.append(Job(f"fp-{name}", validator, candidate))
    http = FAST if mode == "timeout" else PATIENT
    settings = ValidationOptions(http=http, routes=routes, deadline=20, **options)  # type: ignore[arg-type]
    answers = validate(jobs, settings)
    return {name: answers[f"fp-{name}"] for name in FAKES}, candidates, servers


def test_every_validator_has_a_fake() -> None:
    assert set(FAKES) == set(VALIDATORS)
    assert len(VALIDATORS) >= 25


def test_live_names_the_account(http_server: ServerFactory, tokens: TokenFactory) -> None:
    answers, _, _ = run_all(http_server, tokens, "live")
    for name, answer in answers.items():
        assert answer.state == "live", (name, answer)
        assert answer.identity == FAKES[name].identity, name
        assert answer.validator == name


def test_invalid_when_the_provider_refuses(http_server: ServerFactory, tokens: TokenFactory) -> None:
    answers, _, _ = run_all(http_server, tokens, "invalid")
    for name, answer in answers.items():
        assert answer.state == "invalid", (name, answer)
        assert "refused" in answer.reason


def test_rate_limited_is_unknown_and_not_retried(http_server: ServerFactory, tokens: TokenFactory) -> None:
    answers, _, servers = run_all(http_server, tokens, "rate")
    for name, answer in answers.items():
        assert (answer.state, answer.reason.split(": ", 1)[1]) == ("unknown", "rate limited (HTTP 429)"), name
    assert sum(len(s.requests) for s in servers.values()) == len(FAKES)  # one request each: a 429 is not retried


def test_timeout_is_unknown(http_server: ServerFactory, tokens: TokenFactory) -> None:
    answers, _, _ = run_all(http_server, tokens, "timeout")
    for name, answer in answers.items():
        assert answer.state == "unknown" and answer.reason.endswith("timed out"), (name, answer)


def test_garbage_is_unknown(http_server: ServerFactory, tokens: TokenFactory) -> None:
    answers, _, _ = run_all(http_server, tokens, "garbage")
    for name, answer in answers.items():
        assert answer.state == "unknown" and "unexpected answer" in answer.reason, (name, answer)


def test_no_validator_sends_a_secret_to_another_host(http_server: ServerFactory, tokens: TokenFactory) -> None:
    answers, candidates, servers = run_all(http_server, tokens, "live")
    assert all(a.state == "live" for a in answers.values())
    for name, candidate in candidates.items():
        own = VALIDATORS[name].origins[0]
        # A Discord webhook's secret is its URL: the token in it is what travels.
        needle = candidate.secret.rsplit("/", 1)[1] if name == "discord-webhook" else candidate.secret
        if name == "aws-sts":  # the key id travels (it names the key); the secret key never does
            needle = candidate.companions["aws-secret-access-key"][0]
        for origin, server in servers.items():
            if origin != own:
                assert needle not in sent(server), f"{name}'s secret reached {origin}"
        signed = name in ("aws-sts", "azure-storage", "gcp-service-account")  # only a signature leaves the machine
        assert (needle in sent(servers[own])) != signed, name


def sent(server: LoopbackServer) -> str:
    """All a server received, HTTP Basic credentials decoded."""
    parts = []
    for r in server.requests:
        parts += [r.path, r.query, r.body.decode(errors="replace"), *r.headers.values()]
        auth = r.headers.get("authorization", "")
        if auth.startswith("Basic "):
            parts.append(base64.b64decode(auth[6:]).decode(errors="replace"))
    return "\n".join(parts)


@pytest.mark.parametrize("status", [302, 307])
def test_a_redirect_is_not_followed_with_the_credential(
    http_server: ServerFactory, tokens: TokenFactory, status: int
) -> None:
    api, elsewhere = http_server(), http_server()
    api.route("GET", "/user", Reply(status, headers={"Location": elsewhere.url("/user")}))
    elsewhere.route("GET", "/user", js({"login": "attacker"}))
    token = tokens.github()
    options = ValidationOptions(http=PATIENT, routes={"https://api.github.com": api.base})
    answers = validate([Job("fp", VALIDATORS["github"], Candidate(token))], options)
    assert answers["fp"].state == "unknown" and "redirected" in answers["fp"].reason
    assert elsewhere.requests == []


def test_a_proxy_that_is_down_is_unknown(http_server: ServerFactory, tokens: TokenFactory) -> None:
    import socket

    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        dead = sock.getsockname()[1]
    api = http_server()
    api.route("GET", "/user", js({"login": "octo-dev"}))
    settings = HttpSettings(http_proxy=f"http://127.0.0.1:{dead}", connect_timeout=1, read_timeout=1)
    options = ValidationOptions(http=settings, routes={"https://api.github.com": api.base})
    answers = validate([Job("fp", VALIDATORS["github"], Candidate(tokens.github()))], options)
    assert answers["fp"].state == "unknown" and "proxy" in answers["fp"].reason
    assert api.requests == []


def test_missing_context_is_unknown_without_a_request(http_server: ServerFactory, tokens: TokenFactory) -> None:
    """Shopify without the shop, AWS without the other half, Azure without the account, GCP without the email."""
    servers = {name: http_server() for name in ("shopify", "aws-sts", "azure-storage", "gcp-service-account")}
    routes = {VALIDATORS[n].origins[0]: s.base for n, s in servers.items()}
    jobs = [Job(n, VALIDATORS[n], Candidate(FAKES[n].make(tokens).secret)) for n in servers]
    answers = validate(jobs, ValidationOptions(http=PATIENT, routes=routes))
    for name, server in servers.items():
        assert answers[name].state == "unknown" and "not found beside" in answers[name].reason, name
        assert server.requests == []
