"""What every validator shares: the ``Validator`` protocol, the candidate it checks, and the one way it calls out.

A validator makes one read-only request to its provider's own documented endpoint (an identity or "who am I"
call) at a host it fixes itself, and says ``live``, ``invalid`` or ``unknown`` (:class:`scanner.models.Validation`).
It never raises for what the network or the provider did: those are ``unknown`` with a reason.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import urlsplit

from scanner.models import Validation
from scanner.transport import HttpClient, HttpError, HttpTimeout, Response, TooManyRedirects

MAX_ANSWER = 256 * 1024  # bytes of an identity answer read; more is not an identity answer
_EMAIL = re.compile(r"\b([A-Za-z0-9._%+-])[A-Za-z0-9._%+-]*@([A-Za-z0-9.-]+\.[A-Za-z]{2,})\b")


@dataclass(frozen=True)
class Candidate:
    """One distinct secret to check: its value, the finding's (redacted) snippet, the secrets of other rules
    found at the same place (``rule id → values``: an AWS key id beside its secret key), and, for a validator that
    ``needs_context``, the text around a few of its findings read again from their file or blob (a GCP key file's
    ``client_email`` lines away from its ``private_key``). Never stored or printed: ``repr`` shows sizes only."""

    secret: str
    snippet: str = ""
    companions: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    context: str = ""

    def texts(self) -> tuple[str, str]:
        """Where a second value is looked for, in order: the snippet, then the context."""
        return (self.snippet, self.context)

    def __repr__(self) -> str:  # never the value: a candidate may end up in an assertion message or a log
        return f"Candidate(<{len(self.secret)} characters>)"


class Validator(Protocol):
    """Checks a candidate against its provider. ``origins`` are the ``scheme://host`` it may call (a template
    host such as ``https://{dc}.api.mailchimp.com`` for the few whose documented API lives on a per-account host)."""

    @property
    def name(self) -> str: ...

    @property
    def provider(self) -> str: ...

    @property
    def origins(self) -> tuple[str, ...]: ...

    @property
    def needs_context(self) -> bool:
        """Whether it needs a second value from beside the secret (the pipeline then reads the text around the
        findings again: ``Candidate.context``)."""
        ...

    def check(self, candidate: Candidate, call: Caller) -> Validation: ...


@dataclass
class Caller:
    """The validators' HTTP: the shared transport with no redirect followed (a redirect to another host must not
    carry the credential, and one to the same host is no identity answer either) and no retry of a 429 (it is
    reported as rate limited). ``routes`` send an origin to a loopback server: tests only."""

    http: HttpClient
    routes: Mapping[str, str] = field(default_factory=dict)

    def send(
        self, origin: str, url: str, headers: Mapping[str, str], body: bytes | None = None, method: str = "GET"
    ) -> Response:
        """``url`` is under ``origin`` (the validator's template origin, which is what a route names)."""
        base = self.routes.get(origin)
        if base is not None:
            parts = urlsplit(url)
            url = base.rstrip("/") + parts.path + (f"?{parts.query}" if parts.query else "")
        return self.http.request(method, url, headers=dict(headers), body=body, max_size=MAX_ANSWER, retry=False)


def unknown_for(exc: Exception, host: str) -> Validation:
    """The ``unknown`` state for a request that failed: the reason in a few words, never the URL's secret."""
    if isinstance(exc, HttpTimeout):
        return Validation("unknown", f"{host}: timed out")
    if isinstance(exc, TooManyRedirects):
        return Validation("unknown", f"{host}: redirected elsewhere (not followed with the credential)")
    if isinstance(exc, HttpError):
        return Validation("unknown", f"{host}: {exc.reason}")
    return Validation("unknown", f"{host}: the request could not be made ({type(exc).__name__})")


def status_unknown(status: int, host: str) -> Validation:
    if status == 429:
        return Validation("unknown", f"{host}: rate limited (HTTP 429)")
    return Validation("unknown", f"{host}: unexpected answer (HTTP {status})")


def json_at(data: Any, path: str) -> Any:
    """The value at a dotted path (``accounts.0.sid``), or None."""
    for part in path.split("."):
        if isinstance(data, dict):
            data = data.get(part)
        elif isinstance(data, list) and part.isdigit() and int(part) < len(data):
            data = data[int(part)]
        else:
            return None
    return data


def shown_identity(values: list[Any]) -> str:
    """The account a provider named, for a report: emails masked to their first letter and domain."""
    shown = []
    for value in values:
        if value is None or value == "" or isinstance(value, dict):
            continue
        text = "+".join(str(v) for v in value) if isinstance(value, list) else str(value)
        shown.append(_EMAIL.sub(lambda m: f"{m[1]}…@{m[2]}", text)[:120])
    return ", ".join(shown)
