"""The HTTP transport (scanner/transport.py) against real loopback servers (tests/httpserver.py): pooling, retries,
timeouts, redirects and credentials, proxies, a CA bundle, the size cap and what errors say.

Credentials are generated per test (``secrets.token_hex``); every error test asserts the credential is absent.
"""

from __future__ import annotations

import secrets
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import datetime, timezone
from email.utils import format_datetime
from pathlib import Path

import pytest
import urllib3
from httpserver import LoopbackProxy, Reply, Request, ServerFactory, TestCA
from hypothesis import given
from hypothesis import strategies as st

from scanner.errors import InputError
from scanner.httpsettings import bypasses_proxy, parse_no_proxy, parse_retry_after
from scanner.transport import (
    HttpClient,
    HttpError,
    HttpSettings,
    HttpTimeout,
    NetworkError,
    ResponseTooLarge,
    StatusError,
    TooManyRedirects,
    shown_url,
)

FAST = HttpSettings(connect_timeout=2, read_timeout=5)


def client(settings: HttpSettings = FAST, **kwargs: object) -> tuple[HttpClient, list[float]]:
    """A client whose back-off sleeps are recorded, not slept, with the jitter fixed at its top (delay = step)."""
    slept: list[float] = []
    return HttpClient(settings, sleep=slept.append, jitter=lambda: 1.0, **kwargs), slept  # type: ignore[arg-type]


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def bearer() -> str:
    return f"Bearer {secrets.token_hex(20)}"


# -- pooling ---------------------------------------------------------------------------------------------------


def test_requests_to_one_origin_reuse_one_connection(http_server: ServerFactory) -> None:
    server = http_server()
    server.route("GET", "/a", Reply(200, b"a" * 1000))
    server.route("POST", "/b", lambda request: Reply(201, request.body))
    http, _ = client()
    for _ in range(5):
        assert http.get(server.url("/a")).read() == b"a" * 1000
    with http.request("POST", server.url("/b"), body=b"payload") as response:
        assert (response.status, response.read()) == (201, b"payload")
    assert server.connections == 1
    assert {r.connection for r in server.requests} == {1}
    assert server.requests[-1].body == b"payload"


def test_threads_first_requests_build_one_pool_manager(
    http_server: ServerFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Validation shares one client between its threads: their first requests at once must share one manager (a
    second one would never be closed). Building is slowed down so that, unlocked, every thread would build one."""
    server = http_server()
    server.route("GET", "/a", Reply(200, b"ok"))
    http, _ = client()
    built: list[str] = []
    real = HttpClient._new_manager

    def slow_build(self: HttpClient, proxy: str) -> urllib3.PoolManager:
        built.append(proxy)
        time.sleep(0.05)
        return real(self, proxy)

    monkeypatch.setattr(HttpClient, "_new_manager", slow_build)
    start = threading.Barrier(6)

    def first_request() -> bytes:
        start.wait()
        return http.get(server.url("/a")).read()

    with ThreadPoolExecutor(max_workers=6) as pool:
        answers = list(pool.map(lambda _: first_request(), range(6)))
    http.close()
    assert answers == [b"ok"] * 6
    assert built == [""]


def test_an_unread_long_body_closes_its_connection_and_the_next_request_opens_one(http_server: ServerFactory) -> None:
    server = http_server()
    server.route("GET", "/big", Reply(200, b"x" * (1 << 20)))
    server.route("GET", "/small", Reply(200, b"ok"))
    http, _ = client()
    response = http.get(server.url("/big"))
    assert response.read_some(10) == b"x" * 10
    response.close()
    assert http.get(server.url("/small")).read() == b"ok"
    assert http.get(server.url("/small")).read() == b"ok"
    assert server.connections == 2


# -- retries ---------------------------------------------------------------------------------------------------


def test_429_and_503_are_retried_honouring_retry_after(http_server: ServerFactory) -> None:
    server = http_server()
    soon = format_datetime(datetime.fromtimestamp(time.time() + 4, timezone.utc), usegmt=True)
    server.route(
        "GET",
        "/r",
        Reply(429, headers={"Retry-After": "2"}),
        Reply(503, headers={"Retry-After": soon}),
        Reply(200, b"done"),
    )
    http, slept = client()
    assert http.get(server.url("/r")).read() == b"done"
    assert len(server.requests) == 3
    assert slept[0] == 2.0
    assert 2.0 <= slept[1] <= 4.0  # an HTTP-date: whole seconds from now
    assert server.connections == 1  # the retried responses gave their connection back


def test_backoff_doubles_and_the_last_response_is_returned(http_server: ServerFactory) -> None:
    server = http_server()
    server.route("GET", "/down", Reply(502, b"bad gateway"))
    http, slept = client(replace(FAST, retries=3, backoff=0.5))
    with http.get(server.url("/down")) as response:
        assert response.status == 502
        with pytest.raises(StatusError, match=r"^GET http://127\.0\.0\.1:\d+/down: HTTP 502$"):
            response.raise_for_status()
    assert slept == [0.5, 1.0, 2.0]
    assert len(server.requests) == 4


def test_jitter_keeps_each_delay_within_half_to_all_of_its_step(http_server: ServerFactory) -> None:
    server = http_server()
    server.route("GET", "/down", Reply(503))
    slept: list[float] = []
    http = HttpClient(replace(FAST, retries=2, backoff=1.0), sleep=slept.append, jitter=lambda: 0.0)
    assert http.get(server.url("/down")).status == 503
    assert slept == [0.5, 1.0]


def test_the_total_sleep_is_bounded(http_server: ServerFactory) -> None:
    server = http_server()
    server.route("GET", "/later", Reply(429, headers={"Retry-After": "3600"}))
    server.route("GET", "/garbage", Reply(503, headers={"Retry-After": "soon-ish"}))
    http, slept = client(replace(FAST, max_retry_sleep=30))
    assert http.get(server.url("/later")).status == 429
    assert http.get(server.url("/garbage")).status == 503
    assert slept == [] and len(server.requests) == 2


def test_post_is_not_retried_on_5xx_unless_asked(http_server: ServerFactory) -> None:
    server = http_server()
    server.route("POST", "/create", Reply(503), Reply(503), Reply(201, b"created"))
    http, slept = client()
    assert http.request("POST", server.url("/create"), body=b"{}").status == 503
    assert len(server.requests) == 1 and slept == []
    assert http.request("POST", server.url("/create"), body=b"{}", retry=True).status == 201
    assert len(server.requests) == 3


def test_a_refused_connection_is_retried_then_named() -> None:
    http, slept = client(replace(FAST, retries=2, backoff=0.1))
    port = closed_port()
    with pytest.raises(NetworkError) as info:
        http.request("POST", f"http://127.0.0.1:{port}/x", body=b"{}")  # nothing was sent: safe even for POST
    assert str(info.value) == f"POST http://127.0.0.1:{port}/x: Connection refused"
    assert info.value.reason == "Connection refused" and info.value.status is None
    assert slept == [0.1, 0.2]


def test_a_connection_cut_mid_body_is_a_clear_error(http_server: ServerFactory) -> None:
    server = http_server()
    server.route("GET", "/blob", Reply(200, b"y" * 100_000, truncate=1000))
    http, _ = client()
    with pytest.raises(NetworkError, match=r"/blob: download broke off"):
        http.get(server.url("/blob")).read()
    with http.get(server.url("/blob")).open() as stream, pytest.raises(OSError, match="download broke off"):
        stream.read()


# -- timeouts --------------------------------------------------------------------------------------------------


def test_a_read_timeout_is_a_clear_error_and_not_retried(http_server: ServerFactory) -> None:
    server = http_server()
    server.route("GET", "/slow", Reply(200, b"late", delay=1.5))
    http, slept = client(replace(FAST, read_timeout=0.3))
    started = time.monotonic()
    with pytest.raises(HttpTimeout) as info:
        http.get(server.url("/slow"))
    assert time.monotonic() - started < 1.4
    assert str(info.value) == f"GET {server.url('/slow')}: read timed out"
    assert isinstance(info.value, InputError) and slept == []


def test_a_server_that_stops_sending_mid_body_is_a_read_timeout(http_server: ServerFactory) -> None:
    server = http_server()
    server.route("GET", "/layer", Reply(200, b"z" * 50_000, truncate=20_000, stall=3.0))
    http, _ = client(replace(FAST, read_timeout=0.3))
    started = time.monotonic()
    with pytest.raises(NetworkError, match=r"/layer: download broke off: read timed out"):
        http.get(server.url("/layer")).read()
    assert time.monotonic() - started < 2.0


def test_a_body_that_trickles_past_the_body_timeout_is_stopped(http_server: ServerFactory) -> None:
    """A byte every 50 ms never trips a 1 s read timeout; the deadline on the whole body does."""
    server = http_server()
    server.route("GET", "/state", Reply(200, b"{" + b" " * 200 + b"}", trickle=0.05))
    http, _ = client(replace(FAST, read_timeout=1.0, body_timeout=0.5))
    started = time.monotonic()
    with pytest.raises(HttpTimeout) as info:
        http.get(server.url("/state")).read()
    assert time.monotonic() - started < 2.0
    assert str(info.value) == f"GET {server.url('/state')}: body not received within 0.5s"


# -- redirects and credentials ----------------------------------------------------------------------------------


def auth_of(request: Request) -> str:
    return request.headers.get("authorization", "")


def test_a_same_origin_redirect_keeps_the_credentials(http_server: ServerFactory) -> None:
    server = http_server()
    server.route("GET", "/old", Reply(301, headers={"Location": "/new?x=1"}))
    server.route("GET", "/new", Reply(200, b"here"))
    token = bearer()
    http, _ = client()
    response = http.get(server.url("/old"), auth=token, headers={"Cookie": "s=1"})
    assert (response.read(), response.url) == (b"here", server.url("/new?x=1"))
    assert [(r.path, auth_of(r), r.headers.get("cookie")) for r in server.requests] == [
        ("/old", token, "s=1"),
        ("/new", token, "s=1"),
    ]


@pytest.mark.parametrize("hop", ["other-host", "other-port"])
def test_a_redirect_to_another_origin_drops_the_credentials_for_good(http_server: ServerFactory, hop: str) -> None:
    front, storage = http_server(), http_server()
    target = f"http://localhost:{front.port}/mid" if hop == "other-host" else storage.url("/mid")
    front.route("GET", "/start", Reply(307, headers={"Location": target}))
    (front if hop == "other-host" else storage).route(
        "GET", "/mid", Reply(302, headers={"Location": front.url("/end")})
    )
    front.route("GET", "/end", Reply(200, b"blob"))
    token = bearer()
    http, _ = client()
    assert http.get(front.url("/start"), headers={"Authorization": token}).read() == b"blob"
    seen = [(r.path, auth_of(r)) for r in front.requests + storage.requests]
    assert sorted(seen) == sorted([("/start", token), ("/mid", ""), ("/end", "")])  # not even back at the origin


def test_api_key_headers_are_credentials_too(http_server: ServerFactory) -> None:
    """The providers' own credential headers (Anthropic, GitLab, npm's one-time password) stay at the origin."""
    front, other = http_server(), http_server()
    front.route("GET", "/keys", Reply(307, headers={"Location": other.url("/keys")}))
    other.route("GET", "/keys", Reply(200, b"[]"))
    sent = {"X-Api-Key": bearer(), "PRIVATE-TOKEN": bearer(), "npm-otp": "123456", "anthropic-version": "2023-06-01"}
    http, _ = client()
    assert http.get(front.url("/keys"), headers=sent).read() == b"[]"
    assert {k: v for k, v in front.requests[0].headers.items() if k in {n.lower() for n in sent}} == {
        name.lower(): value for name, value in sent.items()
    }
    assert {n.lower() for n in sent} & set(other.requests[0].headers) == {"anthropic-version"}


def test_the_redirect_check_would_catch_a_forwarding_client(http_server: ServerFactory) -> None:
    """The same servers with urllib3's own redirects told to keep every header: the storage server does see the
    token, so the tests above would fail for a client that forwards it."""
    front, storage = http_server(), http_server()
    front.route("GET", "/blob", Reply(307, headers={"Location": storage.url("/data")}))
    storage.route("GET", "/data", Reply(200, b"blob"))
    token = bearer()
    pool = urllib3.PoolManager()
    retries = urllib3.Retry(redirect=2, remove_headers_on_redirect=[])
    assert pool.request("GET", front.url("/blob"), headers={"Authorization": token}, retries=retries).data == b"blob"
    assert auth_of(storage.requests[0]) == token


def test_https_to_http_never_carries_the_credentials(http_server: ServerFactory, test_ca: TestCA) -> None:
    secure, plain = http_server(tls=test_ca), http_server()
    secure.route("GET", "/state", Reply(302, headers={"Location": plain.url("/state")}))
    plain.route("GET", "/state", Reply(200, b"{}"))
    token = bearer()
    http, _ = client(replace(FAST, ca_bundle=test_ca.ca_file))
    assert http.get(secure.url("/state"), auth=token).read() == b"{}"
    assert auth_of(secure.requests[0]) == token
    assert auth_of(plain.requests[0]) == ""


def test_redirect_limits_schemes_and_post_to_get(http_server: ServerFactory) -> None:
    server = http_server()
    server.route("GET", "/loop", Reply(302, headers={"Location": "/loop"}))
    server.route("GET", "/ftp", Reply(302, headers={"Location": "ftp://127.0.0.1/x"}))
    server.route("POST", "/form", Reply(303, headers={"Location": "/result"}))
    server.route("GET", "/result", lambda request: Reply(200, f"{request.method} {len(request.body)}".encode()))
    http, _ = client(replace(FAST, max_redirects=3))
    with pytest.raises(TooManyRedirects, match=r"/loop: more than 3 redirects"):
        http.get(server.url("/loop"))
    with pytest.raises(HttpError, match=r"^GET ftp://127\.0\.0\.1/x: not an http\(s\) URL"):
        http.get(server.url("/ftp"))
    assert http.request("POST", server.url("/form"), body=b"a=1").read() == b"GET 0"


def test_plain_http_can_be_refused_per_host(http_server: ServerFactory) -> None:
    server = http_server()
    server.route("GET", "/x", Reply(302, headers={"Location": f"http://localhost:{server.port}/y"}))
    http, _ = client(allow_plain_http=lambda host, port: host == "127.0.0.1")
    with pytest.raises(HttpError, match=rf"^GET http://localhost:{server.port}/y: refusing plain HTTP"):
        http.get(server.url("/x"))


# -- proxies ---------------------------------------------------------------------------------------------------


def test_http_proxy_forwards_and_no_proxy_bypasses(http_server: ServerFactory, http_proxy: LoopbackProxy) -> None:
    server = http_server()
    server.route("GET", "/p", Reply(200, b"via"))
    http, _ = client(HttpSettings.from_environment({"HTTP_PROXY": http_proxy.url, "NO_PROXY": "example.com"}))
    assert http.get(server.url("/p")).read() == b"via"
    assert [(m, t) for m, t, _ in http_proxy.seen] == [("GET", server.url("/p"))]

    for no_proxy in ("127.0.0.1", f"127.0.0.1:{server.port}", "127.0.0.0/8", "*"):
        http, _ = client(HttpSettings.from_environment({"http_proxy": http_proxy.url, "no_proxy": no_proxy}))
        assert http.get(server.url("/p")).read() == b"via"
    assert len(http_proxy.seen) == 1
    http, _ = client(HttpSettings.from_environment({"http_proxy": http_proxy.url, "no_proxy": "127.0.0.1:1"}))
    assert http.get(server.url("/p")).read() == b"via"
    assert len(http_proxy.seen) == 2  # another port: still proxied


def test_https_proxy_tunnels_once_and_sends_its_own_credentials(
    http_server: ServerFactory, http_proxy: LoopbackProxy, test_ca: TestCA
) -> None:
    server = http_server(tls=test_ca)
    server.route("GET", "/s", Reply(200, b"tunnelled"))
    password = secrets.token_hex(12)
    proxy_url = http_proxy.url.replace("http://", f"http://ops:{password}@")
    settings = replace(HttpSettings.from_environment({"HTTPS_PROXY": proxy_url}), ca_bundle=test_ca.ca_file)
    http, _ = client(settings)
    for _ in range(3):
        assert http.get(server.url("/s")).read() == b"tunnelled"
    assert [(m, t) for m, t, _ in http_proxy.seen] == [("CONNECT", f"127.0.0.1:{server.port}")]
    assert http_proxy.seen[0][2].startswith("Basic ")
    assert server.connections == 1
    assert "proxy-authorization" not in server.requests[0].headers


def test_a_dead_proxy_is_named_without_its_password() -> None:
    password = secrets.token_hex(12)
    proxy = f"http://ops:{password}@127.0.0.1:{closed_port()}"
    http, _ = client(replace(HttpSettings.from_environment({"HTTPS_PROXY": proxy}), retries=0))
    with pytest.raises(NetworkError) as info:
        http.get("https://127.0.0.1:9/x")
    assert str(info.value) == "GET https://127.0.0.1:9/x: proxy failed: Connection refused"
    assert password not in str(info.value)


def test_settings_from_the_environment() -> None:
    assert HttpSettings.from_environment({}) == HttpSettings()
    settings = HttpSettings.from_environment(
        {"HTTPS_PROXY": "http://upper:1", "https_proxy": "lower:3128", "NO_PROXY": " .corp.example, ,localhost "}
    )
    assert settings.https_proxy == "http://lower:3128" and settings.http_proxy == ""
    assert settings.no_proxy == ("corp.example", "localhost")
    assert settings.proxy_for("https") == "http://lower:3128" and settings.proxy_for("ftp") == ""
    cgi = HttpSettings.from_environment({"HTTP_PROXY": "http://attacker:1", "REQUEST_METHOD": "GET"})
    assert cgi.http_proxy == ""  # httpoxy: in CGI, HTTP_PROXY is a request header


# -- TLS -------------------------------------------------------------------------------------------------------


def test_a_ca_bundle_makes_a_private_ca_trusted(http_server: ServerFactory, test_ca: TestCA, tmp_path: Path) -> None:
    server = http_server(tls=test_ca)
    server.route("GET", "/t", Reply(200, b"trusted"))
    http, _ = client(replace(FAST, ca_bundle=test_ca.ca_file))
    assert http.get(server.url("/t")).read() == b"trusted"
    http, slept = client()
    with pytest.raises(NetworkError, match=r"^GET https://127\.0\.0\.1:\d+/t: TLS error: certificate verify failed"):
        http.get(server.url("/t"))
    assert slept == []  # a certificate problem is not retried
    http, _ = client(replace(FAST, ca_bundle=tmp_path / "missing.pem"))
    with pytest.raises(InputError, match=r"missing\.pem: CA bundle not found"):
        http.get(server.url("/t"))


# -- the size cap ----------------------------------------------------------------------------------------------


def chunked(data: bytes, size: int = 4096) -> bytes:
    parts = [
        f"{len(data[i : i + size]):x}\r\n".encode() + data[i : i + size] + b"\r\n" for i in range(0, len(data), size)
    ]
    return b"".join(parts) + b"0\r\n\r\n"


def test_bodies_past_the_cap_stop_with_a_clear_error(http_server: ServerFactory) -> None:
    server = http_server()
    server.route("GET", "/sized", Reply(200, b"z" * 50_000))
    server.route("GET", "/stream", Reply(200, chunked(b"z" * 50_000), headers={"Transfer-Encoding": "chunked"}))
    http, _ = client(replace(FAST, max_response_size=100_000))
    with pytest.raises(ResponseTooLarge, match=r"/sized: response of 50000 bytes is over the 10000-byte cap"):
        http.get(server.url("/sized"), max_size=10_000)
    with pytest.raises(ResponseTooLarge, match=r"/stream: response over the 10000-byte cap"):
        http.get(server.url("/stream"), max_size=10_000).read()
    with http.get(server.url("/stream"), max_size=10_000).open() as stream, pytest.raises(OSError, match="cap"):
        stream.read()
    assert http.get(server.url("/stream")).read() == b"z" * 50_000
    http, _ = client(replace(FAST, max_response_size=1000))
    with pytest.raises(ResponseTooLarge):
        http.get(server.url("/sized"), max_size=10**9)  # the settings' cap bounds every call


# -- errors ----------------------------------------------------------------------------------------------------


def test_errors_never_show_a_credential(http_server: ServerFactory) -> None:
    server = http_server()
    server.route("GET", "/api", Reply(401, b"no"))
    server.route("GET", "/slow", Reply(200, delay=1))
    token, password = secrets.token_hex(16), secrets.token_hex(16)
    http, _ = client(replace(FAST, read_timeout=0.2, retries=0))
    base = f"http://user:{password}@127.0.0.1:{server.port}"
    failures: list[HttpError] = []
    response = http.get(f"{base}/api?private_token={token}", auth=f"Bearer {token}")
    with pytest.raises(HttpError) as info:
        response.raise_for_status()
    failures.append(info.value)
    with pytest.raises(HttpError) as info:
        http.get(f"{base}/slow?access_token={token}", auth=f"Bearer {token}")
    failures.append(info.value)
    with pytest.raises(HttpError) as info:
        http.get(f"http://user:{password}@127.0.0.1:{closed_port()}/x?sig={token}", auth=f"Bearer {token}")
    failures.append(info.value)
    for error in failures:
        text = f"{error} {error.url} {error.reason} {error!r}"
        assert token not in text and password not in text and "user" not in text
    assert str(failures[0]) == f"GET http://127.0.0.1:{server.port}/api: HTTP 401"


def test_error_types_form_one_tree() -> None:
    for kind in (NetworkError, HttpTimeout, StatusError, TooManyRedirects, ResponseTooLarge):
        assert issubclass(kind, HttpError) and issubclass(kind, InputError)
    assert shown_url("https://u:p@[::1]:8443/a/b?sig=x#f") == "https://[::1]:8443/a/b"


# -- parsers (hypothesis) --------------------------------------------------------------------------------------

labels = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,8}[a-z0-9])?", fullmatch=True)
domains = st.lists(labels, min_size=1, max_size=4).map(".".join)


@given(domains, domains, st.integers(1, 65535))
def test_no_proxy_matches_the_host_and_its_subdomains_only(host: str, other: str, port: int) -> None:
    assert bypasses_proxy(host, port, parse_no_proxy(host))
    assert bypasses_proxy(f"api.{host}", port, parse_no_proxy(f" .{host.upper()} "))
    assert bypasses_proxy(host, port, parse_no_proxy(f"{host}:{port}"))
    assert not bypasses_proxy(host, port, parse_no_proxy(f"{host}:{port % 65535 + 1}"))
    assert bypasses_proxy(host, port, parse_no_proxy("*"))
    if host != other and not host.endswith("." + other):
        assert not bypasses_proxy(host, port, parse_no_proxy(other))
        assert not bypasses_proxy(f"x{other}", port, parse_no_proxy(other))  # a suffix, not a subdomain


@given(st.ip_addresses(v=4), st.integers(8, 32))
def test_no_proxy_ip_entries_and_ranges(address: object, prefix: int) -> None:
    import ipaddress

    network = ipaddress.ip_network(f"{address}/{prefix}", strict=False)
    assert bypasses_proxy(str(address), 80, parse_no_proxy(f"{network}, example.com"))
    assert bypasses_proxy(str(address), 80, parse_no_proxy(str(address)))
    assert not bypasses_proxy(str(address), 80, parse_no_proxy(str(address) + "0"))
    assert bypasses_proxy("::1", 443, parse_no_proxy("[::1]:443")) and not bypasses_proxy("::1", 80, ("::2",))


@given(st.integers(0, 10**12))
def test_retry_after_in_seconds(seconds: int) -> None:
    assert parse_retry_after(str(seconds), now=0) == float(min(seconds, 10**9))
    assert parse_retry_after(f"  {seconds}\t", now=0) == float(min(seconds, 10**9))


@given(st.integers(-(10**6), 10**6))
def test_retry_after_as_an_http_date(offset: int) -> None:
    now = 1_800_000_000.0
    text = format_datetime(datetime.fromtimestamp(now + offset, timezone.utc), usegmt=True)
    assert parse_retry_after(text, now=now) == float(max(offset, 0))


@given(st.text(max_size=40))
def test_retry_after_never_raises(text: str) -> None:
    delay = parse_retry_after(text, now=0)
    assert delay is None or 0 <= delay <= 1e9
    if text.strip().startswith("-"):
        assert delay is None
