"""Pull an image from a registry (distribution-spec HTTP API v2 with Docker token auth) for the image scanner.

``leakstop scan --image REF`` reads the image straight from the registry (integrations.md 5.5): the probe
``GET /v2/``, the manifest by tag or digest (an index picks ``--platform``), then the config and every layer blob,
each streamed into the same layer reader as a tarball's (:mod:`scanner.sources.image`): nothing is written to disk,
every blob is hashed as it passes and a digest that does not match becomes an issue.

Auth: anonymous first; on a 401, the ``WWW-Authenticate`` challenge says what to do. ``Bearer`` → a token from
its realm (with Basic credentials when there are any, an identity token as an OAuth2 refresh token, else
anonymous); ``Basic`` → the credentials, sent to the registry. Credentials come from the docker config and Docker
credential helpers, as docker and skopeo find them (:mod:`scanner.sources.dockerauth`).

HTTP goes through :mod:`scanner.transport` (one pooled client per pull, so one kept-alive connection serves the
probe, the manifests and every blob; retries; proxies and a CA bundle from ``RegistryOptions.http``). HTTPS with
certificate checks, except for loopback hosts and hosts given with ``--insecure-registry`` (HTTPS is tried first,
then plain HTTP, as Docker does for insecure registries). Redirects are followed (blobs often live in object
storage) but ``Authorization`` only ever goes to the origin (scheme, host, port) the request started at: a redirect
to any other origin drops it for good. That is stricter than Go's ``net/http`` (which keeps it for the same host
name on another port, and for subdomains) and matches moby's registry client.

Errors (all :class:`~scanner.errors.InputError`, exit 2, one line, never a credential): the registry cannot be
reached; authentication failed (naming what was tried: anonymous, a token from realm X, Basic credentials from
file Y); the name, tag or digest is unknown; no manifest for the platform (listing those there are). A failure
while a blob streams is an ``OSError`` the image scanner records as an issue on that layer.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import re
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from scanner.errors import InputError
from scanner.httpsettings import origin
from scanner.sources.dockerauth import DOCKER_HUB, Credentials, docker_config_path, load_credentials
from scanner.sources.imageref import (
    DIGEST,
    Reference,
    available_platforms,
    looks_like_path,
    names_registry,
    parse_platform,
    parse_reference,
    select_platform,
)
from scanner.transport import HttpClient, HttpError, HttpSettings, Response, ResponseTooLarge, shown_url

__all__ = [
    "Credentials",
    "Pulled",
    "Reference",
    "RegistryOptions",
    "available_platforms",
    "load_credentials",
    "looks_like_path",
    "names_registry",
    "parse_platform",
    "parse_reference",
    "pull",
    "select_platform",
]

DOCKER_HUB_ENDPOINT = "registry-1.docker.io"  # where Docker Hub's API lives (a test points it elsewhere)
MANIFEST_TYPES = (
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
)
INDEX_TYPES = MANIFEST_TYPES[:2]
MAX_INDEX_DEPTH = 2
MAX_ERROR_BODY = 64 * 1024

_CHALLENGE_PARAM = re.compile(r'(\w+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))')


@dataclass(frozen=True)
class RegistryOptions:
    platform: str = "linux/amd64"  # os/arch[/variant], for an index
    insecure: tuple[str, ...] = ()  # host[:port] allowed over plain HTTP (loopback always is)
    max_metadata_size: int = 16 * 1024 * 1024
    http: HttpSettings = field(default_factory=HttpSettings)  # timeouts, retries, proxies, CA bundle, blob cap


def _is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class RegistryClient:
    """One image's manifests and blobs over one pooled HTTP client: the scheme, auth, and the registry's errors."""

    def __init__(
        self, ref: Reference, options: RegistryOptions, shown: str = "", config_path: Path | None = None
    ) -> None:
        self.ref = ref
        self.shown = shown or str(ref)  # the reference as the user gave it, for messages
        self.options = options
        self.config_path = config_path or docker_config_path()
        self.host = DOCKER_HUB_ENDPOINT if ref.registry == DOCKER_HUB else ref.registry
        self.base = ""  # scheme://host[:port], known after the probe
        self.authorization = ""  # the header value sent to the registry's origin
        self.tried: list[str] = ["anonymous"]
        self._worked = False  # the current Authorization got a response other than 401: a new 401 means it expired
        self._credentials: tuple[Credentials | None, str] | None = None
        self.http = HttpClient(options.http, allow_plain_http=self._plain_http_allowed)

    def _plain_http_allowed(self, host: str, port: int) -> bool:
        insecure = {h.lower() for h in self.options.insecure}
        netloc = f"[{host}]" if ":" in host else host
        return _is_loopback(host) or f"{netloc}:{port}".lower() in insecure or (port == 80 and host.lower() in insecure)

    def _open(
        self, url: str, accept: str, authorization: str = "", max_size: int | None = None, retry: bool | None = None
    ) -> Response:
        """GET ``url`` (redirects followed; ``authorization`` only for the origin ``url`` starts at)."""
        headers = {"Accept": accept}
        return self.http.get(url, headers=headers, auth=authorization, max_size=max_size, decode=False, retry=retry)

    # -- probe and auth -----------------------------------------------------------------------------------

    def probe(self) -> None:
        """``GET /v2/``: picks the scheme, checks the server speaks the API, and answers a challenge up front."""
        schemes = ["https"]
        host, _, port = self.host.rpartition(":") if self.host.count(":") == 1 else (self.host, "", "")
        if self._plain_http_allowed(host.strip("[]"), int(port) if port.isdigit() else 80):
            schemes.append("http")  # Docker's insecure-registry fallback: HTTPS first, then plain HTTP
        failures = []
        for scheme in schemes:
            base = f"{scheme}://{self.host}"
            try:
                # With a plain-HTTP fallback to come, a failed HTTPS attempt is not retried (nor waited for).
                retry = False if scheme != schemes[-1] else None
                resp = self._open(f"{base}/v2/", "application/json", max_size=MAX_ERROR_BODY, retry=retry)
            except HttpError as exc:
                failures.append(f"{scheme}: {exc.reason}")
                continue
            with resp:
                if resp.status not in (200, 401):
                    failures.append(f"{scheme}: GET /v2/ answered HTTP {resp.status}, not a registry API v2")
                    continue
                self.base = base
                if resp.status == 401:
                    self._authenticate(resp.header_list("WWW-Authenticate"))
                return
        raise InputError(f"{self.ref.registry}: registry unreachable at {self.host}: {'; '.join(failures)}")

    def _credentials_for_host(self) -> tuple[Credentials | None, str]:
        if self._credentials is None:
            self._credentials = load_credentials(self.ref.registry, self.config_path)
        return self._credentials

    def _auth_error(self, detail: str) -> InputError:
        return InputError(
            f"{self.ref.registry}: authentication failed for {self.ref.repository} ({detail}); tried "
            + ", then ".join(self.tried)
        )

    def _authenticate(self, challenges: list[str]) -> None:
        """Answer a 401: set :attr:`authorization` or raise an error naming every attempt."""
        parsed = [_parse_challenge(c) for c in challenges]
        bearer = next((p for s, p in parsed if s == "bearer"), None)
        basic = any(s == "basic" for s, _ in parsed)
        creds, why_none = self._credentials_for_host()
        if bearer is not None and bearer.get("realm"):
            self.authorization = "Bearer " + self._token(bearer, creds)
            self._worked = False
            return
        if basic:
            if creds is None:
                raise self._auth_error(f"the registry asks for Basic credentials: {why_none}")
            if creds.identity_token:
                raise self._auth_error(f"the registry asks for Basic credentials; {creds.source} has an identity token")
            if self.authorization == creds.header():
                raise self._auth_error("Basic credentials rejected")
            self.tried.append(f"Basic credentials from {creds.source}")
            self.authorization = creds.header()
            return
        raise self._auth_error(f"unsupported challenge {challenges[0][:80]!r}" if challenges else "no challenge")

    def _token(self, challenge: dict[str, str], creds: Credentials | None) -> str:
        realm = challenge["realm"]
        scope = challenge.get("scope") or f"repository:{self.ref.repository}:pull"
        query = [("scope", scope)]
        if challenge.get("service"):
            query.insert(0, ("service", challenge["service"]))
        kind = "an identity token" if creds and creds.identity_token else "Basic credentials"
        what = f"a token from realm {shown_url(realm)}" + (
            f" with {kind} from {creds.source}" if creds else " (anonymous)"
        )
        if what not in self.tried:
            self.tried.append(what)
        elif not self._worked:  # a fresh token from this realm was refused, not an old one expired
            _, why_none = self._credentials_for_host()
            raise self._auth_error("the registry rejected the token" + (f"; {why_none}" if creds is None else ""))
        try:
            resp = self._token_request(realm, query, creds)
            body = resp.read() if resp.status == 200 else b""
        except HttpError as exc:
            raise self._auth_error(f"token realm unreachable: {exc.reason}") from None
        if resp.status != 200:
            resp.close()
            detail = f"token realm answered HTTP {resp.status}"
            if creds is None:
                detail += f"; {self._credentials_for_host()[1]}"
            raise self._auth_error(detail)
        try:
            doc = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            raise self._auth_error("token realm answered something that is not JSON") from None
        token = doc.get("token") or doc.get("access_token") if isinstance(doc, dict) else None
        if not isinstance(token, str) or not token:
            raise self._auth_error("token realm answered no token")
        return token

    def _token_request(self, realm: str, query: list[tuple[str, str]], creds: Credentials | None) -> Response:
        """GET the realm (Basic auth or anonymous), or with an identity token the OAuth2 refresh-token POST
        (distribution's docs/spec/auth/oauth.md)."""
        limit = self.options.max_metadata_size
        if creds is not None and creds.identity_token:
            form = [("grant_type", "refresh_token"), ("refresh_token", creds.password), ("client_id", "leakstop")]
            body = urllib.parse.urlencode(query + form).encode()
            headers = {"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"}
            return self.http.request("POST", realm, headers=headers, body=body, max_size=limit, retry=True)
        url = realm + ("&" if "?" in realm else "?") + urllib.parse.urlencode(query)
        return self._open(url, "application/json", creds.header() if creds else "", max_size=limit)

    def _get(self, path: str, accept: str, max_size: int | None = None) -> Response:
        """GET a registry path; a 401 is answered once per request (a token may have expired meanwhile)."""
        url = f"{self.base}/v2/{self.ref.repository}/{path}"
        resp = self._open(url, accept, self.authorization, max_size)
        if resp.status == 401 and origin(resp.url) == origin(url):
            challenges = resp.header_list("WWW-Authenticate")
            resp.close()
            self._authenticate(challenges)
            resp = self._open(url, accept, self.authorization, max_size)
            if resp.status == 401:
                resp.close()
                raise self._auth_error("credentials accepted but access to the repository denied")
        self._worked = self._worked or resp.status != 401
        return resp

    # -- manifests and blobs ------------------------------------------------------------------------------

    def manifest(self, reference: str) -> tuple[dict[str, Any], str, str]:
        """The manifest or index at a tag or digest: (document, media type, digest of the bytes)."""
        limit = self.options.max_metadata_size
        try:
            resp = self._get(f"manifests/{reference}", ", ".join(MANIFEST_TYPES), limit)
            if resp.status != 200:
                with resp:
                    body = resp.read_some(MAX_ERROR_BODY)
                raise InputError(f"{self.shown}: {_api_error(resp.status, body, f'manifest {reference}')}")
            body = resp.read()
        except ResponseTooLarge:
            raise InputError(f"{self.shown}: manifest {reference} is over {limit} bytes") from None
        except HttpError as exc:
            raise InputError(f"{self.shown}: cannot fetch manifest {reference}: {exc.reason}") from None
        media = resp.header("Content-Type").split(";")[0].strip()
        claimed = resp.header("Docker-Content-Digest")
        digest = "sha256:" + hashlib.sha256(body).hexdigest()
        if DIGEST.match(reference) and digest != reference:
            raise InputError(f"{self.shown}: manifest {reference} does not hash to its digest (got {digest})")
        if claimed.startswith("sha256:") and claimed != digest:
            raise InputError(f"{self.shown}: manifest {reference} does not hash to Docker-Content-Digest {claimed}")
        try:
            doc = json.loads(body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise InputError(f"{self.shown}: manifest {reference} is not valid JSON: {exc}") from None
        if not isinstance(doc, dict):
            raise InputError(f"{self.shown}: manifest {reference} is not a JSON object")
        return doc, media or str(doc.get("mediaType") or ""), digest

    def open_blob(self, digest: str) -> IO[bytes]:
        """The blob's bytes as stored, streamed; the caller hashes them. Raises OSError (an issue, not fatal)."""
        try:
            resp = self._get(f"blobs/{digest}", "*/*")
        except InputError as exc:  # HttpError included: one blob that cannot be fetched is an issue on its layer
            raise PermissionError(str(exc)) from None
        if resp.status == 200:
            return resp.open()
        with resp:
            body = resp.read_some(MAX_ERROR_BODY)
        message = _api_error(resp.status, body, f"blob {digest}")
        if resp.status == 404:
            raise FileNotFoundError(message)
        raise OSError(message)


# -- the pull ------------------------------------------------------------------------------------------------


@dataclass
class RegistryBlobs:
    """The image scanner's view of a registry: ``blobs/sha256/<hex>`` names map to blob requests."""

    client: RegistryClient

    def exists(self, name: str) -> bool:
        return _digest_of(name) is not None

    def open(self, name: str) -> IO[bytes]:
        digest = _digest_of(name)
        if digest is None:
            raise FileNotFoundError(name)
        return self.client.open_blob(digest)


@dataclass(frozen=True)
class Pulled:
    blobs: RegistryBlobs
    manifest: dict[str, Any]
    digest: str
    tag: str


def pull(image: str, options: RegistryOptions) -> Pulled:
    """Resolve ``image`` to one image manifest (picking the platform from an index) and a way to read its blobs."""
    ref = parse_reference(image)
    client = RegistryClient(ref, options, image)
    client.probe()
    doc, media, digest = client.manifest(ref.manifest_ref)
    for _ in range(MAX_INDEX_DEPTH):
        if media not in INDEX_TYPES and "manifests" not in doc:
            break
        chosen = select_platform(doc, options.platform)
        if chosen is None:
            raise InputError(
                f"{image}: no manifest for platform {options.platform}; available: "
                + (", ".join(available_platforms(doc)) or "none")
                + " (choose with --platform)"
            )
        doc, media, digest = client.manifest(chosen)
    if media.startswith("application/vnd.docker.distribution.manifest.v1+"):
        raise InputError(f"{image}: Docker schema 1 manifests are not supported")
    if not isinstance(doc.get("config"), dict) or not isinstance(doc.get("layers"), list):
        raise InputError(f"{image}: manifest {digest} ({media or 'no media type'}) is not an image manifest")
    return Pulled(RegistryBlobs(client), doc, digest, ref.tag)


# -- helpers -------------------------------------------------------------------------------------------------


def _digest_of(name: str) -> str | None:
    match = re.fullmatch(r"blobs/sha256/([0-9a-f]{64})", name)
    return f"sha256:{match.group(1)}" if match else None


def _parse_challenge(header: str) -> tuple[str, dict[str, str]]:
    scheme, _, rest = header.strip().partition(" ")
    params = {}
    for match in _CHALLENGE_PARAM.finditer(rest):
        value = match.group(2) if match.group(2) is not None else match.group(3)
        params[match.group(1).lower()] = value.replace('\\"', '"')
    return scheme.lower(), params


def _api_error(status: int, body: bytes, what: str) -> str:
    """A registry error as one line: the API's error codes (MANIFEST_UNKNOWN, NAME_UNKNOWN, ...) when it sent them."""
    codes = []
    try:
        doc = json.loads(body)
        for err in doc.get("errors") or []:
            if isinstance(err, dict):
                codes.append(f"{err.get('code')}: {str(err.get('message') or '')[:200]}".rstrip(": "))
    except (ValueError, UnicodeDecodeError, AttributeError):
        pass
    known = {404: "not found", 401: "unauthorized", 403: "access denied", 429: "rate limited"}
    detail = f" ({'; '.join(codes)})" if codes else ""
    return f"{what}: HTTP {status} {known.get(status, '')}".rstrip() + detail
