"""What the HTTP transport (:mod:`scanner.transport`) is told: timeouts, retries, caps, a CA bundle and proxies.

The transport reads no environment variable. The CLI builds the settings at the edge::

    settings = HttpSettings.from_environment(os.environ)
    settings = dataclasses.replace(settings, ca_bundle=Path(args.ca_bundle))  # --ca-bundle FILE

Proxy variables as curl and Go read them: ``https_proxy`` for https URLs and ``http_proxy`` for http URLs, the
lower-case name first, then the upper-case one (``HTTP_PROXY`` is ignored when ``REQUEST_METHOD`` is set: in a CGI
environment it is a request header, see "httpoxy"). A proxy without a scheme is ``http://``. ``no_proxy`` is a
comma-separated list: ``*`` (no proxy at all), host names matching themselves and their subdomains
(``example.com`` and ``.example.com`` alike), IP addresses, CIDR ranges (``10.0.0.0/8``), each optionally with a
``:port`` that then must match too.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timezone
from email.utils import parsedate_to_datetime
from pathlib import Path
from urllib.parse import urlsplit

DEFAULT_PORTS = {"http": 80, "https": 443}
_PORT = re.compile(r"^(.*?)(?::([0-9]{1,5}))?$")


@dataclass(frozen=True)
class HttpSettings:
    """How every HTTP client of one scan behaves. The defaults are those of an empty environment: no proxy."""

    ca_bundle: Path | None = None  # PEM file of trusted CAs; None: the system store (urllib3's default context)
    https_proxy: str = ""  # proxy URL for https:// requests; "" = direct
    http_proxy: str = ""  # proxy URL for http:// requests
    no_proxy: tuple[str, ...] = ()  # parsed entries (parse_no_proxy)
    connect_timeout: float = 10.0  # seconds
    read_timeout: float = 60.0  # seconds between two reads of one response
    # seconds one response body may take in all: a server that trickles a byte a minute never trips the read
    # timeout (an 8 GB layer at 5 MB/s takes under half of it)
    body_timeout: float = 3600.0
    retries: int = 3  # further attempts after the first
    backoff: float = 0.25  # first back-off step in seconds; doubles per attempt (capped), with jitter
    max_retry_sleep: float = 30.0  # total seconds one request may wait between attempts, Retry-After included
    max_redirects: int = 5
    max_response_size: int = 8 * 1024**3  # outer cap on any body; callers pass smaller ones for metadata

    @classmethod
    def from_environment(cls, environ: Mapping[str, str]) -> HttpSettings:
        https_proxy = environ.get("https_proxy") or environ.get("HTTPS_PROXY") or ""
        http_proxy = environ.get("http_proxy") or ("" if "REQUEST_METHOD" in environ else environ.get("HTTP_PROXY"))
        no_proxy = environ.get("no_proxy") or environ.get("NO_PROXY") or ""
        return cls(
            https_proxy=_with_scheme(https_proxy.strip()),
            http_proxy=_with_scheme((http_proxy or "").strip()),
            no_proxy=parse_no_proxy(no_proxy),
        )

    def proxy_for(self, scheme: str) -> str:
        return self.https_proxy if scheme == "https" else self.http_proxy if scheme == "http" else ""


def _with_scheme(proxy: str) -> str:
    return proxy if not proxy or "://" in proxy else f"http://{proxy}"


def parse_no_proxy(value: str) -> tuple[str, ...]:
    """``NO_PROXY`` as lower-case entries without blanks, leading dots or ``*.``; ``("*",)`` if any entry is ``*``."""
    entries = []
    for raw in re.split(r"[,\s]+", value.strip().lower()):
        entry = raw.removeprefix("*.").lstrip(".")
        if raw == "*":
            return ("*",)
        if entry:
            entries.append(entry)
    return tuple(dict.fromkeys(entries))


def _split_entry(entry: str) -> tuple[str, int | None]:
    """``host``, ``host:port``, ``[v6]:port``, ``v6``, ``cidr`` → (host part, port or None)."""
    if entry.startswith("["):
        host, _, rest = entry[1:].partition("]")
        return host, int(rest[1:]) if rest.startswith(":") and rest[1:].isdigit() else None
    if entry.count(":") > 1:  # a bare IPv6 address (or range): no port
        return entry, None
    match = _PORT.match(entry)
    assert match is not None  # the pattern matches every string
    return match.group(1), int(match.group(2)) if match.group(2) else None


def bypasses_proxy(host: str, port: int, no_proxy: Sequence[str]) -> bool:
    """Whether ``host:port`` is reached directly under ``no_proxy`` (entries from :func:`parse_no_proxy`)."""
    import ipaddress  # here, not at import: the commit hook reads settings but never a proxy list (1 ms)

    host = host.lower().strip("[]").rstrip(".")
    try:
        address: ipaddress.IPv4Address | ipaddress.IPv6Address | None = ipaddress.ip_address(host)
    except ValueError:
        address = None
    for entry in no_proxy:
        if entry == "*":
            return True
        name, entry_port = _split_entry(entry)
        if entry_port is not None and entry_port != port:
            continue
        if address is not None and ("/" in name or _is_address(name)):
            try:
                if address in ipaddress.ip_network(name, strict=False):
                    return True
            except ValueError:
                continue
        elif address is None and (host == name or host.endswith("." + name)):
            return True
    return False


def _is_address(text: str) -> bool:
    import ipaddress

    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def parse_retry_after(value: str, now: float | None = None) -> float | None:
    """Seconds to wait: ``Retry-After`` as delta-seconds or an HTTP-date (RFC 9110 10.2.3); a date in the past is
    0; anything else None. Huge values are clamped to a billion seconds (they only mean "do not retry")."""
    text = value.strip()
    if text.isascii() and text.isdigit():
        return float(min(int(text), 10**9))
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:  # RFC 9110 dates are GMT; parsedate_to_datetime leaves "-0000" naive
        when = when.replace(tzinfo=timezone.utc)
    try:
        stamp = when.timestamp()
    except (OverflowError, OSError, ValueError):
        return None
    delay = stamp - (time.time() if now is None else now)
    return min(max(delay, 0.0), 1e9)


def origin(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) with the default port filled in: what credentials are scoped to."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:
        port = None
    return scheme, (parts.hostname or "").lower(), port or DEFAULT_PORTS.get(scheme, 0)


def shown_url(url: str) -> str:
    """A URL for a message or a report: no userinfo, no query (a presigned URL's query is a credential), no
    fragment."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    try:
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        port = ""
    return f"{parts.scheme}://{host}{port}{parts.path}"
