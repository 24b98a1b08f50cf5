"""Google Cloud: disable (or delete) a leaked service-account key through the IAM API (docs/integrations.md
7.2; cloud.google.com IAM REST ``projects.serviceAccounts.keys``).

Identify. The finding is the PEM private key of a JSON key file; the file's ``private_key_id`` and
``client_email`` are not rule matches, so the key is found by what it is: the public key derived from the
leaked private key (``cryptography``) is compared with the public key of every user-managed key of the
configured service accounts (``service_accounts``), or of every service account of ``project``
(``GET /v1/projects/{P}/serviceAccounts``, paged by ``nextPageToken``): ``GET …/keys?keyTypes=USER_MANAGED``
lists them, ``GET …/keys/{K}?publicKeyType=TYPE_X509_PEM_FILE`` gives each one's certificate. An exact
match, never a guess: a key that is not there is ``FAILED`` (deleted already, or another project's).

Revoke. ``POST …/keys/{K}:disable`` (``revoke: disable``, the default: reversible with ``:enable``) or
``DELETE …/keys/{K}`` (``revoke: delete``). A key listed as disabled, or a 404 from the revoke, is
``ALREADY_DONE``. Without a project (``projects/-/``) Google answers 403 also for a service account or key
that does not exist; the detail says so.

Our credential: an OAuth access token with the ``cloud-platform`` or ``iam`` scope (``gcloud auth
print-access-token``) in $LEAKSTOP_GCP_ACCESS_TOKEN, or the variable ``token_env`` names.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from scanner.errors import ConfigError
from scanner.respond.model import ActionKind, Credential, Outcome, ProviderResult
from scanner.respond.providers.apicall import Answer, call, failed, field_of, revoke_each
from scanner.respond.providers.base import ProviderContext

GUIDE = "https://cloud.google.com/iam/docs/keys-disable-enable"
RULES = frozenset({"gcp-service-account-private-key"})
TOKEN_ENV = "LEAKSTOP_GCP_ACCESS_TOKEN"
DEFAULT_API = "https://iam.googleapis.com"
MAX_PAGES = 100  # 100 pages of 100 service accounts
_SEGMENT = r"[A-Za-z0-9@._:+-]+"  # project ids, service-account emails or unique ids, key ids
ACCOUNT_NAME = re.compile(rf"projects/{_SEGMENT}/serviceAccounts/{_SEGMENT}")
KEY_NAME = re.compile(rf"projects/{_SEGMENT}/serviceAccounts/{_SEGMENT}/keys/{_SEGMENT}")


@dataclass(frozen=True)
class AccountKey:
    name: str  # projects/{P}/serviceAccounts/{EMAIL}/keys/{KEY_ID}
    disabled: bool


class GcpServiceAccountProvider:
    name = "gcp-service-account"
    guide = GUIDE
    batch_size = 50  # one enumeration of the keys serves the whole batch

    def __init__(self, context: ProviderContext, token: str) -> None:
        settings = context.settings
        self.http = context.http
        self.api = str(settings.get("api_url") or DEFAULT_API).rstrip("/")
        self.project = str(settings.get("project") or "")
        self.accounts = [str(email) for email in settings.get("service_accounts") or ()]
        self.mode = str(settings.get("revoke") or "disable")
        self.auth = f"Bearer {token}"
        self.scope = f"project {self.project}" if self.project and not self.accounts else "the service accounts named"

    def supports(self, kind: ActionKind, rule_id: str) -> bool:
        return kind is ActionKind.REVOKE and rule_id in RULES

    def act(self, kind: ActionKind, credentials: Sequence[Credential]) -> list[ProviderResult]:
        return revoke_each(self.name, RULES, kind, credentials, self._index, self._revoke)

    # -- identify ------------------------------------------------------------------------------------------

    def _index(self) -> dict[bytes, AccountKey]:
        """Every user-managed key of the service accounts in scope, by its public key (DER SubjectPublicKeyInfo)."""
        index: dict[bytes, AccountKey] = {}
        for account in self._account_names():
            what = "gcp: list keys"
            data = self._call("GET", f"{account}/keys?keyTypes=USER_MANAGED", what).data
            for item in _items(data, "keys", what):
                name = _name(item, KEY_NAME, what)
                index[self._public_key(name)] = AccountKey(name, item.get("disabled") is True)
        return index

    def _account_names(self) -> Iterator[str]:
        if self.accounts:
            yield from (f"projects/{self.project or '-'}/serviceAccounts/{email}" for email in self.accounts)
            return
        what = "gcp: list service accounts"
        query = {"pageSize": "100"}
        for _ in range(MAX_PAGES):
            data = self._call("GET", f"projects/{self.project}/serviceAccounts?{urlencode(query)}", what).data
            yield from (_name(item, ACCOUNT_NAME, what) for item in _items(data, "accounts", what))
            token = data.get("nextPageToken") if isinstance(data, dict) else None
            if not token:
                return
            query["pageToken"] = str(token)
        raise failed(f"gcp: list service accounts: still more after {MAX_PAGES} pages")

    def _public_key(self, name: str) -> bytes:
        what = "gcp: get a key's public key"
        data = self._call("GET", f"{name}?publicKeyType=TYPE_X509_PEM_FILE", what).data
        try:
            return certificate_public_key(base64.b64decode(field_of(data, "publicKeyData", str, what), validate=True))
        except (ValueError, binascii.Error):
            raise failed(f"{what}: unexpected answer (publicKeyData is not a PEM certificate)") from None

    # -- revoke --------------------------------------------------------------------------------------------

    def _revoke(self, index: dict[bytes, AccountKey], value: str) -> ProviderResult:
        key = index.get(private_to_public_key(value))
        if key is None:
            raise failed(
                f"gcp: no user-managed key of {self.scope} matches the leaked private key "
                "(deleted already, or another project's)"
            )
        if self.mode == "disable" and key.disabled:
            return ProviderResult(Outcome.ALREADY_DONE, "gcp: key already disabled", reference=key.name)
        if self.mode == "disable":
            answer = self._call("POST", f"{key.name}:disable", "gcp: disable key", payload={}, passthrough=(404,))
        else:
            answer = self._call("DELETE", key.name, "gcp: delete key", passthrough=(404,))
        if answer.status == 404:
            return ProviderResult(Outcome.ALREADY_DONE, "gcp: key already deleted", reference=key.name)
        return ProviderResult(Outcome.DONE, f"gcp: key {self.mode}d", reference=key.name)

    def _call(
        self, method: str, path: str, what: str, payload: Any = None, passthrough: tuple[int, ...] = ()
    ) -> Answer:
        wildcard = path.startswith("projects/-/")
        url = f"{self.api}/v1/{path}"  # names are checked (KEY_NAME, ACCOUNT_NAME; the schema for settings)
        answer = call(
            self.http,
            method,
            url,
            what,
            auth=self.auth,
            payload=payload,
            passthrough=(*passthrough, 403) if wildcard else passthrough,
        )
        if answer.status == 403:
            raise failed(
                f"{what}: HTTP 403: our credential was rejected, or (projects/-/: no project set) the service "
                "account does not exist"
            )
        return answer


def _items(data: Any, name: str, what: str) -> list[Any]:
    """A list field of a Google answer; Google leaves an empty list out of the JSON altogether."""
    if not isinstance(data, dict):
        raise failed(f"{what}: unexpected answer (not an object)")
    return field_of(data, name, list, what) if name in data else []


def _name(item: Any, pattern: re.Pattern[str], what: str) -> str:
    """A resource name from Google's answer, checked before it becomes part of a URL of ours."""
    name = item.get("name") if isinstance(item, dict) else None
    if not isinstance(name, str) or not pattern.fullmatch(name) or "/../" in f"/{name}/":
        raise failed(f"{what}: unexpected answer (a resource name that is not one)")
    return name


def private_to_public_key(value: str) -> bytes:
    """The DER SubjectPublicKeyInfo of the PEM private key ``value`` (as found in a JSON key file, where its
    line breaks are the two characters ``\\n``). The key's own parse error is not shown: it may quote it."""
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives import serialization

    try:
        key = serialization.load_pem_private_key(value.replace("\\n", "\n").encode(), password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise failed("gcp: the leaked value is not a PEM private key that loads; nothing attempted") from None
    return _spki(key.public_key())


def certificate_public_key(pem: bytes) -> bytes:
    """The DER SubjectPublicKeyInfo of a PEM certificate (raises ``ValueError`` when it is not one)."""
    from cryptography import x509

    return _spki(x509.load_pem_x509_certificate(pem).public_key())


def _spki(public_key: Any) -> bytes:
    from cryptography.hazmat.primitives import serialization

    der: bytes = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return der


def make(context: ProviderContext) -> GcpServiceAccountProvider:
    settings = context.settings
    where = "respond.providers.gcp-service-account"
    if not settings.get("project") and not settings.get("service_accounts"):
        raise ConfigError(f"{where}: set project (every service account of it) or service_accounts (their emails)")
    if str(settings.get("revoke") or "disable") not in ("disable", "delete"):
        raise ConfigError(f"{where}.revoke: must be disable or delete")
    token_env = str(settings.get("token_env") or TOKEN_ENV)
    return GcpServiceAccountProvider(context, context.credential(token_env))
