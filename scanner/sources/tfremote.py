"""Remote Terraform state: where ``--tfstate URL`` reads state from (integrations.md 6.3). ``tfstate`` parses it.

    s3://BUCKET/KEY                  one object (boto3, the ``s3`` extra; the standard AWS credential chain and
                                     ``AWS_ENDPOINT_URL`` / ``AWS_ENDPOINT_URL_S3``)
    s3://BUCKET/PREFIX/  s3://BUCKET/  every ``*.tfstate`` under the prefix, and the workspaces' copies of them
                                     under ``env:/<workspace>/PREFIX/``
    ... with ``all_versions``        every version of each object (``ListObjectVersions``), oldest first
    http://…  https://…              Terraform's HTTP backend and GitLab-managed state: ``GET`` returns the state;
                                     Basic auth from ``TF_HTTP_USERNAME`` / ``TF_HTTP_PASSWORD``
    tfe://HOST/ORG/WORKSPACE         HCP Terraform / Terraform Enterprise: the workspace's current state version;
    tfe://HOST/ws-ID                 token from ``TF_TOKEN_<host>`` or ``TFE_TOKEN``; ``tfe+http://`` speaks plain
                                     HTTP, to a loopback host only (a test server)

Credentials come only from the environment and never appear in a message, a report or a location: a URL
holding a user name or password is refused. HTTP goes through :mod:`scanner.transport` (``RemoteOptions.http``:
proxies, CA bundle, timeouts, retries), which follows redirects itself and sends a token or password only to the
origin it belongs to (the signed download URL HCP Terraform redirects to gets no token).

Every failure is an ``InputError`` (exit 2) whose one line names the URL and the problem: unreachable backend,
credentials refused or missing (naming the variables tried), nothing at that location. When a location lists
several states (a prefix, versions), a state that cannot be read is a ``StateDocument`` with an ``error``, so the
scan reports it and goes on.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import quote, urljoin, urlsplit

from scanner.errors import InputError, UsageError
from scanner.httpsettings import origin, shown_url
from scanner.sources.base import is_state_path
from scanner.transport import HttpClient, HttpError, HttpSettings, NetworkError, ResponseTooLarge, TooManyRedirects

MAX_STATE_BYTES = 512 * 1024 * 1024
WORKSPACE_KEY_PREFIX = "env:"  # the S3 backend's default workspace_key_prefix
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]+)://")


@dataclass(frozen=True)
class RemoteOptions:
    all_versions: bool = False  # S3: every object version, not only the current one
    max_bytes: int = MAX_STATE_BYTES
    http: HttpSettings = field(default_factory=HttpSettings)  # timeouts (S3 too), retries, proxies, CA bundle


@dataclass(frozen=True)
class StateDocument:
    """One state read from a backend. ``shown`` is its location in findings; ``key`` is shared by the versions of
    one object. With ``error`` set, the state could not be read (``reason`` is the issue's reason)."""

    shown: str
    key: str
    data: bytes = b""
    error: str = ""
    reason: str = ""


class Remote(Protocol):
    """A remote location of state. ``listing`` is true when it names several states: then ``documents`` yields
    unreadable ones with an error instead of raising."""

    shown: str
    listing: bool

    def documents(self) -> Iterator[StateDocument]: ...


def is_remote(source: str) -> bool:
    """``scheme://…`` (a scheme of two or more letters, so ``C://x`` stays a path)."""
    return _SCHEME.match(source) is not None


def open_remote(source: str, options: RemoteOptions) -> Remote:
    match = _SCHEME.match(source)
    scheme = match.group(1).lower() if match else ""
    backend = BACKENDS.get(scheme)
    if backend is None:
        known = ", ".join(f"{name}://" for name in BACKENDS)
        raise UsageError(f"--tfstate {scheme}://…: unsupported state backend (supported: {known})")
    if options.all_versions and scheme != "s3":
        raise UsageError(f"--all-versions reads the versions of s3:// state; {scheme}:// has none to read")
    return backend(source, options)


# --- HTTP, through the transport ---


def display_url(url: str) -> str:
    """A URL fit for a message or a report: no user info, no query (a query may hold a token), no fragment."""
    return shown_url(url)


@dataclass(frozen=True)
class _Credentials:
    """Headers for one origin, and what to say when the backend refuses them (never the values)."""

    headers: dict[str, str]
    origin: tuple[str, str, int]
    refused: str


def http_get(
    client: HttpClient,
    url: str,
    shown: str,
    credentials: _Credentials,
    options: RemoteOptions,
    not_found: str,
    accept: str = "",
) -> bytes:
    """GET ``url``; 2xx → the body (at most ``options.max_bytes``). ``shown`` names the request in errors. The
    credentials go only to their own origin (a download URL elsewhere gets none), redirects included."""
    headers = {"Accept": accept} if accept else {}
    if origin(url) == credentials.origin:
        headers.update(credentials.headers)
    try:
        with client.get(url, headers=headers, max_size=options.max_bytes) as response:
            if not 200 <= response.status < 300:
                raise _status_error(shown, response.status, credentials.refused, not_found)
            return response.read()
    except ResponseTooLarge:
        raise InputError(f"{shown}: state over the {options.max_bytes}-byte cap") from None
    except TooManyRedirects:
        raise InputError(f"{shown}: more than {client.settings.max_redirects} redirects") from None
    except NetworkError as exc:
        raise InputError(f"{shown}: cannot reach the state backend: {exc.reason}") from None
    except HttpError as exc:  # a redirect to something that is not http(s)
        raise InputError(f"{shown}: redirected to {exc.url}: {exc.reason}") from None


def _status_error(shown: str, status: int, refused: str, not_found: str) -> InputError:
    if status in (401, 403):
        return InputError(f"{shown}: access denied (HTTP {status}): {refused}")
    if status == 404:
        return InputError(f"{shown}: {not_found} (HTTP 404)")
    return InputError(f"{shown}: unexpected HTTP {status} from the state backend")


# --- Terraform's HTTP backend (and GitLab-managed state, which is one) ---


class HttpBackend:
    listing = False

    def __init__(self, url: str, options: RemoteOptions) -> None:
        parts = urlsplit(url)
        self.shown = display_url(url)
        if parts.username is not None or parts.password is not None:
            raise UsageError(f"{self.shown}: credentials in the URL: set TF_HTTP_USERNAME and TF_HTTP_PASSWORD instead")
        if not parts.hostname:
            raise UsageError(f"{url}: no host in the URL")
        self.url = url
        self.options = options

    def documents(self) -> Iterator[StateDocument]:
        user = os.environ.get("TF_HTTP_USERNAME", "")
        password = os.environ.get("TF_HTTP_PASSWORD", "")
        headers: dict[str, str] = {}
        if user or password:
            pair = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
            headers["Authorization"] = f"Basic {pair}"
            refused = "Basic auth from TF_HTTP_USERNAME / TF_HTTP_PASSWORD was refused"
        else:
            refused = "no credentials sent: set TF_HTTP_USERNAME and TF_HTTP_PASSWORD"
        credentials = _Credentials(headers, origin(self.url), refused)
        client = HttpClient(self.options.http)
        data = http_get(client, self.url, self.shown, credentials, self.options, "no state at this address")
        if not data.strip():
            raise InputError(f"{self.shown}: the backend holds no state (empty response)")
        yield StateDocument(self.shown, self.shown, data)


# --- HCP Terraform / Terraform Enterprise ---

JSON_API = "application/vnd.api+json"


def _is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def token_variables(host: str) -> list[str]:
    """Terraform's name for a host's token: ``TF_TOKEN_`` + the host with dots as ``_`` and dashes as ``__``
    (a port is not part of it), then the tfe provider's ``TFE_TOKEN``."""
    return [f"TF_TOKEN_{host.replace('-', '__').replace('.', '_')}", "TFE_TOKEN"]


def _find_token(names: list[str]) -> tuple[str, str]:
    """(variable, token); Terraform matches the host part of ``TF_TOKEN_*`` names case-insensitively."""
    wanted = [name.upper() for name in names]
    for name in wanted:
        for variable, value in os.environ.items():
            if variable.upper() == name and value:
                return variable, value
    return "", ""


class TfeBackend:
    listing = False

    def __init__(self, url: str, options: RemoteOptions) -> None:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        host = parts.hostname or ""
        segments = [s for s in parts.path.split("/") if s]
        self.shown = f"{scheme}://{parts.netloc.rpartition('@')[2]}/{'/'.join(segments)}"
        if parts.username is not None or parts.password is not None:
            raise UsageError(f"{self.shown}: credentials in the URL: set {token_variables(host)[0]} instead")
        if not host:
            raise UsageError(f"{url}: no host in the URL")
        if scheme == "tfe+http" and not _is_loopback(host):
            raise UsageError(f"{self.shown}: tfe+http:// sends the token in clear: loopback hosts only (use tfe://)")
        if len(segments) == 1 and segments[0].startswith("ws-"):
            self.organization, self.workspace, self.workspace_id = "", "", segments[0]
        elif len(segments) == 2:
            self.organization, self.workspace, self.workspace_id = segments[0], segments[1], ""
        else:
            raise UsageError(f"{self.shown}: expected tfe://HOST/ORGANIZATION/WORKSPACE or tfe://HOST/ws-ID")
        self.base = f"{'http' if scheme == 'tfe+http' else 'https'}://{parts.netloc.rpartition('@')[2]}"
        self.host = host
        self.options = options

    def documents(self) -> Iterator[StateDocument]:
        names = token_variables(self.host)
        variable, token = _find_token(names)
        if not token:
            raise InputError(f"{self.shown}: no API token: set {names[0]} or {names[1]}")
        credentials = _Credentials(
            {"Authorization": f"Bearer {token}", "Content-Type": JSON_API},
            origin(self.base),
            f"the token from {variable} was refused",
        )
        client = HttpClient(self.options.http)
        workspace_id = self.workspace_id
        if not workspace_id:
            path = (
                f"/api/v2/organizations/{quote(self.organization, safe='')}/workspaces/{quote(self.workspace, safe='')}"
            )
            found = self._api(
                client, path, credentials, f"no workspace here, or the token from {variable} cannot see it"
            )
            workspace_id = str(_dig(found, "data", "id") or "")
            if not workspace_id:
                raise InputError(f"{self.shown}: unexpected API response: the workspace has no id")
        version = self._api(
            client,
            f"/api/v2/workspaces/{quote(workspace_id, safe='')}/current-state-version",
            credentials,
            "the workspace has no state yet, or the token cannot read it",
        )
        download = _dig(version, "data", "attributes", "hosted-state-download-url")
        if not isinstance(download, str) or not download:
            raise InputError(f"{self.shown}: the current state version has no hosted-state-download-url yet")
        url = urljoin(self.base + "/", download)
        data = http_get(client, url, self.shown, credentials, self.options, "state not found")
        yield StateDocument(self.shown, self.shown, data)

    def _api(self, client: HttpClient, path: str, credentials: _Credentials, not_found: str) -> Any:
        body = http_get(client, self.base + path, self.shown, credentials, self.options, not_found, accept=JSON_API)
        try:
            return json.loads(body)
        except ValueError:
            where = display_url(self.base + path)
            raise InputError(f"{self.shown}: unexpected API response: not JSON ({where})") from None


def _dig(doc: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(doc, dict):
            return None
        doc = doc.get(key)
    return doc


# --- S3 ---

_S3_DENIED = frozenset(
    {
        "AccessDenied",
        "AllAccessDisabled",
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        "ExpiredToken",
        "InvalidToken",
        "TokenRefreshRequired",
        "403",
        "401",
    }
)
_S3_CHAIN = (
    "AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, AWS_PROFILE and the shared config files, web identity, "
    "container and instance roles"
)


class S3Backend:
    def __init__(self, url: str, options: RemoteOptions) -> None:
        rest = url[len("s3://") :]
        self.bucket, _, self.key = rest.partition("/")
        if not self.bucket:
            raise UsageError(f"{url}: no bucket (s3://BUCKET/KEY or s3://BUCKET/PREFIX/)")
        self.shown = f"s3://{self.bucket}/{self.key}"
        self.prefix = self.key if not self.key or self.key.endswith("/") else ""
        self.listing = bool(self.prefix) or not self.key or options.all_versions
        self.options = options
        self.session: Any = None

    def documents(self) -> Iterator[StateDocument]:
        client = self._client()
        if not self.listing:
            yield StateDocument(self.shown, self.shown, self._get(client, self.key))
            return
        keys = [self.key] if self.key and not self.key.endswith("/") else self._state_keys(client)
        if not keys:
            raise InputError(f"{self.shown}: no *.tfstate object under this prefix")
        for key in keys:
            name = f"s3://{self.bucket}/{key}"
            versions = self._versions(client, key) if self.options.all_versions else [""]
            if not versions:
                raise InputError(f"{name}: no such key")
            for version in versions:
                shown = f"{name}?versionId={version}" if version else name
                try:
                    yield StateDocument(shown, name, self._get(client, key, version, shown))
                except InputError as exc:
                    yield StateDocument(shown, name, error=str(exc).removeprefix(f"{shown}: "), reason="unreadable")

    def _client(self) -> Any:
        try:
            import boto3
            from botocore.config import Config
        except ImportError:
            raise UsageError(f"{self.shown}: reading state from S3 needs boto3: pip install 'leakstop[s3]'") from None
        http = self.options.http
        config = Config(
            retries={"max_attempts": 3, "mode": "standard"},
            connect_timeout=http.connect_timeout,
            read_timeout=http.read_timeout,
        )
        try:
            self.session = boto3.Session()
            return self.session.client("s3", config=config)  # honours AWS_ENDPOINT_URL(_S3) itself
        except Exception as exc:
            raise self._error(exc, self.shown) from None

    def _get(self, client: Any, key: str, version: str = "", shown: str = "") -> bytes:
        shown = shown or self.shown
        extra = {"VersionId": version} if version else {}
        try:
            response = client.get_object(Bucket=self.bucket, Key=key, **extra)
            body = response["Body"]
            try:
                size = int(response.get("ContentLength") or 0)
                if size > self.options.max_bytes:
                    raise InputError(f"{shown}: state over the {self.options.max_bytes}-byte cap")
                data: bytes = body.read(self.options.max_bytes + 1)
            finally:
                body.close()
        except InputError:
            raise
        except Exception as exc:
            raise self._error(exc, shown) from None
        if len(data) > self.options.max_bytes:
            raise InputError(f"{shown}: state over the {self.options.max_bytes}-byte cap")
        return data

    def _state_keys(self, client: Any) -> list[str]:
        """``*.tfstate`` keys under the prefix, and under ``env:/<workspace>/<prefix>`` (other workspaces)."""
        keys = [k for k in self._list(client, self.prefix) if is_state_path(k)]
        workspaces = f"{WORKSPACE_KEY_PREFIX}/"
        if self.prefix and not self.prefix.startswith(workspaces):
            for key in self._list(client, workspaces):
                _workspace, _, tail = key[len(workspaces) :].partition("/")
                if tail.startswith(self.prefix) and is_state_path(key):
                    keys.append(key)
        return keys

    def _list(self, client: Any, prefix: str) -> Iterator[str]:
        """Keys under ``prefix``; with all versions, also keys whose current version is a delete marker (a
        deleted state's old versions still hold its secrets)."""
        versions = self.options.all_versions
        operation, entries = ("list_object_versions", "Versions") if versions else ("list_objects_v2", "Contents")
        last = None
        try:
            for page in client.get_paginator(operation).paginate(Bucket=self.bucket, Prefix=prefix):
                for item in page.get(entries) or []:
                    key = str(item["Key"])
                    if key != last:  # versions of a key come together
                        last = key
                        yield key
        except Exception as exc:
            raise self._error(exc, self.shown) from None

    def _versions(self, client: Any, key: str) -> list[str]:
        """Version ids of ``key``, oldest first (S3 lists each key's versions newest first); delete markers have
        no content and are left out."""
        found: list[str] = []
        try:
            for page in client.get_paginator("list_object_versions").paginate(Bucket=self.bucket, Prefix=key):
                found.extend(str(v["VersionId"]) for v in page.get("Versions") or [] if v.get("Key") == key)
        except Exception as exc:
            raise self._error(exc, f"s3://{self.bucket}/{key}") from None
        return found[::-1]

    def _error(self, exc: Exception, shown: str) -> Exception:
        """A boto3 failure as one line; the credentials, or anything signed with them, never in it."""
        from botocore.exceptions import (
            ClientError,
            ConnectTimeoutError,
            EndpointConnectionError,
            NoCredentialsError,
            PartialCredentialsError,
            ProfileNotFound,
            ReadTimeoutError,
        )

        if isinstance(exc, NoCredentialsError | PartialCredentialsError):
            return InputError(f"{shown}: no AWS credentials found (tried {_S3_CHAIN})")
        if isinstance(exc, ProfileNotFound):
            return InputError(f"{shown}: the AWS profile named by AWS_PROFILE does not exist")
        if isinstance(exc, EndpointConnectionError | ConnectTimeoutError | ReadTimeoutError):
            return InputError(f"{shown}: cannot reach S3: {type(exc).__name__}")
        if isinstance(exc, ClientError):
            error = exc.response.get("Error") or {}
            code = str(error.get("Code") or "")
            if code in _S3_DENIED:
                return InputError(f"{shown}: access denied ({code}): {self._credential_source()} were refused")
            if code == "NoSuchBucket":
                return InputError(f"{shown}: no such bucket: {self.bucket}")
            if code in ("NoSuchKey", "404", "NoSuchVersion"):
                return InputError(f"{shown}: no such key")
            return InputError(f"{shown}: S3 error {code or 'unknown'}")
        if isinstance(exc, InputError | UsageError):
            return exc
        return InputError(f"{shown}: S3 request failed: {type(exc).__name__}")

    def _credential_source(self) -> str:
        """Where the credentials came from, in botocore's words (``env``, ``shared-credentials-file``, ...)."""
        try:
            method = self.session.get_credentials().method if self.session is not None else ""
        except Exception:
            method = ""
        return f"the AWS credentials from {method}" if method else "the AWS credentials"


BACKENDS: dict[str, Callable[[str, RemoteOptions], Remote]] = {
    "s3": S3Backend,
    "http": HttpBackend,
    "https": HttpBackend,
    "tfe": TfeBackend,
    "tfe+http": TfeBackend,
}
