"""Our AWS credentials and clients for the leak response (the ``aws-iam`` provider, the ``secrets-manager``
sink), and what an AWS error means as an outcome.

Credentials come from the environment mapping the edge passes: ``AWS_ACCESS_KEY_ID`` and
``AWS_SECRET_ACCESS_KEY`` (+ ``AWS_SESSION_TOKEN``), else ``AWS_PROFILE``, else boto3's default chain (shared
files, container and instance roles). Clients never retry (the outbox owns retries) and use the transport's
timeouts and proxies. boto3 is imported here, on first use (the ``aws`` extra).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from scanner.errors import UsageError
from scanner.httpsettings import HttpSettings
from scanner.respond.model import Outcome, ProviderResult
from scanner.respond.providers.base import MissingCredential

OUR_CREDENTIALS = "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE, or run with a role)"

# Error codes that say "not now": throttling and the service's own failures.
RETRY_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "RequestLimitExceeded",
        "TooManyRequestsException",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "ServiceFailure",
        "InternalFailure",
        "InternalError",
        "InternalServiceError",
        "RequestTimeout",
        "RequestTimeoutException",
        "PriorRequestNotComplete",
    }
)
# Error codes that say our credentials were refused or may not do this.
DENIED_CODES = frozenset(
    {
        "AccessDenied",
        "AccessDeniedException",
        "InvalidClientTokenId",
        "SignatureDoesNotMatch",
        "IncompleteSignature",
        "ExpiredToken",
        "ExpiredTokenException",
        "UnrecognizedClientException",
        "MissingAuthenticationToken",
    }
)


def boto3_module(what: str) -> Any:
    try:
        import boto3
    except ImportError:  # pragma: no cover - the test extra installs boto3
        raise UsageError(f"{what} needs boto3: pip install 'leakstop[aws]'") from None
    return boto3


def aws_errors() -> tuple[type[Exception], ...]:
    """What a boto3 call raises when AWS (or the way to it) said no: every one of them is an outcome."""
    from botocore.exceptions import BotoCoreError, ClientError

    return (BotoCoreError, ClientError)


def our_session(env: Mapping[str, str], what: str, region: str = "") -> Any:
    """A boto3 session with our credentials, or ``MissingCredential`` naming the variables to set."""
    boto3 = boto3_module(what)
    from botocore.exceptions import BotoCoreError

    region = region or env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "us-east-1"
    key, secret = env.get("AWS_ACCESS_KEY_ID", ""), env.get("AWS_SECRET_ACCESS_KEY", "")
    if key and secret:
        token = env.get("AWS_SESSION_TOKEN") or None
        return boto3.Session(key, secret, token, region_name=region)
    profile = env.get("AWS_PROFILE") or None
    try:
        session = boto3.Session(profile_name=profile, region_name=region)
        found = session.get_credentials()
    except BotoCoreError as exc:  # a profile that is not there, a broken shared config file
        raise MissingCredential(f"{what} needs our AWS credentials: {type(exc).__name__}; {OUR_CREDENTIALS}") from None
    if found is None:
        raise MissingCredential(f"{what} needs our AWS credentials: {OUR_CREDENTIALS}")
    return session


def client(session: Any, service: str, endpoint_url: str, http: HttpSettings) -> Any:
    """A client that makes one attempt per call, with the transport's timeouts and proxies."""
    from botocore.config import Config

    proxies = {scheme: url for scheme, url in (("https", http.https_proxy), ("http", http.http_proxy)) if url}
    config = Config(
        retries={"total_max_attempts": 1, "mode": "standard"},
        connect_timeout=http.connect_timeout,
        read_timeout=http.read_timeout,
        proxies=proxies or None,
        user_agent_extra="leakstop",
    )
    return session.client(service, endpoint_url=endpoint_url or None, config=config)


def error_code(exc: Exception) -> str:
    """The AWS error code of a ``ClientError`` ("" for anything else)."""
    response = getattr(exc, "response", None)
    return str(response.get("Error", {}).get("Code", "")) if isinstance(response, dict) else ""


def error_outcome(exc: Exception, what: str) -> ProviderResult:
    """An AWS call that failed, as an outcome: throttling, 5xx and no connection are ``RETRY``; refused
    credentials of ours and anything else are ``FAILED``. The detail names the error code, never the message
    (AWS messages repeat the access key id)."""
    from botocore.exceptions import ClientError, ConnectionError, HTTPClientError, NoCredentialsError

    if isinstance(exc, ClientError):
        code = error_code(exc)
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
        if code in RETRY_CODES or status == 429 or status >= 500:
            return ProviderResult(Outcome.RETRY, f"{what}: AWS {code or status}: try again later")
        if code in DENIED_CODES:
            return ProviderResult(Outcome.FAILED, f"{what}: AWS {code}: our credentials were refused")
        return ProviderResult(Outcome.FAILED, f"{what}: AWS {code or status}")
    if isinstance(exc, ConnectionError | HTTPClientError):  # endpoint down, timeouts, connection reset
        return ProviderResult(Outcome.RETRY, f"{what}: AWS not reachable ({type(exc).__name__})")
    if isinstance(exc, NoCredentialsError):
        return ProviderResult(Outcome.FAILED, f"{what}: no AWS credentials of ours: {OUR_CREDENTIALS}")
    return ProviderResult(Outcome.FAILED, f"{what}: {type(exc).__name__}")
