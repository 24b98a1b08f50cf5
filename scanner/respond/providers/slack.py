"""Slack: revoke bot, user and app-configuration tokens with ``auth.revoke``, called with the leaked token itself
as ``Authorization: Bearer`` (no credential of ours). ``identify: true`` first asks ``auth.test`` whose token it
is (team and user ids become the reference); ``test: true`` is Slack's own dry run (nothing is revoked, and the
outcome stays ``FAILED`` so that the leak is not taken as dealt with).

Slack answers errors as HTTP 200 ``{"ok": false, "error": "<code>"}``: a token Slack no longer accepts
(``invalid_auth``, ``token_revoked``, ``token_expired``, ``account_inactive``) is ``ALREADY_DONE``;
``ratelimited`` (or a 429) and Slack's transient codes are ``RETRY`` with ``Retry-After``; any other code is
``FAILED`` naming it. Not covered: webhook URLs (``hooks.slack.com``) have no revoke API (remove the webhook in
the app's settings), nor do app-level ``xapp-`` tokens (revoked in the app's settings, "App-Level Tokens");
legacy ``xoxc-`` tokens need a browser cookie, so ``invalid_auth`` would say nothing about them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from scanner.errors import ConfigError
from scanner.respond.model import ActionKind, Credential, Outcome, ProviderResult
from scanner.respond.providers.base import ProviderContext, retry_after
from scanner.respond.providers.calls import read_json, retry_or_failed, send

GUIDE = "https://docs.slack.dev/authentication/using-token-rotation"
DEFAULT_API = "https://slack.com/api"
RULES = frozenset({"slack-bot-token", "slack-user-token", "slack-config-access-token"})
GONE = frozenset({"invalid_auth", "token_revoked", "token_expired", "account_inactive"})
TRANSIENT = frozenset({"ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout"})
FORM = {"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"}
ERROR_CODE = re.compile(r"^[a-z0-9_]{1,64}$")  # anything else is not echoed into a detail


class Slack:
    name = "slack"
    guide = GUIDE
    batch_size = 20  # one auth.revoke per token (Tier 3: 50+ a minute)

    def __init__(self, context: ProviderContext, *, api: str, identify: bool, test: bool) -> None:
        self.http, self.api, self.identify, self.test = context.http, api.rstrip("/"), identify, test

    def supports(self, kind: ActionKind, rule_id: str) -> bool:
        return kind is ActionKind.REVOKE and rule_id in RULES

    def act(self, kind: ActionKind, credentials: Sequence[Credential]) -> list[ProviderResult]:
        return [self._one(kind, credential) for credential in credentials]

    def _one(self, kind: ActionKind, credential: Credential) -> ProviderResult:
        if not self.supports(kind, credential.rule_id):
            return ProviderResult(Outcome.FAILED, f"slack cannot {kind.value} {credential.rule_id} credentials")
        token = credential.secret.reveal()
        reference = ""
        if self.identify:
            who = self._call("auth.test", token, b"")
            if isinstance(who, ProviderResult):
                return who
            reference = ":".join(str(who.get(key) or "?") for key in ("team_id", "user_id"))
        answer = self._call("auth.revoke", token, b"test=true" if self.test else b"")
        if isinstance(answer, ProviderResult):
            return replace(answer, reference=reference)
        if self.test:
            detail = "auth.revoke: test mode: Slack accepted the token and revoked nothing (set test: false)"
            return ProviderResult(Outcome.FAILED, detail, reference=reference)
        if answer.get("revoked") is False:  # documented answer: {"ok": true, "revoked": true}
            return ProviderResult(Outcome.FAILED, "auth.revoke: ok, but Slack says not revoked", reference=reference)
        return ProviderResult(Outcome.DONE, "revoked" + (f" ({reference})" if reference else ""), reference=reference)

    def _call(self, method: str, token: str, body: bytes) -> dict[str, Any] | ProviderResult:
        """A Web API method's ``{"ok": true, …}`` answer, or the outcome its error decides."""
        answer = send(
            self.http, "POST", f"{self.api}/{method}", method, auth=f"Bearer {token}", headers=FORM, body=body
        )
        if isinstance(answer, ProviderResult):
            return answer
        with answer:
            if answer.status != 200:
                return retry_or_failed(answer, method)
            data = read_json(answer)
        if data is None or not isinstance(data.get("ok"), bool):
            return ProviderResult(Outcome.FAILED, f"{method}: not a Slack Web API answer")
        if data["ok"]:
            return data
        error = str(data.get("error") or "")
        code = error if ERROR_CODE.match(error) else "unreadable error"
        if code in GONE:
            return ProviderResult(Outcome.ALREADY_DONE, f"{method}: {code}: Slack no longer accepts the token")
        if code in TRANSIENT:
            return ProviderResult(Outcome.RETRY, f"{method}: {code}", retry_after(answer))
        return ProviderResult(Outcome.FAILED, f"{method}: {code}")


def make(context: ProviderContext) -> Slack:
    settings = context.settings
    api = str(settings.get("api_url") or DEFAULT_API)
    if not api.startswith(("https://", "http://")):
        raise ConfigError(f"respond: providers.slack.api_url: not an http(s) URL: {api!r}")
    return Slack(
        context, api=api, identify=bool(settings.get("identify", False)), test=bool(settings.get("test", False))
    )
