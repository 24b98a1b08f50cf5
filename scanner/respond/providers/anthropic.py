"""Anthropic: deactivate a leaked API key through the Admin API (docs/integrations.md 7.2; platform.claude.com
"Admin API: API keys").

Identify. ``GET /v1/organizations/api_keys?limit=N&after_id=…`` lists the organization's keys (pages while
``has_more``, the next one after ``last_id``); the secret value is never returned, only
``partial_key_hint``, documented as ``sk-ant-api03-R2D...igAA``: the prefix and the first characters of the
random part, ``...``, the last four characters. The leaked value must fit the hint at both ends; when several
keys fit it the result is FAILED "ambiguous" and nothing is changed (the hint holds few random characters, so
in a large organization two keys may share it).

Revoke. ``POST /v1/organizations/api_keys/{id}`` ``{"status": "inactive"}`` (reversible in the Console; the
Admin API has no delete). A key already ``inactive``, ``archived`` or ``expired`` is ``ALREADY_DONE``. A key
of another organization is not listed: ``FAILED``, nothing to do with our admin key.

Our credential: an Admin API key ($LEAKSTOP_ANTHROPIC_ADMIN_KEY) in ``x-api-key`` with
``anthropic-version: 2023-06-01``; the transport drops ``x-api-key`` on a redirect to another origin.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlencode

from scanner.respond.model import ActionKind, Credential, Outcome, ProviderResult
from scanner.respond.providers.apicall import call, failed, field_of, hint_matches, revoke_each, segment
from scanner.respond.providers.base import ProviderContext

GUIDE = "https://docs.anthropic.com/en/api/administration-api"
RULES = frozenset({"anthropic-api-key"})
ADMIN_KEY_ENV = "LEAKSTOP_ANTHROPIC_ADMIN_KEY"
DEFAULT_API = "https://api.anthropic.com"
VERSION = "2023-06-01"
PAGE = 100
MAX_PAGES = 200
INACTIVE = frozenset({"inactive", "archived", "expired"})


@dataclass(frozen=True)
class ApiKey:
    id: str
    hint: str
    status: str


class AnthropicProvider:
    name = "anthropic"
    guide = GUIDE
    batch_size = 100  # one listing serves the whole batch

    def __init__(self, context: ProviderContext, admin_key: str) -> None:
        self.http = context.http
        self.api = str(context.settings.get("api_url") or DEFAULT_API).rstrip("/")
        self.workspace = str(context.settings.get("workspace_id") or "")
        self.headers = {"x-api-key": admin_key, "anthropic-version": VERSION, "Accept": "application/json"}

    def supports(self, kind: ActionKind, rule_id: str) -> bool:
        return kind is ActionKind.REVOKE and rule_id in RULES

    def act(self, kind: ActionKind, credentials: Sequence[Credential]) -> list[ProviderResult]:
        return revoke_each("anthropic", RULES, kind, credentials, self._list, self._deactivate)

    def _list(self) -> list[ApiKey]:
        what = "anthropic: list API keys"
        found: list[ApiKey] = []
        query = {"limit": str(PAGE), **({"workspace_id": self.workspace} if self.workspace else {})}
        for _ in range(MAX_PAGES):
            url = f"{self.api}/v1/organizations/api_keys?{urlencode(query)}"
            data = call(self.http, "GET", url, what, headers=self.headers).data
            found.extend(_api_key(item, what) for item in field_of(data, "data", list, what))
            if not field_of(data, "has_more", bool, what):
                return found
            query["after_id"] = field_of(data, "last_id", str, what)
        raise failed(f"{what}: still more after {MAX_PAGES} pages")

    def _deactivate(self, keys: list[ApiKey], value: str) -> ProviderResult:
        fits = [key for key in keys if hint_matches(value, key.hint)]
        if len(fits) > 1:
            ids = ", ".join(key.id for key in fits)
            raise failed(f"anthropic: ambiguous: keys {ids} all fit the leaked key's hint; nothing changed")
        if not fits:
            raise failed(
                "anthropic: no API key of this organization fits the leaked key's hint (another organization's?)"
            )
        key = fits[0]
        if key.status in INACTIVE:
            return ProviderResult(Outcome.ALREADY_DONE, f"anthropic: key already {key.status}", reference=key.id)
        if key.status != "active":
            raise failed(f"anthropic: key {key.id} has an unknown status {key.status!r}; nothing changed")
        what = "anthropic: deactivate API key"
        url = f"{self.api}/v1/organizations/api_keys/{segment(key.id)}"
        answer = call(
            self.http, "POST", url, what, headers=self.headers, payload={"status": "inactive"}, passthrough=(404,)
        )
        if answer.status == 404:
            return ProviderResult(Outcome.ALREADY_DONE, "anthropic: key already gone", reference=key.id)
        if field_of(answer.data, "status", str, what) not in INACTIVE:
            raise failed(f"{what}: the answer does not show the key inactive")
        return ProviderResult(Outcome.DONE, "anthropic: key deactivated", reference=key.id)


def _api_key(item: object, what: str) -> ApiKey:
    key_id, hint, status = (
        (item.get(name) for name in ("id", "partial_key_hint", "status"))
        if isinstance(item, dict)
        else (None, None, None)
    )
    if not (isinstance(key_id, str) and key_id and isinstance(status, str)):
        raise failed(f"{what}: unexpected answer (a key without id or status)")
    return ApiKey(key_id, hint if isinstance(hint, str) else "", status)


def make(context: ProviderContext) -> AnthropicProvider:
    return AnthropicProvider(context, context.credential(ADMIN_KEY_ENV))
