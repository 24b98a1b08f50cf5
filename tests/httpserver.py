"""Loopback HTTP(S) servers for tests of HTTP clients: real sockets, real threads, nothing leaves 127.0.0.1.

    def test_x(http_server: ServerFactory) -> None:
        api = http_server()                                  # http://127.0.0.1:<ephemeral port>
        api.route("GET", "/v1/thing", Reply(503, headers={"Retry-After": "1"}), Reply(200, b"ok"))
        api.route("POST", "/v1/echo", lambda request: Reply(200, request.body))
        ... client code against api.url("/v1/thing") ...
        assert [r.path for r in api.requests] == ["/v1/thing", "/v1/thing"] and api.connections == 1

A route holds a script: each request takes the next reply (a :class:`Reply` or a callable making one from the
:class:`Request`), and the last one answers every request after it. Unrouted requests get 404. Every request is
recorded (method, path, query, lower-cased headers, body, and which TCP connection it came on); ``connections``
counts accepted connections, so a test can show keep-alive reuse. ``Reply`` can be slow (``delay``), cut the
body short (``truncate``), or close the connection. ``http_server(tls=test_ca)`` serves HTTPS with a certificate
for 127.0.0.1 and localhost signed by a CA made in the test with the openssl CLI; :class:`LoopbackProxy` is a
forward proxy (absolute-URI requests) and a CONNECT tunnel, to loopback targets only.
"""

from __future__ import annotations

import http.client
import http.server
import select
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})


@dataclass(frozen=True)
class Reply:
    status: int = 200
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds to wait before answering (a slow server, for timeouts)
    truncate: int | None = None  # send only this many body bytes, then close (Content-Length stays the full size)
    close: bool = False  # close the connection after this reply
    stall: float = 0.0  # after the (truncated) body, seconds to keep the connection open sending nothing
    trickle: float = 0.0  # seconds between two body bytes (a server slow enough never to trip a read timeout)


@dataclass(frozen=True)
class Request:
    method: str
    path: str  # without the query
    query: str
    headers: dict[str, str]  # lower-cased names
    body: bytes
    connection: int  # 1 for the server's first accepted connection, 2 for the next, ...


Answer = Reply | Callable[[Request], Reply]


@dataclass
class TestCA:
    """A CA and a server certificate for 127.0.0.1 / localhost, made with the openssl CLI in ``root``."""

    __test__ = False  # not a test class, whatever its name
    root: Path

    @property
    def ca_file(self) -> Path:
        return self.root / "ca.pem"

    def server_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.root / "server.pem", self.root / "server.key")
        return context

    @classmethod
    def make(cls, root: Path) -> TestCA:
        root.mkdir(parents=True, exist_ok=True)
        ec = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")
        _openssl(
            *("req", "-x509", *ec, "-days", "2", "-subj", "/CN=leakstop test CA"),
            *("-keyout", str(root / "ca.key"), "-out", str(root / "ca.pem")),
            *("-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"),
        )
        _openssl("req", *ec, "-subj", "/CN=localhost", "-keyout", str(root / "server.key"), "-out", str(root / "csr"))
        (root / "ext.cnf").write_text(
            "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=critical,CA:FALSE\n"
            "keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n"
            "subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n"
        )
        _openssl(
            *("x509", "-req", "-in", str(root / "csr"), "-CA", str(root / "ca.pem"), "-CAkey", str(root / "ca.key")),
            *("-CAcreateserial", "-days", "2", "-extfile", str(root / "ext.cnf"), "-out", str(root / "server.pem")),
        )
        return cls(root)


def _openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=60)


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    owner: LoopbackServer | LoopbackProxy

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that hangs up (a timeout test, a refused TLS handshake) is not the test's failure


class LoopbackServer:
    """One server on 127.0.0.1 at an ephemeral port; see the module docstring."""

    def __init__(self, tls: TestCA | None = None) -> None:
        self.requests: list[Request] = []
        self.connections = 0
        self._routes: dict[tuple[str, str], list[Answer]] = {}
        self._lock = threading.Lock()
        self._tls = tls.server_context() if tls else None
        self._httpd = _Server(("127.0.0.1", 0), _Handler)
        self._httpd.owner = self
        if self._tls is not None:
            self._httpd.socket = self._tls.wrap_socket(
                self._httpd.socket, server_side=True, do_handshake_on_connect=False
            )
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def base(self) -> str:
        return f"{'https' if self._tls else 'http'}://127.0.0.1:{self.port}"

    def url(self, path: str = "/") -> str:
        return self.base + path

    def route(self, method: str, path: str, *answers: Answer) -> None:
        with self._lock:
            self._routes[(method.upper(), path)] = list(answers) or [Reply()]

    def answer(self, request: Request) -> Reply:
        with self._lock:
            self.requests.append(request)
            script = self._routes.get((request.method, request.path))
            if not script:
                return Reply(404, b"not found")
            answer = script.pop(0) if len(script) > 1 else script[0]
        return answer(request) if callable(answer) else answer

    def next_connection(self) -> int:
        with self._lock:
            self.connections += 1
            return self.connections

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=10)


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, so clients can reuse connections
    server: _Server

    def setup(self) -> None:
        if isinstance(self.request, ssl.SSLSocket):
            self.request.settimeout(10)
            self.request.do_handshake()
        super().setup()
        owner = self.server.owner
        self.connection_number = owner.next_connection() if isinstance(owner, LoopbackServer) else 0

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _dispatch(self) -> None:
        owner = self.server.owner
        assert isinstance(owner, LoopbackServer)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        path, _, query = self.path.partition("?")
        headers = {k.lower(): v for k, v in self.headers.items()}
        reply = owner.answer(Request(self.command, path, query, headers, body, self.connection_number))
        if reply.delay:
            time.sleep(reply.delay)
        self.send_response(reply.status)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        if not {"content-length", "transfer-encoding"} & {k.lower() for k in reply.headers}:
            self.send_header("Content-Length", str(len(reply.body)))
        if reply.close or reply.truncate is not None:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if self.command != "HEAD":
            body = reply.body if reply.truncate is None else reply.body[: reply.truncate]
            for piece in [body[i : i + 1] for i in range(len(body))] if reply.trickle else [body]:
                self.wfile.write(piece)
                self.wfile.flush()
                time.sleep(reply.trickle)
            time.sleep(reply.stall)

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_LOCK = do_UNLOCK = _dispatch


class LoopbackProxy:
    """An HTTP proxy on 127.0.0.1: forwards absolute-URI requests and tunnels CONNECT, to loopback hosts only.
    ``seen`` records ``(method, target, Proxy-Authorization)`` per proxied request or tunnel."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str, str]] = []
        self._httpd = _Server(("127.0.0.1", 0), _ProxyHandler)
        self._httpd.owner = self
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=10)


class _ProxyHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _record(self, target: str) -> None:
        assert isinstance(self.server.owner, LoopbackProxy)
        self.server.owner.seen.append((self.command, target, self.headers.get("Proxy-Authorization", "")))

    def do_CONNECT(self) -> None:
        self._record(self.path)
        host, _, port = self.path.rpartition(":")
        if host.strip("[]") not in LOOPBACK:
            self.send_error(403, "loopback targets only")
            return
        with socket.create_connection((host.strip("[]"), int(port)), timeout=10) as upstream:
            self.send_response(200, "Connection established")
            self.end_headers()
            relay(self.connection, upstream)
        self.close_connection = True

    def _forward(self) -> None:
        self._record(self.path)
        parts = urlsplit(self.path)
        if parts.scheme != "http" or (parts.hostname or "") not in LOOPBACK:
            self.send_error(403, "absolute http:// URLs to loopback hosts only")
            return
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("proxy-authorization", "connection")}
        conn = http.client.HTTPConnection(parts.hostname or "", parts.port or 80, timeout=10)
        try:
            conn.request(self.command, parts.path + (f"?{parts.query}" if parts.query else ""), body, headers)
            response = conn.getresponse()
            data = response.read()
        finally:
            conn.close()
        self.send_response(response.status)
        for name, value in response.getheaders():
            if name.lower() not in ("connection", "transfer-encoding", "content-length", "keep-alive"):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_LOCK = do_UNLOCK = _forward


def relay(client: socket.socket, upstream: socket.socket, idle: float = 10) -> None:
    """Copy bytes both ways until either side closes or both stay quiet for ``idle`` seconds."""
    sockets = [client, upstream]
    while True:
        readable, _, _ = select.select(sockets, [], [], idle)
        if not readable:
            return
        for sock in readable:
            data = sock.recv(65536)
            if not data:
                return
            (upstream if sock is client else client).sendall(data)


class ServerFactory(Protocol):
    def __call__(self, tls: TestCA | None = None) -> LoopbackServer: ...


@dataclass
class Servers:
    """What the ``http_server`` fixture starts; all stopped at teardown."""

    started: list[LoopbackServer | LoopbackProxy] = field(default_factory=list)

    def server(self, tls: TestCA | None = None) -> LoopbackServer:
        server = LoopbackServer(tls)
        self.started.append(server)
        return server

    def proxy(self) -> LoopbackProxy:
        proxy = LoopbackProxy()
        self.started.append(proxy)
        return proxy

    def stop_all(self) -> None:
        for server in self.started:
            server.stop()
