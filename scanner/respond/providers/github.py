"""GitHub's credential revocation API: ``POST {api_url}/credentials/revoke`` with ``{"credentials": [...]}``.

Facts (docs.github.com ``rest/credentials/revoke``; integrations.md 7.2): on github.com the call is
unauthenticated (an authenticated one gets 403), limited to 60 requests an hour and 1000 tokens a request;
202 Accepted means GitHub took the list (revocation is asynchronous, irreversible, and the owner is notified);
422 is "validation failed, or the endpoint has been spammed". GHES documents 60 *authenticated* requests an
hour: ``authenticated: true`` sends ``$LEAKSTOP_GITHUB_TOKEN``. Accepted kinds: ``ghp_``, ``github_pat_``, and on
github.com ``gho_``, ``ghu_``, ``ghr_``; never ``ghs_`` (an installation token lives an hour and revokes itself
with ``DELETE /installation/token``).

Outcomes: 202 → DONE for every token in the batch (GitHub does not say which were live: one already revoked is
accepted as well). 422 → FAILED (the body's message, never the tokens); a 422 or 403 whose rate limit is spent,
and 429, → RETRY after ``x-ratelimit-reset`` (or ``Retry-After``); 5xx and timeouts → RETRY.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence

from scanner.respond.model import ActionKind, Credential, Outcome, ProviderResult
from scanner.respond.providers.base import ProviderContext, status_outcome, transport_outcome
from scanner.transport import HttpError, Response

API_URL = "https://api.github.com"
GUIDE = "https://docs.github.com/en/authentication/keeping-your-account-and-data-secure/token-expiration-and-revocation"
MAX_BATCH = 1000
TOKEN_ENV = "LEAKSTOP_GITHUB_TOKEN"
PREFIXES = ("ghp_", "github_pat_", "gho_", "ghu_", "ghr_")
RULES = frozenset(  # never github-app-installation-token (ghs_)
    {
        "github-pat",
        "github-fine-grained-pat",
        "github-oauth-token",
        "github-user-to-server-token",
        "github-refresh-token",
    }
)
MAX_ANSWER = 64 * 1024


class GitHub:
    name = "github"
    guide = GUIDE

    def __init__(self, context: ProviderContext) -> None:
        self.context = context
        self.url = str(context.settings.get("api_url") or API_URL).rstrip("/") + "/credentials/revoke"
        self.token = context.credential(TOKEN_ENV) if context.settings.get("authenticated") else ""
        self.batch_size = min(int(context.settings.get("batch_size") or MAX_BATCH), MAX_BATCH)

    def supports(self, kind: ActionKind, rule_id: str) -> bool:
        return kind is ActionKind.REVOKE and rule_id in RULES

    def act(self, kind: ActionKind, credentials: Sequence[Credential]) -> list[ProviderResult]:
        tokens = [c.secret.reveal() for c in credentials]
        refused = [not t.startswith(PREFIXES) for t in tokens]  # a ghs_ token or another shape: never sent
        sent = [t for t, bad in zip(tokens, refused, strict=True) if not bad]
        answer = self._revoke(sent) if sent else ProviderResult(Outcome.DONE)
        not_taken = ProviderResult(Outcome.FAILED, "github: not a token kind the revocation API takes")
        return [not_taken if bad else answer for bad in refused]

    def _revoke(self, tokens: list[str]) -> ProviderResult:
        body = json.dumps({"credentials": tokens}).encode()
        headers = {
            "Accept": "application/vnd.github+json",
            "Content-Type": "application/json",
            "X-GitHub-Api-Version": "2022-11-28",
        }
        try:
            with self.context.http.request(
                "POST", self.url, headers=headers, body=body, auth=f"Bearer {self.token}" if self.token else "",
                retry=False, max_size=MAX_ANSWER,
            ) as response:  # fmt: skip
                result = self._outcome(response, len(tokens))
        except HttpError as exc:
            return transport_outcome(exc, "github: revoke")
        for token in tokens:  # GitHub's message is quoted; never let it quote a token back
            result = dataclasses.replace(result, detail=result.detail.replace(token, "[token]"))
        return result

    def _outcome(self, response: Response, count: int) -> ProviderResult:
        if response.status == 202:
            return ProviderResult(Outcome.DONE, f"github: revocation accepted ({count} in the request)")
        limited = self._rate_limited(response)
        if limited is not None:
            return limited
        if response.status in (401, 403) and not self.token:
            return ProviderResult(Outcome.FAILED, f"github: revoke: HTTP {response.status}: {_message(response)}")
        decided = status_outcome(response, "github: revoke")
        if decided is not None:
            return decided
        if response.status == 422:
            return ProviderResult(Outcome.FAILED, f"github: revoke: HTTP 422: {_message(response)}")
        return ProviderResult(Outcome.FAILED, f"github: revoke: unexpected HTTP {response.status}")

    def _rate_limited(self, response: Response) -> ProviderResult | None:
        """60 an hour: a spent limit (``x-ratelimit-remaining: 0`` on a 403/422/429) waits for the reset."""
        remaining = response.header("x-ratelimit-remaining").strip()
        if response.status == 429 or (response.status in (403, 422) and remaining == "0"):
            wait = _seconds_until(response.header("x-ratelimit-reset"), self.context.clock())
            if wait is None:
                from scanner.respond.providers.base import retry_after

                wait = retry_after(response)
            return ProviderResult(Outcome.RETRY, f"github: revoke: rate limited (HTTP {response.status})", wait)
        return None


def _seconds_until(reset: str, now: float) -> float | None:
    reset = reset.strip()
    return max(0.0, float(reset) - now) if reset.isdigit() else None


def _message(response: Response) -> str:
    """GitHub's ``message`` (one line, short), or that the answer was not GitHub's JSON."""
    try:
        doc = json.loads(response.read())
    except (ValueError, HttpError):
        return "an answer that is not GitHub's JSON"
    message = doc.get("message") if isinstance(doc, dict) else None
    if not isinstance(message, str):
        return "an answer without a message"
    return " ".join(message.split())[:200]


def make(context: ProviderContext) -> GitHub:
    return GitHub(context)
