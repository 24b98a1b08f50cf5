"""One provider call: send it once (the outbox owns retries), turn a transport failure into an outcome, and
distrust an answer that came from another origin than the one asked.

The transport already drops ``Authorization`` when a redirect leaves the origin; a provider still must not read
another host's answer as the provider's (a redirect to a look-alike answering ``{"ok": true}`` is not a revoke).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from scanner.httpsettings import origin
from scanner.respond.model import Outcome, ProviderResult
from scanner.respond.providers.base import status_outcome, transport_outcome
from scanner.transport import HttpClient, HttpError, Response

MAX_ANSWER = 1024 * 1024  # a provider's answer is a small JSON document; anything larger is not one


def send(
    http: HttpClient,
    method: str,
    url: str,
    what: str,
    *,
    auth: str = "",
    headers: Mapping[str, str] | None = None,
    body: bytes | None = None,
) -> Response | ProviderResult:
    """``method url`` once; a transport failure or an answer from another origin is a ``ProviderResult``."""
    try:
        response = http.request(method, url, auth=auth, headers=headers, body=body, retry=False, max_size=MAX_ANSWER)
    except HttpError as error:
        return transport_outcome(error, what)
    if origin(response.url) != origin(url):
        response.close()
        host = origin(response.url)[1]
        return ProviderResult(Outcome.FAILED, f"{what}: redirected to another host ({host}); its answer is not used")
    return response


def read_json(response: Response) -> dict[str, Any] | None:
    """The answer as a JSON object, None when it is not one (garbage, cut short, over the cap)."""
    try:
        data = response.json()
    except (HttpError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def retry_or_failed(response: Response, what: str) -> ProviderResult:
    """An answer the caller did not expect: 429 and 5xx may pass (``RETRY`` with Retry-After), anything else is
    ``FAILED`` naming the status. For calls made with the leaked credential, whose 401/403 say nothing about
    ours (``status_outcome`` would blame our credential)."""
    decided = status_outcome(response, what)
    if decided is not None and decided.outcome is Outcome.RETRY:
        return decided
    return ProviderResult(Outcome.FAILED, f"{what}: unexpected answer HTTP {response.status}")
