"""Loopback fakes of the providers' identity endpoints, one per built-in validator (tests/test_validate_*.py).

Each fake answers as the provider documents: it checks the credential the way the provider authenticates (the
header, HTTP Basic, a signature) and answers with the provider's success or refusal body. A validator that sends
the credential the wrong way gets the refusal, so a "live" answer proves the request was right.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import string
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from httpserver import LoopbackServer, Reply, Request
from tokens import ALNUM, HEX, UPPER_DIGITS, TokenFactory

from scanner.validate.base import Candidate

Check = Callable[[Request, Candidate], bool]


def js(data: Any, status: int = 200, **headers: str) -> Reply:
    return Reply(status, json.dumps(data).encode(), {"Content-Type": "application/json", **headers})


def text(body: str, status: int, kind: str = "text/plain") -> Reply:
    return Reply(status, body.encode(), {"Content-Type": kind})


def bearer(request: Request, c: Candidate) -> bool:
    return request.headers.get("authorization") == f"Bearer {c.secret}"


def header(name: str, template: str = "{secret}") -> Check:
    return lambda request, c: request.headers.get(name) == template.format(secret=c.secret)


def basic(user: Callable[[Candidate], str], password: Callable[[Candidate], str]) -> Check:
    def check(request: Request, c: Candidate) -> bool:
        value = request.headers.get("authorization", "")
        if not value.startswith("Basic "):
            return False
        return base64.b64decode(value[6:]).decode() == f"{user(c)}:{password(c)}"

    return check


def secret(c: Candidate) -> str:
    return c.secret


@dataclass(frozen=True)
class Fake:
    method: str
    path: Callable[[Candidate], str]
    make: Callable[[TokenFactory], Candidate]
    accepts: Check
    live: Callable[[TokenFactory], Reply]
    invalid: Reply
    identity: str = ""  # what the live answer names, as the report shows it
    garbage_status: int = 200  # the status a broken upstream answers a garbage body with

    def route(self, server: LoopbackServer, candidate: Candidate, mode: str, tokens: TokenFactory) -> None:
        live = self.live(tokens)
        if mode == "live":
            answer: Any = lambda request: live if self.accepts(request, candidate) else self.invalid  # noqa: E731
        else:
            answer = {
                "invalid": self.invalid,
                "rate": js({"message": "rate limit exceeded"}, 429, **{"Retry-After": "1"}),
                "timeout": Reply(live.status, live.body, live.headers, delay=2.0),  # well past the 0.3 s read timeout
                "garbage": text("<html><body>502 Bad Gateway</body></html>", self.garbage_status, "text/html"),
            }[mode]
        server.route(self.method, self.path(candidate), answer)


def fixed(path: str) -> Callable[[Candidate], str]:
    return lambda c: path


def plain(make_secret: Callable[[TokenFactory], str], snippet: str = "") -> Callable[[TokenFactory], Candidate]:
    return lambda t: Candidate(make_secret(t), snippet)


# -- the signed ones: each fake checks the signature by the provider's documented scheme -------------------------


def aws_accepts(request: Request, c: Candidate) -> bool:
    """SigV4 checked with botocore's own signer (an implementation independent of leakstop's)."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    key_id, secret_key = c.secret, c.companions["aws-secret-access-key"][0]
    signed = AWSRequest(
        method="POST",
        url="https://sts.amazonaws.com/",
        data=request.body,
        headers={"Content-Type": request.headers["content-type"], "X-Amz-Date": request.headers["x-amz-date"]},
    )
    signer = SigV4Auth(Credentials(key_id, secret_key), "sts", "us-east-1")
    signed.context["timestamp"] = request.headers["x-amz-date"]  # add_auth's steps, at the request's own time
    signer._modify_request_before_signing(signed)
    signature = signer.signature(signer.string_to_sign(signed, signer.canonical_request(signed)), signed)
    signer._inject_signature_to_request(signed, signature)
    return request.headers.get("authorization") == signed.headers["Authorization"] and request.body.startswith(
        b"Action=GetCallerIdentity"
    )


def aws_candidate(t: TokenFactory) -> Candidate:
    key_id = "AKIA" + t.chars(UPPER_DIGITS, 16)
    return Candidate(
        key_id, "", {"aws-secret-access-key": (t.chars(ALNUM + "+/", 40),), "aws-access-key-id": (key_id,)}
    )


STS_LIVE = (
    '<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetCallerIdentityResult>'
    "<Arn>arn:aws:iam::123456789012:user/deploy</Arn><UserId>AIDAEXAMPLE</UserId><Account>123456789012</Account>"
    "</GetCallerIdentityResult></GetCallerIdentityResponse>"
)
STS_INVALID = (
    '<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type>'
    "<Code>InvalidClientTokenId</Code><Message>The security token included in the request is invalid.</Message>"
    "</Error></ErrorResponse>"
)


def azure_accepts(request: Request, c: Candidate) -> bool:
    """Shared Key, string-to-sign as the Azure Storage REST reference lays it out, line by line."""
    account = "acmestore"
    fields = ["GET", "", "", "", "", "", "", "", "", "", "", ""]
    canonical_headers = "".join(
        f"{name}:{request.headers[name]}\n" for name in sorted(h for h in request.headers if h.startswith("x-ms-"))
    )
    query = parse_qs(request.query)
    resource = f"/{account}/" + "".join(f"\n{k}:{','.join(sorted(v))}" for k, v in sorted(query.items()))
    to_sign = "\n".join(fields) + "\n" + canonical_headers + resource
    mac = hmac.new(base64.b64decode(c.secret), to_sign.encode(), hashlib.sha256).digest()
    return request.headers.get("authorization") == f"SharedKey {account}:{base64.b64encode(mac).decode()}"


def gcp_accepts(request: Request, c: Candidate) -> bool:
    """The JWT-bearer grant: the assertion verifies with the key's public half and names the account."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    form = parse_qs(request.body.decode())
    if form.get("grant_type") != ["urn:ietf:params:oauth:grant-type:jwt-bearer"]:
        return False
    head, claims, signature = form["assertion"][0].split(".")
    key = serialization.load_pem_private_key(c.secret.replace("\\n", "\n").encode(), None)
    assert isinstance(key, rsa.RSAPrivateKey)

    def unb64(part: str) -> bytes:
        return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))

    try:
        key.public_key().verify(unb64(signature), f"{head}.{claims}".encode(), padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        return False
    data = json.loads(unb64(claims))
    return data["iss"] == "deployer@acme-prod.iam.gserviceaccount.com" and data["aud"].endswith("/token")


def gcp_candidate(t: TokenFactory) -> Candidate:
    pem, _ = TokenFactory.rsa_key_and_certificate()
    return Candidate(pem.replace("\n", "\\n"), '"client_email": "deployer@acme-prod.iam.gserviceaccount.com",')


WEBHOOK_ID = "112233445566778899"


def discord_webhook(t: TokenFactory) -> Candidate:
    return Candidate(f"https://discord.com/api/webhooks/{WEBHOOK_ID}/{t.chars(ALNUM + '_-', 68)}")


def telegram(t: TokenFactory) -> str:
    return f"{t.chars(string.digits, 10)}:AA{t.chars(ALNUM + '_-', 33)}"


FAKES: dict[str, Fake] = {
    "github": Fake(
        "GET",
        fixed("/user"),
        plain(lambda t: t.github()),
        bearer,
        lambda t: js({"login": "octo-dev", "id": 7}),
        js({"message": "Bad credentials"}, 401),
        "octo-dev",
        200,
    ),
    "gitlab": Fake(
        "GET",
        fixed("/api/v4/personal_access_tokens/self"),
        plain(lambda t: t.gitlab_pat()),
        header("private-token"),
        lambda t: js({"id": 4, "name": "ci-bot", "scopes": ["api", "read_user"], "active": True}),
        js({"message": "401 Unauthorized"}, 401),
        "ci-bot, api+read_user",
    ),
    "slack": Fake(
        "POST",
        fixed("/api/auth.test"),
        plain(lambda t: t.slack_bot()),
        bearer,
        lambda t: js({"ok": True, "team": "Acme", "user": "deploybot", "team_id": "T1"}),
        js({"ok": False, "error": "invalid_auth"}),
        "Acme, deploybot",
    ),
    "stripe": Fake(
        "GET",
        fixed("/v1/account"),
        plain(lambda t: t.stripe_live()),
        bearer,
        lambda t: js({"id": "acct_1Acme", "object": "account"}),
        js({"error": {"type": "invalid_request_error", "message": "Invalid API Key provided"}}, 401),
        "acct_1Acme",
    ),
    "openai": Fake(
        "GET",
        fixed("/v1/models"),
        plain(lambda t: "sk-proj-" + t.chars(ALNUM, 100)),
        bearer,
        lambda t: js({"object": "list", "data": []}),
        js({"error": {"code": "invalid_api_key"}}, 401),
    ),
    "anthropic": Fake(
        "GET",
        fixed("/v1/models"),
        plain(lambda t: t.anthropic()),
        lambda r, c: r.headers.get("x-api-key") == c.secret and r.headers.get("anthropic-version") == "2023-06-01",
        lambda t: js({"data": [], "has_more": False}),
        js({"type": "error", "error": {"type": "authentication_error"}}, 401),
    ),
    "huggingface": Fake(
        "GET",
        fixed("/api/whoami-v2"),
        plain(lambda t: t.huggingface()),
        bearer,
        lambda t: js({"type": "user", "name": "hf-dev"}),
        js({"error": "Invalid credentials in Authorization header"}, 401),
        "hf-dev",
    ),
    "npm": Fake(
        "GET",
        fixed("/-/whoami"),
        plain(lambda t: t.npm()),
        bearer,
        lambda t: js({"username": "npm-dev"}),
        js({"error": "You must be logged in"}, 401),
        "npm-dev",
    ),
    "pypi": Fake(
        "POST",
        fixed("/legacy/"),
        plain(lambda t: "pypi-AgEIcHlwaS5vcmc" + t.chars(ALNUM + "_-", 80)),
        basic(lambda c: "__token__", secret),
        lambda t: text("400 Invalid value for name. Error: This field is required.", 400),
        text("403 Invalid or non-existent authentication information. See https://pypi.org/help/#invalid-auth", 403),
        "",
        502,
    ),
    "sendgrid": Fake(
        "GET",
        fixed("/v3/scopes"),
        plain(lambda t: f"SG.{t.chars(ALNUM + '_-', 22)}.{t.chars(ALNUM + '_-', 43)}"),
        bearer,
        lambda t: js({"scopes": ["mail.send"]}),
        js({"errors": [{"message": "authorization required"}]}, 401),
    ),
    "twilio": Fake(
        "GET",
        fixed("/2010-04-01/Accounts.json"),
        lambda t: Candidate(t.chars(ALNUM, 32), "", {"twilio-api-key-sid": ("SK" + t.chars(HEX, 32),)}),
        basic(lambda c: c.companions["twilio-api-key-sid"][0], secret),
        lambda t: js({"accounts": [{"sid": "AC1", "friendly_name": "Acme main"}]}),
        js({"code": 20003, "message": "Authenticate", "status": 401}, 401),
        "Acme main",
    ),
    "mailgun": Fake(
        "GET",
        fixed("/v3/domains"),
        plain(lambda t: "key-" + t.chars(HEX, 32)),
        basic(lambda c: "api", secret),
        lambda t: js({"total_count": 1, "items": []}),
        text("Forbidden", 401),
    ),
    "mailchimp": Fake(
        "GET",
        fixed("/3.0/"),
        plain(lambda t: t.chars(HEX, 32) + "-us6"),
        basic(lambda c: "leakstop", secret),
        lambda t: js({"account_id": "a1", "account_name": "Acme Mail"}),
        js({"title": "API Key Invalid", "status": 401}, 401),
        "Acme Mail",
    ),
    "datadog": Fake(
        "GET",
        fixed("/api/v1/validate"),
        plain(lambda t: t.chars(HEX, 32)),
        header("dd-api-key"),
        lambda t: js({"valid": True}),
        js({"errors": ["Forbidden"]}, 403),
    ),
    "heroku": Fake(
        "GET",
        fixed("/account"),
        plain(lambda t: "HRKU-" + t.chars(ALNUM + "_-", 60)),
        lambda r, c: bearer(r, c) and "version=3" in r.headers.get("accept", ""),
        lambda t: js({"email": "jane.doe@example.com", "id": "u1"}),
        js({"id": "unauthorized", "message": "Invalid credentials provided."}, 401),
        "j…@example.com",
    ),
    "digitalocean": Fake(
        "GET",
        fixed("/v2/account"),
        plain(lambda t: "dop_v1_" + t.chars(HEX, 64)),
        bearer,
        lambda t: js({"account": {"email": "ops@example.com", "status": "active"}}),
        js({"id": "Unauthorized", "message": "Unable to authenticate you"}, 401),
        "o…@example.com",
    ),
    "shopify": Fake(
        "GET",
        fixed("/admin/oauth/access_scopes.json"),
        plain(
            lambda t: "shpat_" + t.chars(HEX, 32),
            'SHOP_URL="https://acme-store.myshopify.com" SHOPIFY_TOKEN=shpat_…(38)',
        ),
        header("x-shopify-access-token"),
        lambda t: js({"access_scopes": [{"handle": "read_products"}]}),
        js({"errors": "[API] Invalid API key or access token"}, 401),
        "read_products",
    ),
    "discord-bot": Fake(
        "GET",
        fixed("/api/v10/users/@me"),
        plain(lambda t: "MT" + t.chars(ALNUM, 24) + "." + t.chars(ALNUM, 6) + "." + t.chars(ALNUM, 38)),
        header("authorization", "Bot {secret}"),
        lambda t: js({"id": "1", "username": "deploy-bot", "bot": True}),
        js({"message": "401: Unauthorized", "code": 0}, 401),
        "deploy-bot",
    ),
    "discord-webhook": Fake(
        "GET",
        lambda c: "/api/v10/webhooks/" + c.secret.split("/webhooks/")[1],
        discord_webhook,
        lambda r, c: True,
        lambda t: js({"type": 1, "id": WEBHOOK_ID, "name": "deploys"}),
        js({"message": "Unknown Webhook", "code": 10015}, 404),
        "deploys",
    ),
    "telegram": Fake(
        "GET",
        lambda c: f"/bot{c.secret}/getMe",
        plain(telegram),
        lambda r, c: True,
        lambda t: js({"ok": True, "result": {"id": 1, "is_bot": True, "username": "acme_bot"}}),
        js({"ok": False, "error_code": 401, "description": "Unauthorized"}, 401),
        "acme_bot",
    ),
    "atlassian": Fake(
        "GET",
        fixed("/rest/api/3/myself"),
        plain(
            lambda t: "ATATT3" + t.chars(ALNUM, 180),
            "JIRA_URL=https://acme.atlassian.net JIRA_USER=jane@acme.example JIRA_TOKEN=ATAT…(186)",
        ),
        basic(lambda c: "jane@acme.example", secret),
        lambda t: js({"accountId": "5b10", "displayName": "Jane Doe"}),
        text("Client must be authenticated to access this resource.", 401),
        "Jane Doe",
    ),
    "postman": Fake(
        "GET",
        fixed("/me"),
        plain(lambda t: f"PMAK-{t.chars(HEX, 24)}-{t.chars(HEX, 34)}"),
        header("x-api-key"),
        lambda t: js({"user": {"id": 1, "username": "pm-dev"}}),
        js({"error": {"name": "AuthenticationError", "message": "Invalid API Key."}}, 401),
        "pm-dev",
    ),
    "dockerhub": Fake(
        "POST",
        fixed("/v2/users/login"),
        plain(lambda t: "dckr_pat_" + t.chars(ALNUM + "_-", 27), "DOCKERHUB_USERNAME=acmeci DOCKERHUB_TOKEN=dckr…(36)"),
        lambda r, c: json.loads(r.body) == {"username": "acmeci", "password": c.secret},
        lambda t: js({"token": t.chars(ALNUM, 40)}),
        js({"detail": "Incorrect authentication credentials"}, 401),
    ),
    "aws-sts": Fake(
        "POST",
        fixed("/"),
        aws_candidate,
        aws_accepts,
        lambda t: text(STS_LIVE, 200, "text/xml"),
        text(STS_INVALID, 403, "text/xml"),
        "arn:aws:iam::123456789012:user/deploy",
    ),
    "azure-storage": Fake(
        "GET",
        fixed("/"),
        lambda t: Candidate(
            base64.b64encode(t.rng.randbytes(64)).decode(),
            "DefaultEndpointsProtocol=https;AccountName=acmestore;AccountKey=[redacted]",
        ),
        azure_accepts,
        lambda t: text(
            '<?xml version="1.0"?><EnumerationResults ServiceEndpoint="x"><Containers/></EnumerationResults>',
            200,
            "application/xml",
        ),
        text('<?xml version="1.0"?><Error><Code>AuthenticationFailed</Code></Error>', 403, "application/xml"),
        "acmestore",
    ),
    "gcp-service-account": Fake(
        "POST",
        fixed("/token"),
        gcp_candidate,
        gcp_accepts,
        lambda t: js({"access_token": t.chars(ALNUM, 40), "expires_in": 3599, "token_type": "Bearer"}),
        js({"error": "invalid_grant", "error_description": "Invalid JWT Signature."}, 400),
        "d…@acme-prod.iam.gserviceaccount.com",
    ),
}
