"""The validator of a declarative check (``ruleset.validator.HttpCheck``): most providers, and a team's own tokens.

Templates are filled with ``{secret}`` and the check's context values. A value that goes into the host must be a
single DNS label (``us6`` for ``https://{dc}.api.mailchimp.com``), so the host stays the validator's: scanned content
can choose a subdomain of the provider's domain at most, never another domain.
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from scanner.models import Validation
from scanner.ruleset.validator import Condition, HttpCheck
from scanner.transport import HttpError
from scanner.validate.base import Caller, Candidate, json_at, shown_identity, status_unknown, unknown_for

_LABEL = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
_PLACEHOLDER = re.compile(r"\{([a-z_][a-z0-9_]*)\}")
MAX_COMPANIONS = 3  # values of a companion rule tried at one place


@dataclass(frozen=True)
class HttpValidator:
    name: str
    provider: str
    check_spec: HttpCheck

    @property
    def origins(self) -> tuple[str, ...]:
        return (self.check_spec.origin,)

    @property
    def needs_context(self) -> bool:
        """A value found beside the secret (a snippet's or another rule's), not in the secret itself."""
        return any(source != "secret" for _, source, _ in self.check_spec.context)

    def check(self, candidate: Candidate, call: Caller) -> Validation:
        spec = self.check_spec
        host = urlsplit(spec.url).hostname or spec.url
        result = Validation("unknown", f"{host}: {self._missing(candidate)} not found beside the secret")
        for values in self._value_sets(candidate):
            result = self._once(values, call, host)
            if result.state == "live":
                break
        return result

    def _missing(self, candidate: Candidate) -> str:
        names = [name for name, source, regex in self.check_spec.context if not _found(candidate, source, regex)]
        return ", ".join(names) or "a value"

    def _value_sets(self, candidate: Candidate) -> list[dict[str, str]]:
        """Every assignment of the context values (companion rules may offer several; at most a few are tried)."""
        sets: list[dict[str, str]] = [{"secret": candidate.secret}]
        for name, source, regex in self.check_spec.context:
            found = _found(candidate, source, regex)
            if not found:
                return []
            host_value = "{" + name + "}" in urlsplit(self.check_spec.url).netloc
            found = [v for v in found if not host_value or _LABEL.match(v)]
            sets = [{**s, name: v} for s in sets for v in found[:MAX_COMPANIONS]]
        return sets

    def _once(self, values: dict[str, str], call: Caller, host: str) -> Validation:
        spec = self.check_spec
        as_json = spec.content_type == "application/json"
        headers = {name: _fill(template, values) for name, template in spec.headers}
        if spec.basic:
            headers["Authorization"] = "Basic " + base64.b64encode(_fill(spec.basic, values).encode()).decode()
        if spec.content_type:
            headers["Content-Type"] = spec.content_type
        if any("\r" in v or "\n" in v for v in headers.values()):
            return Validation("unknown", f"{host}: the secret cannot travel in a header (line break)")
        body = _fill(spec.body, values, as_json).encode() if spec.body else None
        try:
            with call.send(spec.origin, _fill(spec.url, values), headers, body, spec.method) as response:
                status, raw = response.status, response.read()
        except (HttpError, ValueError) as exc:
            return unknown_for(exc, host)
        return judge(spec, status, raw, host)


def judge(spec: HttpCheck, status: int, raw: bytes, host: str) -> Validation:
    """The state an answer means under ``spec``: invalid first (a 200 with ``ok: false`` is Slack's no), then
    live; an answer that is neither (429, 5xx, a body of the wrong shape) is unknown."""
    data = _parsed(raw) if spec.reply == "json" else None
    text = raw.decode("utf-8", "replace")
    if status in spec.invalid.status and _holds(spec.invalid, data, text):
        error = json_at(data, "error") if isinstance(data, dict) else None
        detail = f": {error}" if isinstance(error, str) and len(error) < 60 else ""
        return Validation("invalid", f"{host} refused it (HTTP {status}{detail})")
    if status in spec.live.status and (spec.reply != "json" or data is not _GARBAGE) and _holds(spec.live, data, text):
        identity = shown_identity([json_at(data, p) for p in spec.identity]) if data is not _GARBAGE else ""
        return Validation("live", f"{host} accepted it (HTTP {status})", identity)
    if status in spec.live.status and data is _GARBAGE:
        return Validation("unknown", f"{host}: unexpected answer (HTTP {status}, not JSON)")
    return status_unknown(status, host)


_GARBAGE: Any = object()


def _parsed(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return _GARBAGE


def _holds(condition: Condition, data: Any, text: str) -> bool:
    if condition.text and not any(t in text for t in condition.text):
        return False
    for path, expected in condition.json:
        value = json_at(data, path) if data is not _GARBAGE else None
        if value not in expected if isinstance(expected, list) else value != expected:
            return False
    return True


def _found(candidate: Candidate, source: str, regex: str) -> list[str]:
    """The values of one context entry: in the secret; or in the snippet, else the text around the finding; or
    another rule's findings at the same place, else (with a regex) the text around the finding."""
    if source == "secret":
        return list(dict.fromkeys(m.group(1) for m in re.finditer(regex, candidate.secret)))
    if source.startswith("rule:"):
        found = [v for v in candidate.companions.get(source[5:], ()) if v != candidate.secret]
        if found or not regex:
            return found
        texts: tuple[str, ...] = (candidate.context,)
    else:
        texts = candidate.texts()
    for text in texts:
        found = [v for v in dict.fromkeys(m.group(1) for m in re.finditer(regex, text)) if v != candidate.secret]
        if found:
            return found
    return []


def _fill(template: str, values: dict[str, str], as_json: bool = False) -> str:
    def value(match: re.Match[str]) -> str:
        found = values.get(match[1], match[0])
        return json.dumps(found)[1:-1] if as_json else found

    return _PLACEHOLDER.sub(value, template)
