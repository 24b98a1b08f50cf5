"""Pull an image from a registry (distribution-spec HTTP API v2 with Docker token auth) for the image scanner.

``leakstop scan --image REF`` reads the image straight from the registry (integrations.md 5.5): the probe
``GET /v2/``, the manifest by tag or digest (an index picks ``--platform``), then the config and every layer blob,
each streamed into the same layer reader as a tarball's (:mod:`scanner.sources.image`): nothing is written to disk,
every blob is hashed as it passes and a digest that does not match becomes an issue.

Auth: anonymous first; on a 401, the ``WWW-Authenticate`` challenge says what to do. ``Bearer`` → a token from
its realm (with Basic credentials from the docker config when there are any, else anonymous); ``Basic`` → the
docker config's credentials, sent to the registry. Credentials come from ``$DOCKER_CONFIG/config.json`` or
``~/.docker/config.json`` (``auths.<host>.auth``, base64 ``user:password``); credential helpers are not run.

Transport rules: HTTPS with certificate checks, except for loopback hosts and hosts given with
``--insecure-registry`` (HTTPS is tried first, then plain HTTP, as Docker does for insecure registries).
Redirects are followed (blobs often live in object storage) but ``Authorization`` is only ever sent to the
origin (scheme, host, port) the request started at: a redirect to any other origin drops it for good. That is
stricter than Go's ``net/http`` (which keeps it for the same host name on another port, and for subdomains) and
matches moby's registry client, which strips ``Authorization`` from redirected requests.

Errors (all :class:`~scanner.errors.InputError`, exit 2, one line, never a credential): the registry cannot be
reached; authentication failed (naming what was tried: anonymous, a token from realm X, Basic credentials from
file Y); the name, tag or digest is unknown; no manifest for the platform (listing those there are). A failure
while a blob streams is an ``OSError`` the image scanner records as an issue on that layer.
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import io
import ipaddress
import json
import os
import re
import socket
import ssl
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from scanner.errors import InputError, UsageError

DOCKER_HUB = "docker.io"
DOCKER_HUB_ENDPOINT = "registry-1.docker.io"
_HUB_ALIASES = {"docker.io", "index.docker.io", "registry-1.docker.io", "registry.hub.docker.com"}
MANIFEST_TYPES = (
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
)
INDEX_TYPES = MANIFEST_TYPES[:2]
MAX_REDIRECTS = 5
MAX_INDEX_DEPTH = 2
MAX_ERROR_BODY = 64 * 1024

# The reference grammar of distribution/reference (regexp.go), sha256 digests only.
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|[-]*)[a-z0-9]+)*"
_DOMAIN = (
    r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])(?:\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))*"
)
_PATH = re.compile(rf"^{_COMPONENT}(?:/{_COMPONENT})*$")
_HOST = re.compile(rf"^{_DOMAIN}(?::[0-9]+)?$")
_TAG = re.compile(r"^[\w][\w.-]{0,127}$")
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
_CHALLENGE_PARAM = re.compile(r'(\w+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))')


@dataclass(frozen=True)
class Reference:
    """An image reference split as Docker does: ``[host[:port]/]name[:tag][@digest]``."""

    registry: str  # host[:port]; "docker.io" for Docker Hub
    repository: str  # "library/alpine" for Docker Hub's official images
    tag: str = ""
    digest: str = ""

    @property
    def endpoint(self) -> str:
        """Where the API lives: Docker Hub's registry is not at docker.io itself."""
        return DOCKER_HUB_ENDPOINT if self.registry == DOCKER_HUB else self.registry

    @property
    def manifest_ref(self) -> str:
        return self.digest or self.tag

    def __str__(self) -> str:
        return (
            f"{self.registry}/{self.repository}"
            + (f":{self.tag}" if self.tag else "")
            + (f"@{self.digest}" if self.digest else "")
        )


def parse_reference(text: str) -> Reference:
    """Docker's defaults: no host → Docker Hub, a one-part Hub name → ``library/``, no tag or digest → ``latest``."""
    rest = text.removeprefix("docker://")
    digest = ""
    if "@" in rest:
        rest, digest = rest.split("@", 1)
        if not _DIGEST.match(digest):
            raise InputError(f"{text}: not an image reference: digest must be sha256:<64 hex digits>")
    tag = ""
    slash, colon = rest.rfind("/"), rest.rfind(":")
    if colon > slash:
        rest, tag = rest[:colon], rest[colon + 1 :]
        if not _TAG.match(tag):
            raise InputError(f"{text}: not an image reference: invalid tag {tag!r}")
    first, _, remainder = rest.partition("/")
    if remainder and ("." in first or ":" in first or first == "localhost" or first != first.lower()):
        registry, repository = first, remainder
        if not _HOST.match(registry):
            raise InputError(f"{text}: not an image reference: invalid registry host {registry!r}")
    else:
        registry, repository = DOCKER_HUB, rest
    if registry.lower() in _HUB_ALIASES:
        registry = DOCKER_HUB
    if registry == DOCKER_HUB and "/" not in repository:
        repository = f"library/{repository}"
    if not _PATH.match(repository) or len(registry) + 1 + len(repository) > 255:
        raise InputError(
            f"{text}: not an image reference (repository names are lower-case path components) "
            "and no such file or directory"
        )
    return Reference(registry, repository, tag if tag or digest else "latest", digest)


def names_registry(text: str) -> bool:
    """Whether the reference says which registry (else it is Docker Hub's, by default)."""
    first, slash, _ = text.removeprefix("docker://").partition("/")
    return bool(slash) and ("." in first or ":" in first or first == "localhost")


def looks_like_path(text: str) -> bool:
    """Names a user means as a file: scanned as a path (and reported missing), never pulled."""
    return text.startswith(("/", "./", "../", "~")) or text.endswith((".tar", ".tar.gz", ".tgz", ".tar.zst"))


@dataclass(frozen=True)
class RegistryOptions:
    platform: str = "linux/amd64"  # os/arch[/variant], for an index
    insecure: tuple[str, ...] = ()  # host[:port] allowed over plain HTTP (loopback always is)
    timeout: float = 60.0  # seconds per connect or read
    max_metadata_size: int = 16 * 1024 * 1024


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str
    source: str  # the docker config file they came from: named in errors, the values never are

    def header(self) -> str:
        return "Basic " + base64.b64encode(f"{self.username}:{self.password}".encode()).decode("ascii")


def docker_config_path() -> Path:
    base = os.environ.get("DOCKER_CONFIG")
    return Path(base) / "config.json" if base else Path.home() / ".docker" / "config.json"


def _config_host(key: str) -> str:
    """Docker's ``ConvertToHostname``: ``https://index.docker.io/v1/`` → ``index.docker.io``."""
    key = key.removeprefix("https://").removeprefix("http://")
    host = key.split("/", 1)[0].lower()
    return DOCKER_HUB if host in _HUB_ALIASES else host


def load_credentials(registry: str, path: Path) -> tuple[Credentials | None, str]:
    """Credentials for ``registry`` from a docker config, and a note on why there are none (for errors)."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None, f"no docker config at {path}"
    except OSError as exc:
        raise InputError(f"{path}: cannot read docker config: {exc.strerror or exc}") from None
    try:
        doc = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: docker config is not valid JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise InputError(f"{path}: docker config is not a JSON object")
    auths = doc.get("auths") if isinstance(doc.get("auths"), dict) else {}
    for key, entry in (auths or {}).items():
        if _config_host(str(key)) != registry.lower() or not isinstance(entry, dict):
            continue
        if isinstance(entry.get("auth"), str) and entry["auth"]:
            try:
                user, sep, password = base64.b64decode(entry["auth"], validate=True).decode("utf-8").partition(":")
            except (ValueError, UnicodeDecodeError):
                raise InputError(f"{path}: auths.{key}.auth is not base64 of user:password") from None
            if not sep:
                raise InputError(f"{path}: auths.{key}.auth is not base64 of user:password")
            return Credentials(user, password, str(path)), ""
        if isinstance(entry.get("username"), str) and isinstance(entry.get("password"), str):
            return Credentials(entry["username"], entry["password"], str(path)), ""
    helpers = doc.get("credHelpers") if isinstance(doc.get("credHelpers"), dict) else {}
    helper = (helpers or {}).get(registry) or doc.get("credsStore")
    if helper:
        return None, f"no auths entry for {registry} in {path} (credential helper {helper!r} is not supported)"
    return None, f"no auths entry for {registry} in {path}"


# -- HTTP ----------------------------------------------------------------------------------------------------


def _is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _origin(url: str) -> tuple[str, str, int]:
    parts = urllib.parse.urlsplit(url)
    return parts.scheme, (parts.hostname or "").lower(), parts.port or (443 if parts.scheme == "https" else 80)


class _Response:
    """One HTTP response and its connection, closed together (each request has its own connection)."""

    def __init__(self, conn: http.client.HTTPConnection, resp: http.client.HTTPResponse, url: str) -> None:
        self.conn = conn
        self.resp = resp
        self.url = url
        self.status = resp.status

    def header(self, name: str) -> str:
        return self.resp.getheader(name) or ""

    def challenges(self) -> list[str]:
        return self.resp.headers.get_all("WWW-Authenticate") or []

    def read(self, limit: int) -> bytes:
        return self.resp.read(limit)

    def close(self) -> None:
        self.resp.close()
        self.conn.close()


class RegistryClient:
    """The HTTP side of a pull: the scheme, redirects, auth, and one image's manifests and blobs."""

    def __init__(
        self, ref: Reference, options: RegistryOptions, shown: str = "", config_path: Path | None = None
    ) -> None:
        self.ref = ref
        self.shown = shown or str(ref)  # the reference as the user gave it, for messages
        self.options = options
        self.config_path = config_path or docker_config_path()
        self.host = ref.endpoint
        self.base = ""  # scheme://host[:port], known after the probe
        self.authorization = ""  # the header value sent to the registry's origin
        self.tried: list[str] = ["anonymous"]
        self._worked = False  # the current Authorization got a response other than 401: a new 401 means it expired
        self._credentials: tuple[Credentials | None, str] | None = None
        self._tls = ssl.create_default_context()

    # -- transport ----------------------------------------------------------------------------------------

    def _plain_http_allowed(self, host: str, netloc: str) -> bool:
        return _is_loopback(host) or netloc.lower() in {h.lower() for h in self.options.insecure}

    def _connect(self, url: str) -> http.client.HTTPConnection:
        parts = urllib.parse.urlsplit(url)
        host = parts.hostname or ""
        if parts.scheme == "https":
            return http.client.HTTPSConnection(host, parts.port, timeout=self.options.timeout, context=self._tls)
        if parts.scheme == "http" and self._plain_http_allowed(host, parts.netloc):
            return http.client.HTTPConnection(host, parts.port, timeout=self.options.timeout)
        raise InputError(
            f"{self.ref.registry}: refusing {parts.scheme or 'a relative'} URL {_safe_url(url)} "
            "(plain HTTP only for loopback or --insecure-registry hosts)"
        )

    def _open(self, url: str, headers: dict[str, str], authorization: str = "") -> _Response:
        """GET ``url``, following redirects; ``authorization`` goes only to the origin ``url`` starts at."""
        start = _origin(url)
        for _ in range(MAX_REDIRECTS + 1):
            conn = self._connect(url)
            parts = urllib.parse.urlsplit(url)
            target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
            sent = dict(headers, Connection="close")
            if authorization and _origin(url) == start:
                sent["Authorization"] = authorization
            try:
                conn.request("GET", target, headers=sent)
                resp = conn.getresponse()
            except BaseException:
                conn.close()
                raise
            location = resp.getheader("Location")
            if resp.status in (301, 302, 303, 307, 308) and location:
                resp.close()
                conn.close()
                url = urllib.parse.urljoin(url, location)
                if _origin(url) != start:
                    authorization = ""  # never to another host, nor back after it
                continue
            return _Response(conn, resp, url)
        raise InputError(f"{self.ref.registry}: more than {MAX_REDIRECTS} redirects from {_safe_url(url)}")

    # -- probe and auth -----------------------------------------------------------------------------------

    def probe(self) -> None:
        """``GET /v2/``: picks the scheme, checks the server speaks the API, and answers a challenge up front."""
        schemes = ["https"]
        if self._plain_http_allowed(self.host.rsplit(":", 1)[0].strip("[]"), self.host):
            schemes.append("http")  # Docker's insecure-registry fallback: HTTPS first, then plain HTTP
        failures = []
        for scheme in schemes:
            base = f"{scheme}://{self.host}"
            try:
                resp = self._open(f"{base}/v2/", {"Accept": "application/json"})
            except (OSError, http.client.HTTPException) as exc:
                failures.append(f"{scheme}: {_reason(exc)}")
                continue
            try:
                if resp.status not in (200, 401):
                    failures.append(f"{scheme}: GET /v2/ answered HTTP {resp.status}, not a registry API v2")
                    continue
                self.base = base
                if resp.status == 401:
                    self._authenticate(resp.challenges())
                return
            finally:
                resp.close()
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
        url = realm + ("&" if "?" in realm else "?") + urllib.parse.urlencode(query)
        what = f"a token from realm {_safe_url(realm)}" + (
            f" with Basic credentials from {creds.source}" if creds else " (anonymous)"
        )
        if what not in self.tried:
            self.tried.append(what)
        elif not self._worked:  # a fresh token from this realm was refused, not an old one expired
            _, why_none = self._credentials_for_host()
            raise self._auth_error("the registry rejected the token" + (f"; {why_none}" if creds is None else ""))
        try:
            resp = self._open(url, {"Accept": "application/json"}, creds.header() if creds else "")
        except (OSError, http.client.HTTPException) as exc:
            raise self._auth_error(f"token realm unreachable: {_reason(exc)}") from None
        try:
            body = resp.read(self.options.max_metadata_size)
        finally:
            resp.close()
        if resp.status != 200:
            detail = f"token realm answered HTTP {resp.status}"
            if creds is None:
                _, why_none = self._credentials_for_host()
                detail += f"; {why_none}"
            raise self._auth_error(detail)
        try:
            doc = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            raise self._auth_error("token realm answered something that is not JSON") from None
        token = doc.get("token") or doc.get("access_token") if isinstance(doc, dict) else None
        if not isinstance(token, str) or not token:
            raise self._auth_error("token realm answered no token")
        return token

    def _get(self, path: str, accept: str) -> _Response:
        """GET a registry path; a 401 is answered once per request (a token may have expired meanwhile)."""
        url = f"{self.base}/v2/{self.ref.repository}/{path}"
        resp = self._open(url, {"Accept": accept}, self.authorization)
        if resp.status == 401 and _origin(resp.url) == _origin(url):
            challenges = resp.challenges()
            resp.close()
            self._authenticate(challenges)
            resp = self._open(url, {"Accept": accept}, self.authorization)
            if resp.status == 401:
                resp.close()
                raise self._auth_error("credentials accepted but access to the repository denied")
        self._worked = self._worked or resp.status != 401
        return resp

    # -- manifests and blobs ------------------------------------------------------------------------------

    def manifest(self, reference: str) -> tuple[dict[str, Any], str, str]:
        """The manifest or index at a tag or digest: (document, media type, digest of the bytes)."""
        try:
            resp = self._get(f"manifests/{reference}", ", ".join(MANIFEST_TYPES))
        except (OSError, http.client.HTTPException) as exc:
            raise InputError(f"{self.shown}: cannot fetch manifest {reference}: {_reason(exc)}") from None
        try:
            body = resp.read(self.options.max_metadata_size + 1)
            if resp.status != 200:
                raise InputError(f"{self.shown}: {_api_error(resp.status, body, f'manifest {reference}')}")
            media = resp.header("Content-Type").split(";")[0].strip()
            claimed = resp.header("Docker-Content-Digest")
        except (OSError, http.client.HTTPException) as exc:
            raise InputError(f"{self.shown}: cannot fetch manifest {reference}: {_reason(exc)}") from None
        finally:
            resp.close()
        if len(body) > self.options.max_metadata_size:
            raise InputError(f"{self.shown}: manifest {reference} is over {self.options.max_metadata_size} bytes")
        digest = "sha256:" + hashlib.sha256(body).hexdigest()
        if _DIGEST.match(reference) and digest != reference:
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
        except InputError as exc:
            raise PermissionError(str(exc)) from None
        if resp.status == 200:
            return io.BufferedReader(_RawBlob(resp), 1 << 16)
        body = resp.read(MAX_ERROR_BODY)
        resp.close()
        message = _api_error(resp.status, body, f"blob {digest}")
        if resp.status == 404:
            raise FileNotFoundError(message)
        raise OSError(message)


class _RawBlob(io.RawIOBase):
    """A blob body as a raw stream; wrapped in a BufferedReader it is the binary file the layer reader expects."""

    def __init__(self, resp: _Response) -> None:
        super().__init__()
        self._resp = resp

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        resp = self._resp.resp
        try:
            n = resp.readinto(buffer)
        except http.client.HTTPException as exc:
            raise OSError(f"download broke off: {exc!r}") from None
        if not n and len(buffer) and resp.length:
            # http.client's readinto returns 0 quietly when the connection closes before Content-Length is met.
            raise OSError(f"download broke off with {resp.length} bytes of the blob still to come")
        return n

    def close(self) -> None:
        if not self.closed:
            self._resp.close()
        super().close()


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


def _platform_of(desc: dict[str, Any]) -> tuple[str, str, str]:
    platform = desc.get("platform") if isinstance(desc.get("platform"), dict) else {}
    platform = platform or {}
    return str(platform.get("os") or ""), str(platform.get("architecture") or ""), str(platform.get("variant") or "")


def available_platforms(index: dict[str, Any]) -> list[str]:
    shown = []
    for desc in index.get("manifests") or []:
        if isinstance(desc, dict):
            os_, arch, variant = _platform_of(desc)
            if os_ and arch and os_ != "unknown":  # "unknown/unknown": BuildKit attestations, not images
                shown.append("/".join(p for p in (os_, arch, variant) if p))
    return sorted(set(shown))


def select_platform(index: dict[str, Any], wanted: str) -> str | None:
    """The digest of the index entry for ``os/arch[/variant]``; without a variant, any variant matches."""
    want = wanted.split("/")
    want_os, want_arch, want_variant = want[0], want[1] if len(want) > 1 else "", want[2] if len(want) > 2 else ""
    for desc in index.get("manifests") or []:
        if not isinstance(desc, dict) or not isinstance(desc.get("digest"), str):
            continue
        os_, arch, variant = _platform_of(desc)
        if (os_, arch) == (want_os, want_arch) and (not want_variant or variant == want_variant):
            return str(desc["digest"])
    return None


def parse_platform(text: str) -> str:
    parts = text.split("/")
    if not 2 <= len(parts) <= 3 or not all(re.fullmatch(r"[a-z0-9_.-]+", p) for p in parts):
        raise UsageError(f"--platform {text!r}: expected os/arch[/variant], e.g. linux/amd64 or linux/arm/v7")
    return text


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


def _reason(exc: BaseException) -> str:
    if isinstance(exc, ssl.SSLError):
        return f"TLS error: {exc.reason or exc}"
    if isinstance(exc, socket.timeout | TimeoutError):
        return "timed out"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__


def _safe_url(url: str) -> str:
    """A URL for a message: no userinfo, no query (a presigned URL's query is a credential)."""
    parts = urllib.parse.urlsplit(url)
    netloc = parts.hostname or ""
    if parts.port:
        netloc += f":{parts.port}"
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, "", ""))
