"""npm: revoke a leaked access token as the account that owns it, through the registry's token API (the one
npm-profile and ``npm token revoke`` use; docs/integrations.md 7.2).

Identify. ``GET /-/npm/v1/tokens?perPage=N&page=P`` lists the account's tokens page by page (until
``urls.next`` is empty); each has ``key``, its id (what the revoke takes), and ``token``, a redacted form of
the value: its first characters, or for ``npm_`` tokens the first and last ones around ``...``. No document
says how the key relates to the value (npm's CLI matches a full token through the redacted form; verdaccio's
keys are random), so an exact key match is not possible: the leaked value must fit the redacted form at both
ends, and exactly one listed token may fit it; when several do the result is FAILED "ambiguous" and nothing is
revoked. (``npm token revoke <token>`` then puts the value itself in the URL; we never do.)

Revoke. ``DELETE /-/npm/v1/tokens/token/{key}`` with our token ($LEAKSTOP_NPM_TOKEN, the owner's). An
account that requires two-factor authentication for writes answers 401 with ``WWW-Authenticate: OTP``; the
one-time code then comes from $LEAKSTOP_NPM_OTP (sent as the ``npm-otp`` header).

Not listed. The docs say the list shows the account's *active* tokens and a revoked token is removed at once, but
a live token of another account is not listed either, so absence alone proves nothing. An unlisted token is
therefore asked about with itself, by a read (``GET /-/whoami``): 401 means the registry no longer accepts it
(``ALREADY_DONE``: revoked, by us on an earlier attempt or by someone else, or expired); 200 for our own account
means it was revoked but is still accepted (npm documents a delay of up to an hour: ``ALREADY_DONE``); 200 for
another account means it is live and not ours to revoke (``FAILED``, naming it). ``probe: false`` never sends the
leaked token anywhere: an unlisted token is then ``FAILED`` "not owned by this account".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from scanner.respond.model import ActionKind, Credential, Outcome, ProviderResult
from scanner.respond.providers.apicall import Answer, call, failed, field_of, hint_matches, revoke_each, segment
from scanner.respond.providers.base import ProviderContext

GUIDE = "https://docs.npmjs.com/revoking-access-tokens"
RULES = frozenset({"npm-access-token"})
TOKEN_ENV = "LEAKSTOP_NPM_TOKEN"
OTP_ENV = "LEAKSTOP_NPM_OTP"
DEFAULT_REGISTRY = "https://registry.npmjs.org"
PER_PAGE = 100
MAX_PAGES = 100  # 10,000 tokens: far more than an account holds; a registry that never stops paging is broken


@dataclass(frozen=True)
class Listed:
    key: str  # the token's id
    redacted: str  # the registry's redacted form of its value


class NpmProvider:
    name = "npm"
    guide = GUIDE
    batch_size = 100  # one listing serves the whole batch

    def __init__(self, context: ProviderContext, token: str, otp: str) -> None:
        self.http = context.http
        self.registry = str(context.settings.get("registry") or DEFAULT_REGISTRY).rstrip("/")
        self.probe = bool(context.settings.get("probe", True))
        self.auth = f"Bearer {token}"
        self.otp = otp
        self.headers = {"Accept": "application/json", **({"npm-otp": otp} if otp else {})}

    def supports(self, kind: ActionKind, rule_id: str) -> bool:
        return kind is ActionKind.REVOKE and rule_id in RULES

    def act(self, kind: ActionKind, credentials: Sequence[Credential]) -> list[ProviderResult]:
        return revoke_each("npm", RULES, kind, credentials, self._list, self._revoke)

    def _list(self) -> list[Listed]:
        found: list[Listed] = []
        for page in range(MAX_PAGES):
            url = f"{self.registry}/-/npm/v1/tokens?perPage={PER_PAGE}&page={page}"
            data = self._call("GET", url, "npm: list tokens").data
            for item in field_of(data, "objects", list, "npm: list tokens"):
                key, redacted = (item.get("key"), item.get("token")) if isinstance(item, dict) else (None, None)
                if not isinstance(key, str) or not key or not isinstance(redacted, str):
                    raise failed("npm: list tokens: unexpected answer (a token without key or token)")
                found.append(Listed(key, redacted))
            urls = data.get("urls")
            if not (isinstance(urls, dict) and urls.get("next")):
                return found
        raise failed(f"npm: list tokens: still more after {MAX_PAGES} pages")

    def _revoke(self, tokens: list[Listed], value: str) -> ProviderResult:
        fits = [t for t in tokens if hint_matches(value, t.redacted)]
        if len(fits) > 1:
            raise failed(
                f"npm: ambiguous: {len(fits)} tokens of this account fit the leaked token's redacted form; "
                "nothing revoked, revoke it by hand"
            )
        if not fits:
            return self._unlisted(value)
        key = fits[0].key
        url = f"{self.registry}/-/npm/v1/tokens/token/{segment(key)}"
        answer = self._call("DELETE", url, "npm: revoke token", passthrough=(404,))
        if answer.status == 404:
            return ProviderResult(Outcome.ALREADY_DONE, "npm: token already gone", reference=key)
        return ProviderResult(Outcome.DONE, "npm: token revoked", reference=key)

    def _unlisted(self, value: str) -> ProviderResult:
        if not self.probe:
            raise failed("npm: not owned by this account (not in its token list; probe is off)")
        what = "npm: check the unlisted token"
        answer = call(self.http, "GET", f"{self.registry}/-/whoami", what, auth=f"Bearer {value}", passthrough=(401,))
        if answer.status == 401:
            return ProviderResult(
                Outcome.ALREADY_DONE, "npm: not in the account's token list and refused by the registry (revoked)"
            )
        user = _username(answer, what)
        if user == _username(self._call("GET", f"{self.registry}/-/whoami", "npm: who we are"), "npm: who we are"):
            return ProviderResult(
                Outcome.ALREADY_DONE, "npm: revoked (not listed); the registry may accept it for up to an hour more"
            )
        raise failed(f"npm: not owned by this account: the token is live and belongs to npm user {user!r}")

    def _call(self, method: str, url: str, what: str, passthrough: tuple[int, ...] = ()) -> Answer:
        answer = call(
            self.http, method, url, what, headers=self.headers, auth=self.auth, passthrough=(401, *passthrough)
        )
        if answer.status == 401:
            raise failed(self._unauthorized(answer, what))
        return answer

    def _unauthorized(self, answer: Answer, what: str) -> str:
        asked = {part.strip().lower() for part in answer.headers.get("www-authenticate", "").split(",")}
        if "otp" in asked and self.otp:
            return f"{what}: HTTP 401: npm refused the one-time password in ${OTP_ENV} (codes last 30 seconds)"
        if "otp" in asked:
            return f"{what}: HTTP 401: the account requires a one-time password: set ${OTP_ENV}"
        if "ipaddress" in asked:
            return f"{what}: HTTP 401: npm does not accept our token from this IP address"
        return f"{what}: HTTP 401: our credential was rejected"


def _username(answer: Answer, what: str) -> str:
    user = answer.data.get("username") if isinstance(answer.data, dict) else None
    if not isinstance(user, str) or not user:
        raise failed(f"{what}: unexpected answer (no username)")
    return user


def make(context: ProviderContext) -> NpmProvider:
    return NpmProvider(context, context.credential(TOKEN_ENV), context.env.get(OTP_ENV, ""))
