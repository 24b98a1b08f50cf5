"""One JSON API call of a provider that identifies a credential before acting on it (npm, Google Cloud,
Anthropic): list, match, then revoke. Every step may end the action early, so a step that does not get the
answer it needs raises ``Stop`` carrying the outcome, and the provider's ``act`` turns it into its result.

``call`` applies the conventions of ``base``: no retries here (the outbox owns them), a timeout or a dropped
connection is ``RETRY``, 429/5xx are ``RETRY`` with ``Retry-After``, 401/403 are ``FAILED``, an answer that
is not JSON is ``FAILED``. Statuses listed in ``passthrough`` come back to the caller undecided (a 404 that
means "already gone", npm's 401 asking for a one-time password).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import quote

from scanner.respond.model import ActionKind, Credential, Outcome, ProviderResult
from scanner.respond.providers.base import status_outcome, transport_outcome
from scanner.transport import HttpClient, HttpError

T = TypeVar("T")
MAX_ANSWER = 4 * 1024 * 1024  # a page of a key listing is a few kilobytes; anything far larger is not one


class Stop(Exception):
    """The outcome of the current action is decided (raised and caught inside a provider)."""

    def __init__(self, result: ProviderResult) -> None:
        super().__init__(result.detail)
        self.result = result


def failed(detail: str) -> Stop:
    return Stop(ProviderResult(Outcome.FAILED, detail))


@dataclass(frozen=True)
class Answer:
    status: int
    data: Any = None  # the parsed JSON body (None when the body was empty)
    headers: Mapping[str, str] = field(default_factory=dict)


def call(
    http: HttpClient,
    method: str,
    url: str,
    what: str,
    *,
    headers: Mapping[str, str] | None = None,
    auth: str = "",
    payload: Any = None,
    passthrough: Collection[int] = (),
) -> Answer:
    """``method url`` once; a 2xx (or a ``passthrough`` status) with its JSON body, else ``Stop``. ``what``
    names the step in details ("list tokens"); it never holds a secret, and neither does ``url``."""
    sent = dict(headers or {})
    body = None
    if payload is not None:
        body = json.dumps(payload).encode()
        sent["Content-Type"] = "application/json"
    try:
        with http.request(method, url, headers=sent, auth=auth, body=body, retry=False, max_size=MAX_ANSWER) as r:
            if r.status not in passthrough:
                decided = status_outcome(r, what)
                if decided is not None:
                    raise Stop(decided)
                if not 200 <= r.status < 300:
                    raise failed(f"{what}: unexpected HTTP {r.status}")
            raw = r.read()
            answer_headers = {name.lower(): value for name, value in r.headers.items()}
    except HttpError as error:
        raise Stop(transport_outcome(error, what)) from None
    if not raw.strip():
        return Answer(r.status, None, answer_headers)
    try:
        return Answer(r.status, json.loads(raw), answer_headers)
    except ValueError:
        if r.status in passthrough:
            return Answer(r.status, None, answer_headers)
        raise failed(f"{what}: HTTP {r.status} with an answer that is not JSON") from None


def field_of(data: Any, name: str, kind: type, what: str) -> Any:
    """``data[name]`` when ``data`` is an object and the field has type ``kind``; else an unexpected answer."""
    value = data.get(name) if isinstance(data, dict) else None
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise failed(f"{what}: unexpected answer (no {kind.__name__} {name!r})")
    return value


def segment(value: str) -> str:
    """One URL path segment (an id from the provider's own answer, quoted so it stays one segment)."""
    return quote(value, safe="@")


def hint_matches(value: str, hint: str) -> bool:
    """Whether ``value`` fits a redacted form of it: ``head...tail`` (three dots or an ellipsis), or a bare
    prefix ``head``. An empty head matches nothing: a hint that says nothing identifies nothing."""
    head, mark, tail = hint.replace("…", "...").partition("...")
    if not mark:
        head, tail = hint, ""
    return bool(head) and len(head) + len(tail) <= len(value) and value.startswith(head) and value.endswith(tail)


def revoke_each(
    name: str,
    rules: Collection[str],
    kind: ActionKind,
    credentials: Sequence[Credential],
    listing: Callable[[], T],
    revoke: Callable[[T, str], ProviderResult],
) -> list[ProviderResult]:
    """``act`` of a list-then-revoke provider: one ``listing`` for the batch (its failure is every
    credential's result), then ``revoke(listed, value)`` per credential. Another kind, or a credential of a
    rule the provider has no adapter for, is ``FAILED`` without a request."""
    if kind is not ActionKind.REVOKE:
        return [ProviderResult(Outcome.FAILED, f"{name}: cannot {kind.value}, only revoke")] * len(credentials)
    if not any(c.rule_id in rules for c in credentials):
        return [_unsupported(name, c) for c in credentials]
    try:
        listed = listing()
    except Stop as stop:
        return [stop.result if c.rule_id in rules else _unsupported(name, c) for c in credentials]
    return [_attempt(revoke, listed, c) if c.rule_id in rules else _unsupported(name, c) for c in credentials]


def _attempt(revoke: Callable[[T, str], ProviderResult], listed: T, credential: Credential) -> ProviderResult:
    try:
        return revoke(listed, credential.secret.reveal())
    except Stop as stop:
        return stop.result


def _unsupported(name: str, credential: Credential) -> ProviderResult:
    return ProviderResult(Outcome.FAILED, f"{name}: no adapter for rule {credential.rule_id!r}; nothing attempted")
