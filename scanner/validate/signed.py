"""Validators whose request is signed with the secret rather than carrying it: AWS (STS ``GetCallerIdentity``,
Signature Version 4) and Azure Storage (Shared Key, ``List Containers`` with one result). Neither the key nor
anything it could be recovered from leaves the machine, only the HMAC of this one request.

AWS needs the key id and the secret key: one is the finding, the other a finding of the other rule at the same
place. Azure needs the account name: the ``AccountName=`` of the connection string the key was found in.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from scanner.models import Validation
from scanner.transport import HttpError
from scanner.validate.base import Caller, Candidate, status_unknown, unknown_for

STS_HOST = "sts.amazonaws.com"
STS_BODY = b"Action=GetCallerIdentity&Version=2011-06-15"
FORM = "application/x-www-form-urlencoded; charset=utf-8"
AZURE_VERSION = "2021-08-06"
_KEY_ID = re.compile(r"^(?:AKIA|ASIA)[A-Z0-9]{16}$")
_ACCOUNT = re.compile(r"AccountName=([a-z0-9]{3,24})(?:;|$)", re.IGNORECASE | re.MULTILINE)
# The other half of an AWS key pair in the text around a finding (when it was no finding at the same place: added
# in an earlier commit, or allowed): a key id, or a secret key assigned to a name that says so.
_CONTEXT_KEY_ID = re.compile(r"\b((?:AKIA|ASIA)[A-Z0-9]{16})\b")
_CONTEXT_SECRET = re.compile(r"(?i)secret_?(?:access_?)?key[\"']?\s*[:=]\s*[\"']?([A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=])")


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def sigv4(key_id: str, secret: str, amz_date: str, body: bytes, region: str = "us-east-1") -> str:
    """The Authorization header of a POST / to STS (AWS General Reference, "Signature Version 4")."""
    day = amz_date[:8]
    headers = f"content-type:{FORM}\nhost:{STS_HOST}\nx-amz-date:{amz_date}\n"
    signed = "content-type;host;x-amz-date"
    canonical = f"POST\n/\n\n{headers}\n{signed}\n{hashlib.sha256(body).hexdigest()}"
    scope = f"{day}/{region}/sts/aws4_request"
    to_sign = f"AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{hashlib.sha256(canonical.encode()).hexdigest()}"
    key = _hmac(_hmac(_hmac(_hmac(f"AWS4{secret}".encode(), day), region), "sts"), "aws4_request")
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    return f"AWS4-HMAC-SHA256 Credential={key_id}/{scope}, SignedHeaders={signed}, Signature={signature}"


@dataclass(frozen=True)
class AwsSts:
    name: str = "aws-sts"
    provider: str = "aws"
    origins: tuple[str, ...] = (f"https://{STS_HOST}",)
    clock: Callable[[], float] = field(default=time.time, compare=False)
    needs_context: bool = True

    def check(self, candidate: Candidate, call: Caller) -> Validation:
        mine = candidate.secret
        if _KEY_ID.match(mine):
            others = _others(candidate, "aws-secret-access-key", _CONTEXT_SECRET)
            pairs = [(mine, s) for s in others]
        else:
            pairs = [(k, mine) for k in _others(candidate, "aws-access-key-id", _CONTEXT_KEY_ID)]
        result = Validation("unknown", f"{STS_HOST}: the other half of the key pair not found beside it")
        for key_id, secret in pairs:
            result = self._once(key_id, secret, call)
            if result.state == "live":
                break
        return result

    def _once(self, key_id: str, secret: str, call: Caller) -> Validation:
        amz_date = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(self.clock()))
        headers = {
            "Content-Type": FORM,
            "Host": STS_HOST,
            "X-Amz-Date": amz_date,
            "Authorization": sigv4(key_id, secret, amz_date, STS_BODY),
        }
        try:
            with call.send(self.origins[0], f"https://{STS_HOST}/", headers, STS_BODY, "POST") as response:
                status, text = response.status, response.read().decode("utf-8", "replace")
        except (HttpError, ValueError) as exc:
            return unknown_for(exc, STS_HOST)
        arn = re.search(r"<Arn>([^<]{1,300})</Arn>", text)
        if status == 200 and arn:
            return Validation("live", f"{STS_HOST} accepted it (HTTP 200)", arn[1])
        code = re.search(r"<Code>([A-Za-z]{1,60})</Code>", text)
        if status == 403 and code and code[1] in ("InvalidClientTokenId", "SignatureDoesNotMatch", "AccessDenied"):
            return Validation("invalid", f"{STS_HOST} refused it (HTTP 403: {code[1]})")
        return status_unknown(status, STS_HOST) if status != 200 else status_unknown_xml()


def _others(candidate: Candidate, rule_id: str, pattern: re.Pattern[str]) -> list[str]:
    """At most three values of the other half: the other rule's findings at the same place, else the context's."""
    found = list(candidate.companions.get(rule_id, ()))
    if not found:
        found = [m[1] for text in candidate.texts() for m in pattern.finditer(text)]
    return list(dict.fromkeys(v for v in found if v != candidate.secret))[:3]


def status_unknown_xml() -> Validation:
    return Validation("unknown", f"{STS_HOST}: unexpected answer (HTTP 200 without an Arn)")


def shared_key(account: str, key: str, date: str, query: dict[str, str]) -> str:
    """The Authorization header of a GET on the blob service root (Azure Storage "Authorize with Shared Key")."""
    resource = f"/{account}/" + "".join(f"\n{name}:{query[name]}" for name in sorted(query))
    to_sign = "GET\n" + "\n" * 11 + f"x-ms-date:{date}\nx-ms-version:{AZURE_VERSION}\n" + resource
    digest = hmac.new(base64.b64decode(key), to_sign.encode(), hashlib.sha256).digest()
    return f"SharedKey {account}:{base64.b64encode(digest).decode()}"


@dataclass(frozen=True)
class AzureStorage:
    name: str = "azure-storage"
    provider: str = "azure"
    origins: tuple[str, ...] = ("https://{account}.blob.core.windows.net",)
    clock: Callable[[], float] = field(default=time.time, compare=False)
    needs_context: bool = True

    def check(self, candidate: Candidate, call: Caller) -> Validation:
        host = "blob.core.windows.net"
        account = next((m for m in map(_ACCOUNT.search, candidate.texts()) if m is not None), None)
        if account is None:
            return Validation("unknown", f"{host}: the AccountName not found beside the key")
        name = account[1].lower()
        host = f"{name}.{host}"
        date = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(self.clock()))
        query = {"comp": "list", "maxresults": "1"}
        try:
            auth = shared_key(name, candidate.secret, date, query)
        except (binascii.Error, ValueError):
            return Validation("invalid", "the account key is not base64")
        headers = {"x-ms-date": date, "x-ms-version": AZURE_VERSION, "Authorization": auth}
        try:
            url = f"https://{host}/?comp=list&maxresults=1"
            with call.send(self.origins[0], url, headers) as response:
                status, text = response.status, response.read().decode("utf-8", "replace")
        except (HttpError, ValueError) as exc:
            return unknown_for(exc, host)
        if status == 200 and "<EnumerationResults" in text:
            return Validation("live", f"{host} accepted it (HTTP 200)", name)
        if status == 403 and "AuthenticationFailed" in text:
            return Validation("invalid", f"{host} refused it (HTTP 403: AuthenticationFailed)")
        return status_unknown(status, host) if status != 200 else Validation("unknown", f"{host}: unexpected answer")
