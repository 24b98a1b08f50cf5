"""Helpers for the tests of list-then-revoke providers (npm, Google Cloud, Anthropic) against loopback servers."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from httpserver import LoopbackServer, Reply

from scanner.httpsettings import HttpSettings
from scanner.models import Secret
from scanner.respond.model import Credential
from scanner.respond.providers import make_provider
from scanner.respond.providers.base import Provider, ProviderContext
from scanner.transport import HttpClient

TIMEOUT = 0.5  # read timeout of the providers' client; a reply delayed past it is a timeout


def provider(name: str, env: Mapping[str, str], settings: Mapping[str, Any]) -> Provider:
    """The provider ``name`` made through the registration table, as the executor makes it."""
    http = HttpClient(HttpSettings(connect_timeout=2, read_timeout=TIMEOUT))
    return make_provider(ProviderContext(name, http, env=dict(env), settings=dict(settings)))


def leaked(rule_id: str, value: str, number: int = 0) -> Credential:
    return Credential(rule_id, f"secret-id-{number}", Secret(value), location=f"config/{number}.env:1")


def ok(data: Any, status: int = 200, **headers: str) -> Reply:
    return Reply(status, json.dumps(data).encode(), {"Content-Type": "application/json", **headers})


def redirect(to: LoopbackServer, path: str) -> Reply:
    return Reply(307, headers={"Location": to.url(path)})


def carries(server: LoopbackServer, value: str) -> bool:
    """Whether any request ``server`` received holds ``value`` anywhere (path, query, a header, the body)."""
    return any(
        value in request.path
        or value in request.query
        or value in request.body.decode(errors="replace")
        or any(value in header for header in request.headers.values())
        for request in server.requests
    )
