"""A rule's ``validator:`` (issue #14): the name of a built-in validator, or a declared HTTP check for a team's own
tokens. Data only: ``scanner/validate/`` sends the request.

    validator:
      method: GET
      url: https://api.example.com/v1/whoami      # host fixed here; the secret never goes in the URL
      headers: {Authorization: "Bearer {secret}"}
      live: {status: [200], json: {active: true}}   # every JSON condition must hold
      invalid: {status: [401, 403]}
      identity: [user.login]                        # JSON paths; the first present names the account

A URL that would carry the secret (path or query) is refused: secrets travel in headers or bodies only. The host
cannot be a template either: it is fixed by the validator, never taken from the scanned content.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from scanner.errors import ConfigError
from scanner.lazyre import LazyPattern

METHODS = ("GET", "HEAD", "POST")
_PLACEHOLDER = LazyPattern(r"\{([a-z_][a-z0-9_]*)\}")
_KEYS = {"method", "url", "headers", "basic", "body", "content_type", "live", "invalid", "identity"}
_TOKEN = LazyPattern(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+$")  # an HTTP header name


@dataclass(frozen=True)
class Condition:
    """Met by a response whose status is one of ``status`` and whose JSON body has every ``json`` path at its
    value (dotted paths into objects)."""

    status: tuple[int, ...] = ()
    json: tuple[tuple[str, Any], ...] = ()  # a list value: any of its items
    text: tuple[str, ...] = ()  # built-ins that answer text: the body holds one of these


@dataclass(frozen=True)
class HttpCheck:
    """One read-only request and how to read its answer. Templates hold ``{secret}`` and the names of ``context``
    values; ``{name}`` may be in the host only for a built-in whose ``context`` regex allows a DNS label alone."""

    url: str
    method: str = "GET"
    headers: tuple[tuple[str, str], ...] = ()
    basic: str = ""  # "user:password" template sent as HTTP Basic
    body: str = ""
    content_type: str = ""
    live: Condition = Condition((200,))
    invalid: Condition = Condition((401, 403))
    identity: tuple[str, ...] = ()
    # (name, "secret", "snippet" or "rule:<id>", regex with one group): values the templates use, found in the secret
    # itself, in the finding's (redacted) snippet and then the text around it, or in another rule's findings at the
    # same place and then (with a regex) the text around it; a check whose value is not found answers ``unknown``.
    context: tuple[tuple[str, str, str], ...] = ()
    secret_in_path: bool = False  # built-ins whose documented API has the token in the path (Telegram, Discord)
    reply: str = "json"  # what a live answer is: "json" (garbage is unknown) or "text"

    @property
    def origin(self) -> str:
        parts = urlsplit(self.url)
        return f"{parts.scheme}://{parts.netloc}"


def parse_declared(data: Any, where: str) -> HttpCheck:
    """A rule file's ``validator:`` mapping; a one-line :class:`ConfigError` naming ``where`` when it is unusable."""
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: validator must be a built-in name or a mapping")
    unknown = set(data) - _KEYS
    if unknown:
        raise ConfigError(f"{where}: validator has unknown key {sorted(unknown)[0]!r}")
    url = str(data.get("url", ""))
    method = str(data.get("method", "GET")).upper()
    if method not in METHODS:
        raise ConfigError(f"{where}: validator method must be one of {', '.join(METHODS)} (read-only calls)")
    headers = data.get("headers", {})
    if not isinstance(headers, dict) or not all(
        isinstance(v, str) and _TOKEN.match(str(k)) for k, v in headers.items()
    ):
        raise ConfigError(f"{where}: validator headers must map header names to strings")
    check = HttpCheck(
        url=url,
        method=method,
        headers=tuple((str(k), v) for k, v in headers.items()),
        basic=str(data.get("basic", "")),
        body=str(data.get("body", "")),
        content_type=str(data.get("content_type", "")),
        live=_condition(data.get("live", {"status": [200]}), f"{where}: validator live"),
        invalid=_condition(data.get("invalid", {"status": [401, 403]}), f"{where}: validator invalid"),
        identity=tuple(str(p) for p in data.get("identity", ()) or ()),
    )
    templates = (check.url, check.basic, check.body, *(v for _, v in check.headers))
    other = sorted({name for t in templates for name in _PLACEHOLDER.findall(t)} - {"secret"})
    if other:
        raise ConfigError(f"{where}: validator uses {{{other[0]}}}: a declared check knows only {{secret}}")
    check_url(check, where)
    if not any("{secret}" in t for t in (check.basic, check.body, *(v for _, v in check.headers))):
        raise ConfigError(f"{where}: validator sends no {{secret}} (put it in a header, basic or body)")
    return check


def check_url(check: HttpCheck, where: str) -> None:
    """The URL is https with a fixed host; the secret is in neither its path nor its query (declared checks)."""
    parts = urlsplit(check.url)
    if parts.scheme != "https" or not parts.hostname:
        raise ConfigError(f"{where}: validator url must be an https:// URL with a host, not {check.url!r}")
    if "@" in parts.netloc:
        raise ConfigError(f"{where}: validator url must not hold a user name or password")
    allowed = {name for name, source, _ in check.context}
    if any(name not in allowed for name in _PLACEHOLDER.findall(parts.netloc)) or (
        "{" in parts.netloc and not check.context
    ):
        raise ConfigError(f"{where}: validator url must name a fixed host, not a template ({parts.netloc})")
    if "{secret}" in parts.query or "{secret}" in parts.fragment:
        raise ConfigError(
            f"{where}: validator url would put the secret in a query string; secrets travel in headers or bodies only"
        )
    if "{secret}" in check.url and not check.secret_in_path:
        raise ConfigError(
            f"{where}: validator url would put the secret in the URL path; secrets travel in headers or bodies only"
        )


def _condition(data: Any, where: str) -> Condition:
    if not isinstance(data, dict) or set(data) - {"status", "json"}:
        raise ConfigError(f"{where}: expected a mapping with status and json")
    status = data.get("status", [])
    if not isinstance(status, list) or not all(isinstance(s, int) and 100 <= s <= 599 for s in status):
        raise ConfigError(f"{where}: status must be a list of HTTP status codes")
    fields = data.get("json", {})
    if not isinstance(fields, dict):
        raise ConfigError(f"{where}: json must map paths to values")
    return Condition(tuple(status), tuple((str(k), v) for k, v in fields.items()))


def encode(check: HttpCheck) -> str:
    """The canonical JSON a ``RuleSpec`` keeps (specs are plain strings, cached as JSON)."""
    return json.dumps(
        {
            "url": check.url,
            "method": check.method,
            "headers": dict(check.headers),
            "basic": check.basic,
            "body": check.body,
            "content_type": check.content_type,
            "live": {"status": list(check.live.status), "json": dict(check.live.json)},
            "invalid": {"status": list(check.invalid.status), "json": dict(check.invalid.json)},
            "identity": list(check.identity),
        },
        sort_keys=True,
    )


def decode(text: str, where: str) -> HttpCheck:
    return parse_declared(json.loads(text), where)
