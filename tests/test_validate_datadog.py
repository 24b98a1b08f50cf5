"""Datadog's seven sites, each a loopback server speaking ``GET /api/v1/validate``: a key is live at its own site
only, the others refuse it with 403 (Datadog API reference, "Validate API key")."""

from __future__ import annotations

from dataclasses import replace

from httpserver import LoopbackServer, Request, ServerFactory
from tokens import HEX, TokenFactory
from validate_fakes import js

from scanner.httpsettings import HttpSettings
from scanner.models import Validation
from scanner.validate.base import Candidate
from scanner.validate.datadog import SITES, DatadogSites
from scanner.validate.options import ValidationOptions
from scanner.validate.run import Job, validate

PATIENT = HttpSettings(connect_timeout=5.0, read_timeout=5.0)
VALIDATOR = DatadogSites()


def sites(http_server: ServerFactory, key: str, home: str, first_answer: str = "") -> dict[str, LoopbackServer]:
    """One server per site; ``home`` accepts ``key``; ``first_answer`` "rate" makes US1 answer 429."""
    servers = {}
    for site in SITES:
        server = servers[site] = http_server()

        def answer(request: Request, site: str = site) -> object:
            if site == "datadoghq.com" and first_answer == "rate":
                return js({"errors": ["Too many requests"]}, 429)
            if site == home and request.headers.get("dd-api-key") == key:
                return js({"valid": True})
            return js({"errors": ["Forbidden"]}, 403)

        server.route("GET", "/api/v1/validate", answer)  # type: ignore[arg-type]
    return servers


def check(servers: dict[str, LoopbackServer], candidate: Candidate) -> Validation:
    routes = {f"https://api.{site}": server.base for site, server in servers.items()}
    answers = validate([Job("fp", VALIDATOR, candidate)], ValidationOptions(http=PATIENT, routes=routes))
    return answers["fp"]


def asked(servers: dict[str, LoopbackServer]) -> list[str]:
    return [site for site, server in servers.items() for _ in server.requests]


def test_a_key_of_the_eu_site_is_live_there_after_the_sites_before_it_refuse(
    http_server: ServerFactory, tokens: TokenFactory
) -> None:
    key = tokens.chars(HEX, 32)
    servers = sites(http_server, key, "datadoghq.eu")
    answer = check(servers, Candidate(key))
    assert (answer.state, answer.reason) == ("live", "api.datadoghq.eu accepted it (HTTP 200)")
    assert asked(servers) == list(SITES[: SITES.index("datadoghq.eu") + 1])


def test_a_site_named_beside_the_key_is_asked_first(http_server: ServerFactory, tokens: TokenFactory) -> None:
    key = tokens.chars(HEX, 32)
    servers = sites(http_server, key, "ap1.datadoghq.com")
    answer = check(servers, Candidate(key, snippet="DD_SITE=ap1.datadoghq.com DD_API_KEY=****"))
    assert answer.state == "live"
    assert asked(servers) == ["ap1.datadoghq.com"]


def test_invalid_needs_a_refusal_from_every_site(http_server: ServerFactory, tokens: TokenFactory) -> None:
    key = tokens.chars(HEX, 32)
    servers = sites(http_server, tokens.chars(HEX, 32), "us5.datadoghq.com")  # another key lives at US5
    answer = check(servers, Candidate(key))
    assert (answer.state, answer.reason) == ("invalid", f"every Datadog site refused it ({len(SITES)} sites)")
    assert sorted(asked(servers)) == sorted(SITES)


def test_an_answer_that_is_neither_ends_the_round_as_unknown(http_server: ServerFactory, tokens: TokenFactory) -> None:
    key = tokens.chars(HEX, 32)
    servers = sites(http_server, key, "datadoghq.eu", first_answer="rate")
    answer = check(servers, Candidate(key))
    assert (answer.state, answer.reason) == ("unknown", "api.datadoghq.com: rate limited (HTTP 429)")
    assert asked(servers) == ["datadoghq.com"]


def test_sites_named_in_the_text_come_first_and_the_hosts_stay_datadogs() -> None:
    named = Candidate("k", snippet="url: https://app.datadoghq.eu/x", context="host: api.us3.datadoghq.com")
    rest = ["datadoghq.com", "us5.datadoghq.com", "ap1.datadoghq.com", "ap2.datadoghq.com", "ddog-gov.com"]
    assert VALIDATOR.order(named) == ["datadoghq.eu", "us3.datadoghq.com", *rest]
    assert VALIDATOR.order(replace(named, snippet="notdatadoghq.com x-datadoghq.eu", context="")) == list(SITES)
    assert VALIDATOR.origins == tuple(f"https://api.{site}" for site in SITES)
