"""Google Cloud service-account keys: the OAuth 2.0 JWT-bearer token exchange (Google Identity, "Using OAuth 2.0 for
Server to Server Applications"). A JWT signed with the key asks ``oauth2.googleapis.com/token`` for an access
token: 200 means the key is live (the token is discarded), 400 ``invalid_grant`` means Google no longer knows it.

The assertion names the account (``iss``): the ``client_email`` beside the key in the key file. The token URI is
Google's, never the key file's ``token_uri``.
"""

from __future__ import annotations

import base64
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlencode

from scanner.models import Validation
from scanner.transport import HttpError
from scanner.validate.base import Caller, Candidate, shown_identity, status_unknown, unknown_for

HOST = "oauth2.googleapis.com"
TOKEN_URL = f"https://{HOST}/token"
SCOPE = "https://www.googleapis.com/auth/cloud-platform.read-only"
_EMAIL = re.compile(r'"client_email"\s*:\s*"([a-z0-9-]{1,63}@[a-z0-9.-]{1,100}\.gserviceaccount\.com)"')


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def assertion(pem: str, email: str, now: float) -> str:
    """An RS256 JWT for the token exchange; ValueError when the PEM is not an RSA private key."""
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    key = serialization.load_pem_private_key(pem.encode(), password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("not an RSA key")
    header = _b64(json.dumps({"alg": "RS256", "typ": "JWT"}).encode())
    claims = {"iss": email, "scope": SCOPE, "aud": TOKEN_URL, "iat": int(now), "exp": int(now) + 600}
    signing_input = f"{header}.{_b64(json.dumps(claims).encode())}"
    signature = key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input}.{_b64(signature)}"


@dataclass(frozen=True)
class GcpServiceAccount:
    name: str = "gcp-service-account"
    provider: str = "gcp"
    origins: tuple[str, ...] = (f"https://{HOST}",)
    clock: Callable[[], float] = field(default=time.time, compare=False)
    needs_context: bool = True  # gcloud writes the key file pretty-printed: client_email is on its own line

    def check(self, candidate: Candidate, call: Caller) -> Validation:
        email = next((m for m in map(_EMAIL.search, candidate.texts()) if m is not None), None)
        if email is None:
            return Validation("unknown", f"{HOST}: the client_email not found beside the key")
        pem = candidate.secret.replace("\\n", "\n")
        try:
            jwt = assertion(pem, email[1], self.clock())
        except (ValueError, TypeError):
            return Validation("invalid", "not a usable RSA private key")
        body = urlencode({"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer", "assertion": jwt}).encode()
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        try:
            with call.send(self.origins[0], TOKEN_URL, headers, body, "POST") as response:
                status, raw = response.status, response.read()
        except (HttpError, ValueError) as exc:
            return unknown_for(exc, HOST)
        try:
            data = json.loads(raw)
        except ValueError:
            data = None
        if status == 200 and isinstance(data, dict) and "access_token" in data:
            return Validation("live", f"{HOST} issued a token (HTTP 200)", shown_identity([email[1]]))
        if status in (400, 401) and isinstance(data, dict) and data.get("error") in ("invalid_grant", "invalid_client"):
            return Validation("invalid", f"{HOST} refused it (HTTP {status}: {data['error']})")
        return status_unknown(status, HOST)
