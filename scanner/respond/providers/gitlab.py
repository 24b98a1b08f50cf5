"""GitLab: revoke and rotate personal, project and group access tokens (``glpat-``), and with ``admin: true``
revoke the other token kinds the admin token API takes (self-managed instances only).

The leaked token does most of the work itself (docs/api/personal_access_tokens.md): ``GET
/personal_access_tokens/self`` identifies it (any scope may), ``DELETE .../self`` revokes it, and ``POST
.../self/rotate`` rotates it (needs the ``api`` or ``self_rotate`` scope). A 401 from ``self`` means GitLab no
longer accepts the token: revoked, expired, or never issued by this instance. Project and group tokens belong to
bot users named ``project_<id>_bot_…`` / ``group_<id>_bot_…`` (``GET /user``); they rotate through their
resource (``/projects/<id>/access_tokens/self/rotate``), which also extends the bot's membership.

A rotate is never retried: rotating a token that is already revoked revokes every active token of its family
(automatic reuse detection). A rotate that got no answer or a 5xx is ``FAILED`` ("state unknown"), not ``RETRY``.
The token goes in ``Authorization: Bearer`` (the transport drops it on a redirect to another origin; GitLab's
``PRIVATE-TOKEN`` header would follow one) or, for the admin API, in a JSON body sent without following redirects.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from typing import Any

from scanner.errors import ConfigError
from scanner.models import Secret
from scanner.respond.model import ActionKind, Credential, Outcome, ProviderResult
from scanner.respond.providers import PROVIDERS
from scanner.respond.providers.base import ProviderContext, SinkError, status_outcome
from scanner.respond.providers.calls import read_json, retry_or_failed, send
from scanner.transport import HttpClient, Response

GUIDE = "https://docs.gitlab.com/user/profile/personal_access_tokens/#rotate-a-personal-access-token"
ENV = "LEAKSTOP_GITLAB_TOKEN"
DEFAULT_URL = "https://gitlab.com"
TOKEN_RULES = frozenset({"gitlab-pat", "gitlab-pat-routable"})
# What DELETE /api/v4/admin/token revokes or resets (docs/api/admin/token.md). Not covered there: runner
# registration tokens, CI job tokens (identify only) and SCIM tokens.
ADMIN_RULES = frozenset(PROVIDERS["gitlab"].rules) - TOKEN_RULES  # the table lists both
BOT_USER = re.compile(r"^(project|group)_([0-9]+)_bot_")
JSON_HEADERS = {"Content-Type": "application/json", "Accept": "application/json"}
UNKNOWN = "state unknown, check the token in GitLab (a rotate is never retried: it would revoke the token's family)"


class GitLab:
    name = "gitlab"
    guide = GUIDE
    batch_size = 20  # no batch API: one token after another

    def __init__(self, context: ProviderContext, *, url: str, admin: bool, expires_days: int, ours: str) -> None:
        self.http, self.sink, self.clock = context.http, context.sink, context.clock
        self.api = url.rstrip("/") + "/api/v4"
        self.admin, self.expires_days, self.ours = admin, expires_days, ours
        # The admin API takes the leaked token in the body: a 307/308 would resend it, so no redirect is followed.
        self.no_redirects = HttpClient(replace(self.http.settings, max_redirects=0), user_agent=self.http.user_agent)

    def supports(self, kind: ActionKind, rule_id: str) -> bool:
        if kind is ActionKind.REVOKE:
            return rule_id in TOKEN_RULES or (self.admin and rule_id in ADMIN_RULES)
        return kind is ActionKind.ROTATE and rule_id in TOKEN_RULES

    def act(self, kind: ActionKind, credentials: Sequence[Credential]) -> list[ProviderResult]:
        return [self._one(kind, credential) for credential in credentials]

    def _one(self, kind: ActionKind, credential: Credential) -> ProviderResult:
        if not self.supports(kind, credential.rule_id):
            return ProviderResult(Outcome.FAILED, f"gitlab cannot {kind.value} {credential.rule_id} credentials")
        if kind is ActionKind.ROTATE:
            return self._rotate(credential.secret.reveal(), credential)
        if credential.rule_id in TOKEN_RULES:
            return self._revoke(credential.secret.reveal())
        return self._admin_revoke(credential.secret.reveal())

    # -- with the leaked token ------------------------------------------------------------------------------

    def _call(
        self, method: str, path: str, token: str, what: str, body: bytes | None = None
    ) -> Response | ProviderResult:
        return send(self.http, method, self.api + path, what, auth=f"Bearer {token}", headers=JSON_HEADERS, body=body)

    def _identify(self, token: str) -> dict[str, Any] | ProviderResult:
        """The token's own record (``id``, ``active``, ``revoked``, ``user_id``), or the outcome that ends here."""
        answer = self._call("GET", "/personal_access_tokens/self", token, "identify")
        if isinstance(answer, ProviderResult):
            return answer
        with answer:
            if answer.status == 401:
                return ProviderResult(
                    Outcome.ALREADY_DONE, "identify: GitLab no longer accepts the token (revoked or expired)"
                )
            if answer.status != 200:
                return retry_or_failed(answer, "identify")
            data = read_json(answer)
        if data is None or not isinstance(data.get("id"), int):
            return ProviderResult(Outcome.FAILED, "identify: not a GitLab token record")
        if data.get("revoked") is True or data.get("active") is False:
            return ProviderResult(
                Outcome.ALREADY_DONE, "identify: the token is revoked or expired", reference=str(data["id"])
            )
        return data

    def _revoke(self, token: str) -> ProviderResult:
        info = self._identify(token)
        if isinstance(info, ProviderResult):
            return info
        reference = str(info["id"])
        answer = self._call("DELETE", "/personal_access_tokens/self", token, "revoke")
        if isinstance(answer, ProviderResult):
            return replace(answer, reference=reference)
        with answer:
            if answer.status in (200, 204):
                return ProviderResult(Outcome.DONE, f"revoked token {reference}", reference=reference)
            if answer.status == 401:
                return ProviderResult(
                    Outcome.ALREADY_DONE, "revoke: the token was revoked meanwhile", reference=reference
                )
            return replace(retry_or_failed(answer, "revoke"), reference=reference)

    def _owner(self, token: str) -> tuple[str, str] | ProviderResult:
        """("personal", "") or ("project" | "group", its id), from the bot user's name (``GET /user``)."""
        answer = self._call("GET", "/user", token, "identify owner")
        if isinstance(answer, ProviderResult):
            return answer
        with answer:
            if answer.status != 200:
                decided = retry_or_failed(answer, "identify owner")
                if decided.outcome is Outcome.RETRY:
                    return decided
                return ProviderResult(
                    Outcome.FAILED,
                    f"identify owner: HTTP {answer.status}: cannot tell a personal from a project or group token; "
                    "nothing rotated",
                )
            data = read_json(answer)
        username = data.get("username") if data else None
        if not isinstance(username, str):
            return ProviderResult(Outcome.FAILED, "identify owner: not a GitLab user record; nothing rotated")
        match = BOT_USER.match(username)
        return (match.group(1), match.group(2)) if match else ("personal", "")

    # -- rotate ---------------------------------------------------------------------------------------------

    def _rotate(self, token: str, credential: Credential) -> ProviderResult:
        if self.sink is None:
            return ProviderResult(
                Outcome.FAILED, "rotate: no sink is configured for the replacement token; nothing rotated"
            )
        info = self._identify(token)
        if isinstance(info, ProviderResult):
            if info.outcome is Outcome.ALREADY_DONE:
                return replace(info, detail=info.detail + "; not rotated (that would revoke its whole family)")
            return info
        owner = self._owner(token)
        if isinstance(owner, ProviderResult):
            return replace(owner, reference=str(info["id"]))
        return self._rotate_once(str(info["id"]), owner, token, credential)

    def _rotate_once(self, old: str, owner: tuple[str, str], token: str, credential: Credential) -> ProviderResult:
        kind, resource = owner
        base = "/personal_access_tokens" if kind == "personal" else f"/{kind}s/{resource}/access_tokens"
        today = datetime.fromtimestamp(self.clock(), timezone.utc).date()
        expires = (today + timedelta(days=self.expires_days)).isoformat()
        body = json.dumps({"expires_at": expires}).encode()
        answer = self._call("POST", f"{base}/self/rotate", token, "rotate", body)
        if not isinstance(answer, ProviderResult) and answer.status == 403 and self.ours:
            answer.close()  # the token may not rotate itself (scope): nothing happened, so ours rotates it by id
            url = f"{self.api}{base}/{old}/rotate"
            answer = send(self.http, "POST", url, "rotate", auth=f"Bearer {self.ours}", headers=JSON_HEADERS, body=body)
        if isinstance(answer, ProviderResult):
            return ProviderResult(Outcome.FAILED, f"{answer.detail}: {UNKNOWN} {old}", reference=old)
        with answer:
            status = answer.status
            data = read_json(answer) if status == 200 else None
            if status == 429:
                return replace(status_outcome(answer, "rotate") or ProviderResult(Outcome.RETRY), reference=old)
        if status >= 500:
            return ProviderResult(Outcome.FAILED, f"rotate: HTTP {status}: {UNKNOWN} {old}", reference=old)
        if status != 200:
            hint = " (the token may not rotate itself: it needs the api or self_rotate scope, or set $" + ENV + ")"
            return ProviderResult(
                Outcome.FAILED, f"rotate: HTTP {status}{hint if status == 403 else ''}; nothing rotated", reference=old
            )
        return self._hand_over(old, data or {}, credential)

    def _hand_over(self, old: str, data: Mapping[str, Any], credential: Credential) -> ProviderResult:
        new, new_id = data.get("token"), str(data.get("id", "?"))
        if not isinstance(new, str) or not new:
            return ProviderResult(
                Outcome.FAILED, f"rotate: GitLab answered without a new token: {UNKNOWN} {old}", reference=old
            )
        metadata = {"provider": self.name, "token_id": new_id, "previous_token_id": old}
        metadata["expires_at"] = str(data.get("expires_at") or "")
        assert self.sink is not None  # checked before anything was sent
        try:
            delivered = self.sink.deliver(credential, {"token": Secret(new)}, metadata)
        except SinkError as error:
            return ProviderResult(
                Outcome.FAILED,
                f"rotate: token {old} was replaced by {new_id}, but the sink did not take it ({error}); "
                f"{self._discard(new, new_id)}",
                reference=new_id,
            )
        return ProviderResult(
            Outcome.DONE, f"rotated token {old}: replacement {new_id} delivered ({delivered})", reference=new_id
        )

    def _discard(self, new: str, new_id: str) -> str:
        """The replacement nobody holds is revoked again (it would otherwise live on unseen)."""
        answer = self._call("DELETE", "/personal_access_tokens/self", new, "revoke replacement")
        if not isinstance(answer, ProviderResult):
            with answer:
                if answer.status in (200, 204):
                    return f"replacement {new_id} revoked again: create a new token in GitLab"
        return f"revoke replacement {new_id} in GitLab and create a new token"

    # -- the admin token API (self-managed, GitLab 17.7+) ---------------------------------------------------

    def _admin(self, method: str, body: bytes, what: str) -> Response | ProviderResult:
        url = f"{self.api}/admin/token"
        answer = send(self.no_redirects, method, url, what, auth=f"Bearer {self.ours}", headers=JSON_HEADERS, body=body)
        if isinstance(answer, ProviderResult):
            return answer
        if 200 <= answer.status < 300:
            return answer
        with answer:
            if answer.status == 404:
                return ProviderResult(
                    Outcome.ALREADY_DONE, f"{what}: GitLab does not know the token (revoked or reset)"
                )
            if answer.status == 422:
                return ProviderResult(
                    Outcome.FAILED, f"{what}: this instance's admin token API does not take this kind"
                )
            decided = status_outcome(answer, what)
        return decided or ProviderResult(Outcome.FAILED, f"{what}: unexpected answer HTTP {answer.status}")

    def _admin_revoke(self, token: str) -> ProviderResult:
        body = json.dumps({"token": token}).encode()
        info = self._admin("POST", body, "identify (admin)")
        if isinstance(info, ProviderResult):
            return info
        with info:
            data = read_json(info)
        reference = str(data.get("id", "")) if data else ""
        if data is None:
            return ProviderResult(Outcome.FAILED, "identify (admin): not a GitLab token record")
        if data.get("revoked") is True:
            return ProviderResult(Outcome.ALREADY_DONE, "identify (admin): the token is revoked", reference=reference)
        answer = self._admin("DELETE", body, "revoke (admin)")
        if isinstance(answer, ProviderResult):
            return replace(answer, reference=reference)
        answer.close()
        return ProviderResult(Outcome.DONE, f"revoked or reset token {reference or '(no id)'}", reference=reference)


def make(context: ProviderContext) -> GitLab:
    settings = context.settings
    url = str(settings.get("url") or DEFAULT_URL)
    if not url.startswith(("https://", "http://")):
        raise ConfigError(f"respond: providers.gitlab.url: not an http(s) URL: {url!r}")
    days = settings.get("expires_in_days", 30)
    if not isinstance(days, int) or isinstance(days, bool) or not 1 <= days <= 365:
        raise ConfigError("respond: providers.gitlab.expires_in_days: a whole number of days from 1 to 365")
    admin = bool(settings.get("admin", False))
    ours = context.credential(ENV) if admin else context.env.get(ENV, "")
    return GitLab(context, url=url, admin=admin, expires_days=days, ours=ours)
