"""The provider protocol: one module per provider (revoke, rotate, notify), made from a ``ProviderContext``.

A provider's module exposes ``make(context) -> Provider``. ``make`` checks the credentials it needs in
``context.env`` (the edge passes the process environment; nothing here reads ``os.environ``) and raises
``MissingCredential`` naming the variable. Conventions (docs/integrations.md 7.2):

- the idempotency key is the credential's ``secret_id``; "already revoked" and "not found after a revoke" are
  ``ALREADY_DONE``;
- only 429, 5xx, timeouts and connection errors are ``RETRY`` (with the provider's ``Retry-After``); anything
  else unexpected is ``FAILED`` with a one-line detail;
- requests go through ``context.http`` (``scanner.transport.HttpClient``) with ``retry=False``: the outbox
  owns retries, so an attempt is recorded before it is made; credentials are never forwarded to another
  origin (the transport strips them on redirects) and request bodies are never logged.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from scanner.errors import ConfigError
from scanner.models import Secret
from scanner.respond.model import ActionKind, Credential, Outcome, ProviderResult
from scanner.transport import HttpClient, HttpError, HttpTimeout, NetworkError, Response


class MissingCredential(ConfigError):
    """The provider needs a credential of ours that the environment does not have (exit 2)."""


class Sink(Protocol):
    """Where a rotation's replacement credential goes (AWS Secrets Manager, a team's webhook): it is handed
    over once and never stored by us. Returns a non-secret reference (a secret's ARN and version, a delivery
    id); raises ``SinkError`` when it could not be delivered."""

    def deliver(
        self, credential: Credential, replacement: Mapping[str, Secret], metadata: Mapping[str, str]
    ) -> str: ...


class SinkError(Exception):
    """The replacement could not be handed over; ``retryable`` says whether trying again may help."""

    def __init__(self, message: str, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable


@dataclass(frozen=True)
class ProviderContext:
    """What a provider is made from: an HTTP client, the environment (credentials only come from there), the
    policy's settings for this provider (``respond.providers.<name>``), and a clock (tests move it)."""

    name: str
    http: HttpClient
    env: Mapping[str, str] = field(default_factory=dict)
    settings: Mapping[str, Any] = field(default_factory=dict)
    clock: Callable[[], float] = time.time
    sink: Sink | None = None  # where a rotation hands its replacement (``respond`` settings); None: rotation refused

    def credential(self, *names: str) -> str:
        """The first of ``names`` set in the environment; else one line naming the variable to set."""
        for name in names:
            value = self.env.get(name, "")
            if value:
                return value
        wanted = " or ".join(f"${name}" for name in names)
        raise MissingCredential(f"respond: provider {self.name!r} needs a credential: set {wanted}")


class Provider(Protocol):
    name: str
    guide: str  # the provider's guide to rotating this kind of credential (a URL), shown with every outcome
    batch_size: int  # how many credentials one ``act`` call may take (GitHub's revocation API: 1000)

    def supports(self, kind: ActionKind, rule_id: str) -> bool:
        """Whether this provider can do ``kind`` for credentials found by ``rule_id``."""
        ...

    def act(self, kind: ActionKind, credentials: Sequence[Credential]) -> list[ProviderResult]:
        """Do ``kind`` for each credential (at most ``batch_size``); one result per credential, in order.
        Raises nothing for the provider's answers: those are outcomes."""
        ...


ProviderFactory = Callable[[ProviderContext], Provider]


def retry_after(response: Response) -> float | None:
    """``Retry-After`` in seconds (delta-seconds form; an HTTP date counts from now), None when absent."""
    value = response.header("Retry-After").strip()
    if not value:
        return None
    if value.isdigit():
        return float(value)
    from email.utils import parsedate_to_datetime

    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


def status_outcome(response: Response, what: str) -> ProviderResult | None:
    """The outcome a status alone decides: 429 and 5xx are ``RETRY`` (with ``Retry-After``), 401/403 are
    ``FAILED`` (our credential was rejected). None: the caller reads the answer."""
    status = response.status
    if status == 429 or status >= 500:
        return ProviderResult(Outcome.RETRY, f"{what}: HTTP {status}", retry_after(response))
    if status in (401, 403):
        return ProviderResult(Outcome.FAILED, f"{what}: HTTP {status}: our credential was rejected")
    return None


def transport_outcome(error: HttpError, what: str) -> ProviderResult:
    """An attempt that got no answer: a timeout or a connection error is ``RETRY``; anything else (a redirect
    loop, an answer too large) is ``FAILED``. The detail names the error, never the request body."""
    if isinstance(error, HttpTimeout | NetworkError):
        return ProviderResult(Outcome.RETRY, f"{what}: {error}")
    return ProviderResult(Outcome.FAILED, f"{what}: {error}")
