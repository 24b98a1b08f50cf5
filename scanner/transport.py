"""The one HTTP layer (issue #10, item 5): the registry, remote state, and later leak response and validation.

    client = HttpClient(HttpSettings.from_environment(os.environ))  # the CLI reads the environment, not this
    with client.request("GET", url, auth="Bearer …") as response:
        data = response.read()

One urllib3 pool (keep-alive) per origin, one proxy manager per proxy URL. Redirects are followed here, so credentials
(``auth``, ``CREDENTIAL_HEADERS``) go only to the starting origin: the first hop to another scheme, host or port drops
them for the rest of the chain (https→http too). 429 and 500/502/503/504 are retried with jittered exponential backoff,
honouring ``Retry-After``, as are connection failures (always before anything was sent, after it for idempotent
methods); count and total sleep are bounded, the last response is returned. Bodies are capped (``max_size``).

Exceptions (each one line: the method, the URL without userinfo or query, and the status or the network reason;
never a credential)::

    LeakstopError
     └── InputError                    exit 2 when nothing catches it
          └── HttpError                any failed request; .method, .url (shown form), .reason, .status
               ├── NetworkError        no response: refused, DNS, TLS, proxy, connection broke off
               │    └── HttpTimeout    connect or read timeout, or a body slower than body_timeout in all
               ├── StatusError         raise_for_status() on a status outside 2xx
               ├── TooManyRedirects
               └── ResponseTooLarge    the body passed the size cap
"""

from __future__ import annotations

import io
import json
import random
import ssl
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from types import TracebackType
from typing import IO, Any
from urllib.parse import unquote, urljoin, urlsplit

import urllib3
from urllib3 import exceptions as u3

import scanner
from scanner.errors import InputError
from scanner.httpsettings import HttpSettings, bypasses_proxy, origin, parse_retry_after, shown_url

__all__ = [
    "HttpClient",
    "HttpError",
    "HttpSettings",
    "HttpTimeout",
    "NetworkError",
    "Response",
    "ResponseTooLarge",
    "StatusError",
    "TooManyRedirects",
    "shown_url",
]

IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS", "TRACE"})
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
REDIRECTS = frozenset({301, 302, 303, 307, 308})
API_KEY_HEADERS = frozenset({"x-api-key", "private-token", "npm-otp"})  # Anthropic, GitLab, npm's one-time password
CREDENTIAL_HEADERS = API_KEY_HEADERS | {"authorization", "proxy-authorization", "cookie"}
MAX_BACKOFF = 10.0
DRAIN_LIMIT = 64 * 1024  # unread body left on close: read off to keep the connection, or the connection is closed
CHUNK = 64 * 1024
_ONE_HOP = {"redirect": False, "retries": False, "preload_content": False}  # redirects and retries are ours


class HttpError(InputError):
    def __init__(self, method: str, url: str, reason: str, status: int | None = None) -> None:
        self.method, self.url, self.reason, self.status = method, shown_url(url), reason, status
        super().__init__(f"{method} {self.url}: {reason}")


class NetworkError(HttpError):
    pass


class HttpTimeout(NetworkError):
    pass


class StatusError(HttpError):
    pass


class TooManyRedirects(HttpError):
    pass


class ResponseTooLarge(HttpError):
    pass


class Response:
    """A response whose body is not read yet: ``read`` it whole, stream it, or ``open`` it as a binary file."""

    def __init__(self, method: str, url: str, raw: urllib3.BaseHTTPResponse, max_size: int, within: float) -> None:
        self.method, self.url, self.status, self.max_size = method, url, raw.status, max_size
        self.within, self._deadline = within, time.monotonic() + within  # the whole body, however it trickles
        self.headers = raw.headers
        self._raw = raw
        self._received, self._closed = 0, False
        length = raw.headers.get("Content-Length", "")
        if length.isdigit() and int(length) > max_size:
            self.close()
            raise ResponseTooLarge(method, url, f"response of {length} bytes is over the {max_size}-byte cap")

    def header(self, name: str) -> str:
        return str(self.headers.get(name) or "")

    def header_list(self, name: str) -> list[str]:
        return list(self.headers.getlist(name))

    def iter_bytes(self, chunk_size: int = CHUNK) -> Iterator[bytes]:
        while chunk := self.read_some(chunk_size):
            yield chunk

    def read_some(self, amount: int) -> bytes:
        """Up to ``amount`` bytes (b"" at the end); past the cap or on a broken connection an :class:`HttpError`."""
        try:  # read1: one read from the socket (each bounded by the read timeout), then the deadline is checked
            data = self._raw.read1(amount)
        except (u3.HTTPError, OSError) as exc:
            self.close()
            raise NetworkError(self.method, self.url, f"download broke off: {network_reason(exc)}") from None
        if data and time.monotonic() > self._deadline:
            self._raw.close()  # not drained: the rest would come as slowly
            self.close()
            raise HttpTimeout(self.method, self.url, f"body not received within {self.within:g}s")
        self._received += len(data)
        if self._received > self.max_size:
            self.close()
            raise ResponseTooLarge(self.method, self.url, f"response over the {self.max_size}-byte cap")
        return data

    def read(self) -> bytes:
        try:
            return b"".join(self.iter_bytes())
        finally:
            self.close()

    def json(self) -> Any:
        return json.loads(self.read())

    def open(self) -> IO[bytes]:
        """The body as a binary file; a broken download or the cap is an ``OSError`` there (file semantics)."""
        return io.BufferedReader(_RawBody(self), CHUNK)

    def raise_for_status(self) -> None:
        if not 200 <= self.status < 300:
            self.close()
            raise StatusError(self.method, self.url, f"HTTP {self.status}", self.status)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            _discard(self._raw)

    def __enter__(self) -> Response:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()


class _RawBody(io.RawIOBase):
    def __init__(self, response: Response) -> None:
        super().__init__()
        self._response = response

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        try:
            data = self._response.read_some(len(view))
        except HttpError as exc:
            raise OSError(str(exc)) from None
        view[: len(data)] = data
        return len(data)

    def close(self) -> None:
        if not self.closed:
            self._response.close()
        super().close()


class HttpClient:
    """Requests with pooled connections, retries, credential-safe redirects and capped bodies. Not thread-safe
    beyond what urllib3's pools are; one client per scan is the intended use. ``sleep`` and ``jitter`` are for
    tests; ``allow_plain_http(host, port)`` may refuse ``http://`` for some hosts (redirect targets included)."""

    def __init__(
        self,
        settings: HttpSettings | None = None,
        *,
        user_agent: str = "",
        allow_plain_http: Callable[[str, int], bool] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self.settings = settings or HttpSettings()
        self.user_agent = user_agent or f"leakstop/{scanner.__version__}"
        self._allow_plain_http = allow_plain_http
        self._sleep, self._jitter = sleep, jitter
        self._managers: dict[str, urllib3.PoolManager] = {}
        self._managers_lock = threading.Lock()  # validation shares one client between its threads
        self._timeout = urllib3.Timeout(connect=self.settings.connect_timeout, read=self.settings.read_timeout)

    def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        body: bytes | None = None,
        auth: str = "",
        max_size: int | None = None,
        retry: bool | None = None,
        decode: bool = True,
    ) -> Response:
        """Send ``method url``; ``auth`` is an Authorization value for the starting origin only. ``retry``: None
        retries what is safe (idempotent methods; any method when nothing was sent), True retries any method,
        False never retries. ``decode`` False keeps a Content-Encoding as sent (blobs are hashed as stored)."""
        method = method.upper()
        sent = {"User-Agent": self.user_agent, **(headers or {})}
        if auth:
            sent["Authorization"] = auth
        start = origin(url)
        for _ in range(self.settings.max_redirects + 1):
            self._check_url(method, url)
            raw = self._send(method, url, sent, body, retry, decode)
            location = raw.get_redirect_location()
            if raw.status not in REDIRECTS or not location:
                return Response(method, url, raw, self._cap(max_size), self.settings.body_timeout)
            _discard(raw)
            url = urljoin(url, location)
            if origin(url) != start:
                sent = {k: v for k, v in sent.items() if k.lower() not in CREDENTIAL_HEADERS}
            if raw.status == 303 or (raw.status in (301, 302) and method == "POST"):
                method, body = ("HEAD" if method == "HEAD" else "GET"), None
                sent = {k: v for k, v in sent.items() if k.lower() not in ("content-type", "content-length")}
        raise TooManyRedirects(method, url, f"more than {self.settings.max_redirects} redirects")

    def get(self, url: str, **kwargs: Any) -> Response:
        return self.request("GET", url, **kwargs)

    def close(self) -> None:
        with self._managers_lock:
            for manager in self._managers.values():
                manager.clear()
            self._managers.clear()

    def __enter__(self) -> HttpClient:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    # -- one hop, with retries --------------------------------------------------------------------------------

    def _send(
        self, method: str, url: str, headers: dict[str, str], body: bytes | None, retry: bool | None, decode: bool
    ) -> urllib3.BaseHTTPResponse:
        idempotent = method in IDEMPOTENT if retry is None else retry
        attempts = 1 if retry is False else self.settings.retries + 1
        spent = 0.0
        delay: float | None
        for attempt in range(attempts):
            try:
                raw = self._manager(url).urlopen(
                    method, url, body=body, headers=headers, decode_content=decode, timeout=self._timeout, **_ONE_HOP
                )
            except (u3.HTTPError, OSError) as exc:
                error = _network_error(method, url, exc)
                delay = self._backoff(attempt)
                last = attempt == attempts - 1 or spent + delay > self.settings.max_retry_sleep
                if last or not (_before_send(exc) or (idempotent and isinstance(exc, u3.ProtocolError))):
                    raise error from None
            else:
                if raw.status not in RETRY_STATUSES or not idempotent or attempt == attempts - 1:
                    return raw
                delay = self._retry_delay(attempt, raw.headers.get("Retry-After"))
                if delay is None or spent + delay > self.settings.max_retry_sleep:
                    return raw
                _discard(raw)
            spent += delay
            self._sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover

    def _backoff(self, attempt: int) -> float:
        """Exponential, capped, with jitter in [½, 1] of the step so that clients do not retry in step."""
        step = min(self.settings.backoff * 2.0**attempt, MAX_BACKOFF)
        return step * (0.5 + self._jitter() / 2)

    def _retry_delay(self, attempt: int, retry_after: str | None) -> float | None:
        if retry_after is None:
            return self._backoff(attempt)
        return parse_retry_after(retry_after, time.time())  # None (unparseable): not retried

    def _cap(self, max_size: int | None) -> int:
        return min(self.settings.max_response_size, max_size if max_size is not None else 1 << 62)

    def _check_url(self, method: str, url: str) -> None:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in ("http", "https") or not parts.hostname:
            raise HttpError(method, url, "not an http(s) URL with a host")
        if scheme == "http" and self._allow_plain_http is not None:
            host, port = parts.hostname, parts.port or 80
            if not self._allow_plain_http(host, port):
                raise HttpError(method, url, "refusing plain HTTP to this host")

    def _manager(self, url: str) -> urllib3.PoolManager:
        parts = urlsplit(url)
        proxy = self.settings.proxy_for(parts.scheme.lower())
        if proxy and bypasses_proxy(parts.hostname or "", origin(url)[2], self.settings.no_proxy):
            proxy = ""
        with self._managers_lock:  # two threads' first requests must not both build one (the loser's pool leaks)
            manager = self._managers.get(proxy)
            if manager is None:
                manager = self._managers[proxy] = self._new_manager(proxy)
            return manager

    def _new_manager(self, proxy: str) -> urllib3.PoolManager:
        tls: dict[str, Any] = {"cert_reqs": ssl.CERT_REQUIRED}
        if self.settings.ca_bundle is not None:
            path = self.settings.ca_bundle
            if not path.is_file():
                raise InputError(f"{path}: CA bundle not found (--ca-bundle)")
            tls["ca_certs"] = str(path)
        if not proxy:
            return urllib3.PoolManager(num_pools=16, maxsize=4, **tls)
        parts = urlsplit(proxy)
        headers = None
        if parts.username is not None:
            auth = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
            headers = urllib3.make_headers(proxy_basic_auth=auth)
        bare = f"{parts.scheme}://{parts.hostname}" + (f":{parts.port}" if parts.port else "")
        return urllib3.ProxyManager(bare, num_pools=16, maxsize=4, proxy_headers=headers, **tls)


def _discard(raw: urllib3.BaseHTTPResponse) -> None:
    """Back to the pool: a short unread rest is read off, else the connection is closed (a long body is not read)."""
    try:
        length = raw.length_remaining
        if length is not None and length <= DRAIN_LIMIT:
            raw.drain_conn()
        else:
            raw.close()
    except (u3.HTTPError, OSError):
        raw.close()
    raw.release_conn()


def _before_send(exc: BaseException) -> bool:
    """Whether the request surely never reached the server (safe to retry whatever the method). A name that does
    not resolve is not retried: that is rarely transient."""
    if isinstance(exc, u3.NameResolutionError):
        return False
    return isinstance(exc, u3.NewConnectionError | u3.ConnectTimeoutError) or (
        isinstance(exc, u3.ProxyError) and _before_send(exc.original_error)
    )


def _network_error(method: str, url: str, exc: BaseException) -> HttpError:
    if isinstance(exc, u3.ProxyError):
        return NetworkError(method, url, f"proxy failed: {network_reason(exc.original_error)}")
    timeout = isinstance(exc, u3.TimeoutError | TimeoutError) and not isinstance(exc, u3.NewConnectionError)
    return (HttpTimeout if timeout else NetworkError)(method, url, network_reason(exc))


def network_reason(exc: BaseException) -> str:
    """A network failure in a few words, from the innermost OS or TLS error: never a URL, never a header."""
    if isinstance(exc, u3.ConnectTimeoutError) and not isinstance(exc, u3.NewConnectionError):
        return "connect timed out"  # (urllib3 makes NewConnectionError a ConnectTimeoutError)
    if isinstance(exc, u3.ReadTimeoutError | TimeoutError):
        return "read timed out"
    if isinstance(exc, u3.NameResolutionError):
        return "host name not resolved"
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, ssl.SSLCertVerificationError):
            return f"TLS error: certificate verify failed: {current.verify_message}"
        if isinstance(current, ssl.SSLError):
            return f"TLS error: {current.reason or current.strerror or type(current).__name__}"
        if isinstance(current, OSError) and current.strerror:
            return str(current.strerror)
        inner = [a for a in getattr(current, "args", ()) if isinstance(a, BaseException)]
        current = current.__cause__ or current.__context__ or (inner[0] if inner else None)
    if isinstance(exc, u3.ProtocolError | u3.IncompleteRead):
        return "connection broke off"
    return type(exc).__name__
