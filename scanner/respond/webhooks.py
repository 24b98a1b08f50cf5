"""Standard Webhooks v1 (docs/integrations.md 7.3), shared by the ``webhook`` provider and the ``webhook`` sink:
the signing keys from the environment, the signature, and a POST that follows no redirect, as an outcome.

Signed bytes: ``{webhook-id}.{webhook-timestamp}.{body}``, HMAC-SHA256 keyed with the base64-decoded part of a
``whsec_`` key; ``webhook-signature`` holds ``v1,<base64>`` once per configured key (several keys during a key
rotation, space-separated: the receiver accepts any). ``webhook-id`` is the same on every retry of one event
(the receiver's idempotency key); ``webhook-timestamp`` is each attempt's time, in seconds.

Delivery: 2xx is success; a redirect is a failure and is not followed (the body may hold a replacement
credential); 410 Gone means the receiver disabled the endpoint (``DISABLED``); 429 and 5xx are ``RETRY`` with
``Retry-After``, as are timeouts and connection errors; anything else is ``FAILED``.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import hashlib
import hmac
import json
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from scanner.errors import ConfigError
from scanner.respond.model import Outcome, ProviderResult
from scanner.respond.providers.base import MissingCredential, status_outcome, transport_outcome
from scanner.transport import HttpClient, HttpError, Response, TooManyRedirects

SECRET_ENV = "LEAKSTOP_WEBHOOK_SECRET"  # whsec_… keys, separated by spaces
DISABLED = "endpoint-disabled"  # the progress of a result whose endpoint answered 410 Gone
ANSWER_CAP = 64 * 1024  # the receiver's answer is read only for its status


def signing_keys(env: Mapping[str, str], variable: str, what: str) -> tuple[bytes, ...]:
    """The HMAC keys in ``$variable`` (``whsec_`` + base64 of 24–64 bytes each, separated by spaces).
    Errors name the variable and the key's position, never a key."""
    words = env.get(variable, "").split()
    if not words:
        raise MissingCredential(f"{what} needs a signing key: set ${variable} (whsec_… keys separated by spaces)")
    keys = []
    for number, word in enumerate(words, 1):
        try:
            key = base64.b64decode(word.removeprefix("whsec_"), validate=True) if word.startswith("whsec_") else b""
        except (binascii.Error, ValueError):
            key = b""
        if not 24 <= len(key) <= 64:
            raise ConfigError(f"{what}: ${variable}: key {number} is not whsec_ + base64 of 24 to 64 bytes")
        keys.append(key)
    return tuple(keys)


def message_id(*parts: str) -> str:
    """A ``webhook-id`` made from what names the event (stable across retries; no ``.`` in it)."""
    return "msg_" + hashlib.sha256("\0".join(parts).encode()).hexdigest()[:32]


def signature(keys: Sequence[bytes], msg_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{msg_id}.{timestamp}.".encode() + body
    return " ".join(f"v1,{base64.b64encode(hmac.new(k, signed, hashlib.sha256).digest()).decode()}" for k in keys)


def payload(event: str, when: float, data: Mapping[str, Any]) -> bytes:
    """The JSON body: ``type``, ``timestamp`` (ISO 8601, UTC) and ``data``."""
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(when))
    return json.dumps({"type": event, "timestamp": stamp, "data": data}, separators=(",", ":")).encode()


class WebhookSender:
    """Signed POSTs to one endpoint through a client made from the caller's, with redirects turned off."""

    def __init__(
        self, http: HttpClient, url: str, keys: Sequence[bytes], clock: Callable[[], float] = time.time
    ) -> None:
        self.url, self.keys, self.clock = url, tuple(keys), clock
        self.http = HttpClient(dataclasses.replace(http.settings, max_redirects=0), user_agent=http.user_agent)

    def post(self, msg_id: str, body: bytes, what: str) -> ProviderResult:
        """One attempt (the outbox retries); ``reference`` is the ``webhook-id`` on success."""
        timestamp = int(self.clock())
        headers = {
            "Content-Type": "application/json",
            "webhook-id": msg_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": signature(self.keys, msg_id, timestamp, body),
        }
        try:
            with self.http.request(
                "POST", self.url, headers=headers, body=body, retry=False, max_size=ANSWER_CAP
            ) as response:
                return answer(response, what, msg_id)
        except TooManyRedirects:
            return ProviderResult(Outcome.FAILED, f"{what}: the endpoint redirects (3xx); not followed")
        except HttpError as exc:
            return transport_outcome(exc, what)


def answer(response: Response, what: str, msg_id: str) -> ProviderResult:
    status = response.status
    if 200 <= status < 300:
        return ProviderResult(Outcome.DONE, f"{what}: delivered (HTTP {status})", reference=msg_id)
    if status == 410:
        detail = f"{what}: HTTP 410 Gone: the receiver disabled this endpoint; not sent again until it is changed"
        return ProviderResult(Outcome.FAILED, detail, progress=DISABLED)
    decided = status_outcome(response, what)
    if decided is not None:
        return decided
    return ProviderResult(Outcome.FAILED, f"{what}: HTTP {status}")
