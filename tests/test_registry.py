"""Pulling images from a registry: a real ``docker-registry`` (distribution 2.x) on loopback, filled with skopeo.

Three registries, each started once per session when a test first needs it: anonymous; Basic auth (htpasswd with a
bcrypt hash made here); token auth (the registry verifies RS256 JWTs against a certificate made here with openssl;
the realm is a small token server in this file that speaks distribution's token protocol, so the whole Bearer flow
runs against the real registry). Cross-host redirects use two small proxies in front of the Basic-auth registry.
Without docker-registry or skopeo (``apt-get install -y docker-registry skopeo``) the tests skip, unless ``CI`` is
set: then they fail.
"""

from __future__ import annotations

import base64
import contextlib
import gzip
import http.client
import http.server
import json
import os
import shutil
import socket
import subprocess
import threading
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from helpers import MakeConfig, RunCli
from httpserver import Reply, relay
from test_image import image_config, layer, sha
from tokens import TokenFactory

from scanner.errors import InputError
from scanner.sources import dockerauth
from scanner.sources.registry import (
    Reference,
    RegistryClient,
    RegistryOptions,
    load_credentials,
    parse_reference,
    select_platform,
)

USER = "leakstop-test"


def _require_tools() -> None:
    missing = [tool for tool in ("docker-registry", "skopeo", "openssl") if shutil.which(tool) is None]
    if missing:
        message = f"{', '.join(missing)} not installed (apt-get install -y docker-registry skopeo)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


# -- OCI layouts built here ----------------------------------------------------------------------------------


@dataclass
class Layout:
    """An OCI image layout directory under construction: blobs by digest and tagged top-level entries."""

    root: Path
    entries: list[dict[str, Any]] = field(default_factory=list)

    def blob(self, data: bytes, media: str) -> dict[str, Any]:
        path = self.root / "blobs" / "sha256" / sha(data)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        return {"mediaType": media, "digest": f"sha256:{sha(data)}", "size": len(data)}

    def image(self, layers: list[bytes], config: dict[str, Any], media: str = "tar+gzip") -> dict[str, Any]:
        manifest = {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": self.blob(json.dumps(config).encode(), "application/vnd.oci.image.config.v1+json"),
            "layers": [self.blob(b, f"application/vnd.oci.image.layer.v1.{media}") for b in layers],
        }
        return self.blob(json.dumps(manifest).encode(), manifest["mediaType"])

    def index(self, images: list[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
        manifests = []
        for platform, desc in images:
            os_, arch, *variant = platform.split("/")
            plat = {"os": os_, "architecture": arch} | ({"variant": variant[0]} if variant else {})
            manifests.append({**desc, "platform": plat})
        doc = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": manifests}
        return self.blob(json.dumps(doc).encode(), doc["mediaType"])

    def tag(self, desc: dict[str, Any], tag: str) -> None:
        self.entries.append({**desc, "annotations": {"org.opencontainers.image.ref.name": tag}})
        (self.root / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
        (self.root / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": self.entries}))


# -- the registry and its helpers ----------------------------------------------------------------------------


@dataclass
class Registry:
    host: str  # 127.0.0.1:<port>
    storage: Path
    process: subprocess.Popen[bytes]
    creds: str = ""  # user:password for pushing, when the registry wants auth

    def push(self, layout: Path, tag: str, name: str, all_platforms: bool = False) -> str:
        argv = ["skopeo", "--insecure-policy", "copy", "--quiet", "--dest-tls-verify=false"]
        argv += ["--all"] if all_platforms else []
        argv += ["--dest-creds", self.creds] if self.creds else []
        argv += [f"oci:{layout}:{tag}", f"docker://{self.host}/{name}"]
        subprocess.run(argv, check=True, capture_output=True, timeout=120)
        return f"{self.host}/{name}"

    def blob_file(self, digest: str) -> Path:
        hexdigest = digest.removeprefix("sha256:")
        return self.storage / "docker/registry/v2/blobs/sha256" / hexdigest[:2] / hexdigest / "data"


def start_registry(root: Path, auth: dict[str, Any] | None = None) -> Registry:
    _require_tools()
    port = free_port()
    storage = root / "storage"
    config: dict[str, Any] = {
        "version": 0.1,
        "log": {"level": "error", "accesslog": {"disabled": True}},
        "storage": {"filesystem": {"rootdirectory": str(storage)}, "delete": {"enabled": True}},
        "http": {"addr": f"127.0.0.1:{port}"},
    }
    if auth:
        config["auth"] = auth
    config_file = root / "config.yml"
    config_file.write_text(json.dumps(config))  # JSON is YAML
    log = (root / "registry.log").open("wb")
    process = subprocess.Popen(["docker-registry", "serve", str(config_file)], stdout=log, stderr=log)
    log.close()
    deadline = time.monotonic() + 20
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                process.wait()
                pytest.fail(f"docker-registry did not start: {(root / 'registry.log').read_text()[-2000:]}")
            time.sleep(0.05)
    return Registry(f"127.0.0.1:{port}", storage, process)


def stop(registry: Registry) -> None:
    registry.process.terminate()
    try:
        registry.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        registry.process.kill()
        registry.process.wait()


class Handler(http.server.BaseHTTPRequestHandler):
    """A loopback test server's handler: quiet, and it drops the client's HTTPS attempt (Docker's fallback order)."""

    def handle(self) -> None:
        if self.request.recv(1, socket.MSG_PEEK) == b"\x16":  # a TLS ClientHello, not HTTP
            return
        super().handle()

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@contextlib.contextmanager
def serve(handler: type[Handler], host: str = "127.0.0.1") -> Iterator[http.server.ThreadingHTTPServer]:
    server = http.server.ThreadingHTTPServer((host, 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass
class TokenIssuer:
    """The realm of distribution's token auth (docs/spec/auth/token.md): RS256 JWTs with an ``x5c`` certificate.

    Valid credentials get the actions they ask for; no credentials get ``pull`` on ``public/*`` only (and an empty
    grant elsewhere, as Docker Hub's anonymous tokens do); wrong credentials get a 401.
    """

    key: Path
    cert: str  # base64 DER, for the x5c header
    users: dict[str, str]
    service: str = "leakstop-test-registry"
    issuer: str = "leakstop-test-issuer"
    token_field: str = "token"  # "token" or "access_token": a client must accept either
    seen: list[tuple[str, str]] = field(default_factory=list)  # (Authorization header, query)

    def sign(self, claims: dict[str, Any]) -> str:
        header = {"typ": "JWT", "alg": "RS256", "x5c": [self.cert]}
        signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(claims).encode())}".encode()
        signature = subprocess.run(
            ["openssl", "dgst", "-sha256", "-sign", str(self.key)], input=signing_input, capture_output=True, check=True
        ).stdout
        return f"{signing_input.decode()}.{b64url(signature)}"

    def answer(self, authorization: str, query: str) -> tuple[int, bytes]:
        self.seen.append((authorization, query))
        params = urllib.parse.parse_qs(query)
        user = ""
        if authorization:
            decoded = base64.b64decode(authorization.removeprefix("Basic ")).decode()
            name, _, password = decoded.partition(":")
            if self.users.get(name) != password:
                return 401, b'{"details": "invalid credentials"}'
            user = name
        access = []
        for scope in params.get("scope", []):
            kind, name, actions = scope.split(":")
            granted = actions.split(",") if user else ["pull"] if name.startswith("public/") else []
            access.append({"type": kind, "name": name, "actions": granted})
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "sub": user,
            "aud": self.service,
            "exp": now + 300,
            "nbf": now - 10,
            "iat": now,
            "jti": os.urandom(8).hex(),
            "access": access,
        }
        return 200, json.dumps({self.token_field: self.sign(claims), "expires_in": 300}).encode()


def token_handler(issuer: TokenIssuer) -> type[Handler]:
    class TokenHandler(Handler):
        def do_GET(self) -> None:
            status, body = issuer.answer(self.headers.get("Authorization", ""), urllib.parse.urlsplit(self.path).query)
            self.send(status, body, {"Content-Type": "application/json"})

    return TokenHandler


def make_issuer(root: Path, users: dict[str, str]) -> TokenIssuer:
    key, cert = root / "token.key", root / "token.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2"),
            *("-subj", "/CN=leakstop test token", "-keyout", str(key), "-out", str(cert)),
        ],
        check=True,
        capture_output=True,
    )
    der = subprocess.run(
        ["openssl", "x509", "-in", str(cert), "-outform", "DER"], check=True, capture_output=True
    ).stdout
    return TokenIssuer(key, base64.b64encode(der).decode(), users)


def htpasswd_line(user: str, password: str) -> str:
    import bcrypt

    return f"{user}:{bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=5)).decode()}\n"


# -- session fixtures: registries with images in them --------------------------------------------------------


@dataclass
class Pushed:
    registry: Registry
    secrets: dict[str, str] = field(default_factory=dict)  # what -> token
    refs: dict[str, str] = field(default_factory=dict)  # what -> reference
    digests: dict[str, str] = field(default_factory=dict)  # what -> a blob digest


def _simple_image(root: Path, tokens: TokenFactory, pushed: Pushed, what: str) -> Layout:
    secret, env = tokens.github_clean(), tokens.github_clean()
    pushed.secrets[what], pushed.secrets[f"{what}-env"] = secret, env
    layout = Layout(root / what)
    base = gzip.compress(layer({"etc/app/credentials": f"token={secret}\n".encode()}))
    pushed.digests[what] = f"sha256:{sha(base)}"
    layout.tag(layout.image([base], image_config([], [f"GH_TOKEN={env}"], ["ADD creds /etc/app"])), "v1")
    return layout


@pytest.fixture(scope="session")
def anonymous_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pushed]:
    root = tmp_path_factory.mktemp("anonymous-registry")
    registry = start_registry(root)
    try:
        tokens = TokenFactory()
        pushed = Pushed(registry)
        layout = _simple_image(root, tokens, pushed, "app")
        pushed.refs["app"] = registry.push(layout.root, "v1", "acme/app:1")

        multi = Layout(root / "multi")
        images = []
        for platform in ("linux/amd64", "linux/arm64/v8"):
            pushed.secrets[platform] = secret = tokens.github_clean()
            blob = gzip.compress(layer({"srv/key": f"t={secret}\n".encode()}))
            config = image_config([], [], []) | {"architecture": platform.split("/")[1]}
            images.append((platform, multi.image([blob], config)))
        multi.tag(multi.index(images), "v1")
        pushed.refs["multi"] = registry.push(multi.root, "v1", "acme/multi:2", all_platforms=True)

        bad = Layout(root / "bad")
        pushed.secrets["bad"] = secret = tokens.github_clean()
        blob = gzip.compress(layer({"x.txt": f"t={secret}\n".encode()}), mtime=0)
        pushed.digests["bad"] = f"sha256:{sha(blob)}"
        bad.tag(bad.image([blob], image_config([], [], [])), "v1")
        pushed.refs["bad"] = registry.push(bad.root, "v1", "acme/bad:1")
        # Another gzip MTIME in the stored blob: the layer still reads, its bytes no longer hash to the digest.
        stored = registry.blob_file(pushed.digests["bad"])
        data = stored.read_bytes()
        stored.write_bytes(data[:4] + b"\x01\x02\x03\x04" + data[8:])
        yield pushed
    finally:
        stop(registry)


@pytest.fixture(scope="session")
def basic_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pushed]:
    root = tmp_path_factory.mktemp("basic-registry")
    password = TokenFactory().password()
    (root / "htpasswd").write_text(htpasswd_line(USER, password))
    registry = start_registry(root, {"htpasswd": {"realm": "leakstop-test", "path": str(root / "htpasswd")}})
    registry.creds = f"{USER}:{password}"
    try:
        pushed = Pushed(registry)
        layout = _simple_image(root, TokenFactory(), pushed, "app")
        pushed.refs["app"] = registry.push(layout.root, "v1", "team/app:1")
        yield pushed
    finally:
        stop(registry)


@dataclass
class TokenRegistry:
    pushed: Pushed
    issuer: TokenIssuer
    realm: str


@pytest.fixture(scope="session")
def token_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TokenRegistry]:
    _require_tools()
    root = tmp_path_factory.mktemp("token-registry")
    password = TokenFactory().password()
    issuer = make_issuer(root, {USER: password})
    with serve(token_handler(issuer)) as realm_server:
        realm = f"http://127.0.0.1:{realm_server.server_address[1]}/token"
        auth = {
            "token": {
                "realm": realm,
                "service": issuer.service,
                "issuer": issuer.issuer,
                "rootcertbundle": str(root / "token.pem"),
            }
        }
        registry = start_registry(root, auth)
        registry.creds = f"{USER}:{password}"
        try:
            pushed = Pushed(registry)
            tokens = TokenFactory()
            for what, name in (("public", "public/app:1"), ("private", "private/app:1")):
                layout = _simple_image(root, tokens, pushed, what)
                pushed.refs[what] = registry.push(layout.root, "v1", name)
            yield TokenRegistry(pushed, issuer, realm)
        finally:
            stop(registry)


# -- per-test helpers ----------------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def docker_config_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test has its own (empty) docker config directory: a developer's ~/.docker never counts."""
    directory = tmp_path / "docker-config"
    directory.mkdir()
    monkeypatch.setenv("DOCKER_CONFIG", str(directory))
    return directory


def write_docker_config(directory: Path, host: str, creds: str) -> Path:
    path = directory / "config.json"
    path.write_text(json.dumps({"auths": {host: {"auth": base64.b64encode(creds.encode()).decode()}}}))
    return path


@pytest.fixture
def config(make_config: MakeConfig) -> Path:
    return make_config(("github-pat",))


def scan(run_cli: RunCli, config: Path, *argv: str) -> tuple[int, dict[str, Any], str]:
    code, out, err = run_cli("scan", *argv, "-c", config, "-f", "json", "--show-secrets")
    return code, (json.loads(out) if out.strip() else {}), err


def by_secret(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f["secret"]: f["location"] for f in report["findings"]}


def assert_no_secret_in(text: str, *secrets: str) -> None:
    for secret in secrets:
        assert secret not in text
        assert base64.b64encode(f"{USER}:{secret}".encode()).decode() not in text


# -- anonymous pulls -----------------------------------------------------------------------------------------


def test_anonymous_pull_scans_layers_and_config(anonymous_registry: Pushed, run_cli: RunCli, config: Path) -> None:
    ref = anonymous_registry.refs["app"]
    secrets = anonymous_registry.secrets

    code, report, err = scan(run_cli, config, "--image", ref)

    assert code == 1, err
    found = by_secret(report)
    assert set(found) == {secrets["app"], secrets["app-env"]}
    assert found[secrets["app"]]["path"] == f"{ref}!{anonymous_registry.digests['app']}!etc/app/credentials"
    assert found[secrets["app-env"]]["path"] == f"{ref}!config"
    assert report["issues"] == []


def test_a_multi_platform_index_pulls_the_platform_asked_for(
    anonymous_registry: Pushed, run_cli: RunCli, config: Path
) -> None:
    ref, secrets = anonymous_registry.refs["multi"], anonymous_registry.secrets

    code, report, _ = scan(run_cli, config, "--image", ref)
    assert code == 1 and set(by_secret(report)) == {secrets["linux/amd64"]}

    for platform in ("linux/arm64", "linux/arm64/v8"):
        code, report, _ = scan(run_cli, config, "--image", ref, "--platform", platform)
        assert code == 1 and set(by_secret(report)) == {secrets["linux/arm64/v8"]}, platform

    code, _, err = scan(run_cli, config, "--image", ref, "--platform", "linux/s390x")
    assert code == 2
    assert err.strip() == (
        f"leakstop: error: {ref}: no manifest for platform linux/s390x; available: linux/amd64, linux/arm64/v8"
        " (choose with --platform)"
    )


def test_a_layer_that_does_not_match_its_digest_is_reported_and_still_scanned(
    anonymous_registry: Pushed, run_cli: RunCli, config: Path
) -> None:
    code, report, _ = scan(run_cli, config, "--image", anonymous_registry.refs["bad"])

    assert code == 1
    assert set(by_secret(report)) == {anonymous_registry.secrets["bad"]}
    assert [(i["reason"], anonymous_registry.digests["bad"] in i["message"]) for i in report["issues"]] == [
        ("digest-mismatch", True)
    ]


def test_unknown_tag_and_repository_are_one_line_errors(
    anonymous_registry: Pushed, run_cli: RunCli, config: Path
) -> None:
    host = anonymous_registry.registry.host
    code, out, err = run_cli("scan", "--image", f"{host}/acme/app:nosuch", "-c", config)
    assert (code, out) == (2, "")
    assert err.strip() == (
        f"leakstop: error: {host}/acme/app:nosuch: manifest nosuch: HTTP 404 not found"
        " (MANIFEST_UNKNOWN: manifest unknown)"
    )
    code, _, err = run_cli("scan", "--image", f"{host}/acme/nothing-here", "-c", config)
    assert err.strip().startswith(f"leakstop: error: {host}/acme/nothing-here: manifest latest: HTTP 404 not found")
    assert code == 2 and len(err.strip().splitlines()) == 1


def test_an_unreachable_registry_is_exit_2_naming_it(run_cli: RunCli, config: Path) -> None:
    port = free_port()  # closed again: nothing listens there
    code, out, err = run_cli("scan", "--image", f"127.0.0.1:{port}/acme/app:1", "-c", config)
    assert (code, out) == (2, "")
    assert err.startswith(f"leakstop: error: 127.0.0.1:{port}: registry unreachable at 127.0.0.1:{port}: https: ")
    assert "http: Connection refused" in err and len(err.strip().splitlines()) == 1


def test_plain_http_is_refused_for_a_remote_registry_unless_allowed(run_cli: RunCli, config: Path) -> None:
    """registry.invalid never resolves: the error shows which schemes were tried, HTTPS only by default."""
    code, _, err = run_cli("scan", "--image", "registry.invalid/acme/app:1", "-c", config)
    assert code == 2 and "registry unreachable" in err and "https: " in err and "; http: " not in err
    code, _, err = run_cli(
        "scan", "--image", "registry.invalid/acme/app:1", "--insecure-registry", "registry.invalid", "-c", config
    )
    assert code == 2 and "; http: " in err


# -- Basic auth ----------------------------------------------------------------------------------------------


def test_basic_auth_with_credentials_from_the_docker_config(
    basic_registry: Pushed, run_cli: RunCli, config: Path, docker_config_dir: Path
) -> None:
    write_docker_config(docker_config_dir, basic_registry.registry.host, basic_registry.registry.creds)
    code, report, err = scan(run_cli, config, "--image", basic_registry.refs["app"])
    assert code == 1, err
    assert set(by_secret(report)) == {basic_registry.secrets["app"], basic_registry.secrets["app-env"]}


def test_basic_auth_failures_name_what_was_tried_and_never_the_credential(
    basic_registry: Pushed, run_cli: RunCli, config: Path, docker_config_dir: Path
) -> None:
    registry, ref = basic_registry.registry, basic_registry.refs["app"]
    code, _, err = run_cli("scan", "--image", ref, "-c", config)
    assert code == 2
    assert err.strip() == (
        f"leakstop: error: {registry.host}: authentication failed for team/app (the registry asks for Basic"
        f" credentials: no docker config at {docker_config_dir / 'config.json'}); tried anonymous"
    )

    wrong = TokenFactory().password()
    path = write_docker_config(docker_config_dir, f"https://{registry.host}/v1/", f"{USER}:{wrong}")
    code, out, err = run_cli("scan", "--image", ref, "-c", config)
    assert (code, out) == (2, "")
    assert err.strip() == (
        f"leakstop: error: {registry.host}: authentication failed for team/app (Basic credentials rejected);"
        f" tried anonymous, then Basic credentials from {path}"
    )
    assert_no_secret_in(err, wrong, registry.creds.split(":", 1)[1])


# -- token auth ----------------------------------------------------------------------------------------------


def test_bearer_token_anonymous_for_a_public_repository(
    token_registry: TokenRegistry, run_cli: RunCli, config: Path
) -> None:
    pushed, issuer = token_registry.pushed, token_registry.issuer
    issuer.seen.clear()
    issuer.token_field = "access_token"
    try:
        code, report, err = scan(run_cli, config, "--image", pushed.refs["public"])
    finally:
        issuer.token_field = "token"
    assert code == 1, err
    assert set(by_secret(report)) == {pushed.secrets["public"], pushed.secrets["public-env"]}
    assert issuer.seen and all(auth == "" for auth, _ in issuer.seen)
    assert "scope=repository%3Apublic%2Fapp%3Apull" in issuer.seen[0][1]
    assert f"service={issuer.service}" in issuer.seen[0][1]


def test_bearer_token_with_basic_credentials_for_a_private_repository(
    token_registry: TokenRegistry, run_cli: RunCli, config: Path, docker_config_dir: Path
) -> None:
    pushed, issuer = token_registry.pushed, token_registry.issuer
    ref = pushed.refs["private"]

    code, _, err = run_cli("scan", "--image", ref, "-c", config)
    assert code == 2
    assert err.strip() == (
        f"leakstop: error: {pushed.registry.host}: authentication failed for private/app (the registry rejected the"
        f" token; no docker config at {docker_config_dir / 'config.json'}); tried anonymous, then a token from realm"
        f" {token_registry.realm} (anonymous)"
    )

    write_docker_config(docker_config_dir, pushed.registry.host, pushed.registry.creds)
    issuer.seen.clear()
    code, report, err = scan(run_cli, config, "--image", ref)
    assert code == 1, err
    assert set(by_secret(report)) == {pushed.secrets["private"], pushed.secrets["private-env"]}
    assert {auth for auth, _ in issuer.seen} == {"Basic " + base64.b64encode(pushed.registry.creds.encode()).decode()}


def test_a_rejected_token_request_names_the_realm_and_the_config_not_the_password(
    token_registry: TokenRegistry, run_cli: RunCli, config: Path, docker_config_dir: Path
) -> None:
    pushed = token_registry.pushed
    wrong = TokenFactory().password()
    path = write_docker_config(docker_config_dir, pushed.registry.host, f"{USER}:{wrong}")
    code, out, err = run_cli("scan", "--image", pushed.refs["private"], "-c", config)
    assert (code, out) == (2, "")
    assert err.strip() == (
        f"leakstop: error: {pushed.registry.host}: authentication failed for private/app (token realm answered"
        f" HTTP 401); tried anonymous, then a token from realm {token_registry.realm} with Basic credentials from"
        f" {path}"
    )
    assert_no_secret_in(err, wrong, pushed.registry.creds.split(":", 1)[1])


def test_a_token_that_expires_during_the_pull_is_renewed(
    token_registry: TokenRegistry, run_cli: RunCli, config: Path, docker_config_dir: Path
) -> None:
    """A proxy answers the first blob request with 401 and a fresh challenge, as the registry does for an expired
    token; the pull fetches a new token and goes on."""
    pushed, issuer = token_registry.pushed, token_registry.issuer
    challenge = f'Bearer realm="{token_registry.realm}",service="{issuer.service}",scope="repository:private/app:pull"'
    seen: list[tuple[str, str]] = []
    keep = {"content-type", "docker-content-digest", "www-authenticate", "docker-distribution-api-version"}

    class Expiring(Handler):
        def do_GET(self) -> None:
            auth = self.headers.get("Authorization", "")
            seen.append((self.path, auth))
            if "/blobs/" in self.path and sum("/blobs/" in path for path, _ in seen) == 1:
                self.send(401, b'{"errors": [{"code": "UNAUTHORIZED"}]}', {"WWW-Authenticate": challenge})
                return
            headers = {k: v for k, v in (("Accept", self.headers.get("Accept", "")), ("Authorization", auth)) if v}
            status, answer, body = _forward(pushed.registry, self.path, headers)
            self.send(status, body, {k: v for k, v in answer if k.lower() in keep})

    with serve(Expiring) as proxy:
        host = f"127.0.0.1:{proxy.server_address[1]}"
        write_docker_config(docker_config_dir, host, pushed.registry.creds)
        issuer.seen.clear()
        code, report, err = scan(run_cli, config, "--image", f"{host}/private/app:1")

    assert code == 1, err
    assert set(by_secret(report)) == {pushed.secrets["private"], pushed.secrets["private-env"]}
    assert report["issues"] == []
    assert len(issuer.seen) == 2  # the first token, then its renewal
    blob_auth = [auth for path, auth in seen if "/blobs/" in path]
    assert len(blob_auth) == 3 and blob_auth[0] != blob_auth[1] == blob_auth[2]


# -- redirects -----------------------------------------------------------------------------------------------


@dataclass
class Seen:
    front: list[tuple[str, str]] = field(default_factory=list)  # (path, Authorization)
    storage: list[tuple[str, str]] = field(default_factory=list)


def _forward(registry: Registry, path: str, headers: dict[str, str]) -> tuple[int, list[tuple[str, str]], bytes]:
    host, port = registry.host.split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        conn.request("GET", path, headers=headers)
        resp = conn.getresponse()
        return resp.status, resp.getheaders(), resp.read()
    finally:
        conn.close()


def redirect_proxies(registry: Registry, seen: Seen, storage_port: list[int]) -> tuple[type[Handler], type[Handler]]:
    """A front (the registry as the client sees it) that sends blob requests to another origin, the "storage"."""
    keep = {"content-type", "docker-content-digest", "www-authenticate", "docker-distribution-api-version"}

    class Front(Handler):
        def do_GET(self) -> None:
            auth = self.headers.get("Authorization", "")
            seen.front.append((self.path, auth))
            if "/blobs/" in self.path:
                self.send(307, b"", {"Location": f"http://localhost:{storage_port[0]}{self.path}?X-Signature=abc"})
                return
            headers = {k: v for k, v in (("Accept", self.headers.get("Accept", "")), ("Authorization", auth)) if v}
            status, answer, body = _forward(registry, self.path, headers)
            self.send(status, body, {k: v for k, v in answer if k.lower() in keep})

    class Storage(Handler):
        def do_GET(self) -> None:
            seen.storage.append((self.path, self.headers.get("Authorization", "")))
            basic = "Basic " + base64.b64encode(registry.creds.encode()).decode()
            status, _, body = _forward(registry, self.path.split("?")[0], {"Authorization": basic})
            self.send(status, body, {"Content-Type": "application/octet-stream"})

    return Front, Storage


def test_a_redirect_to_another_host_never_carries_the_authorization_header(
    basic_registry: Pushed, run_cli: RunCli, config: Path, docker_config_dir: Path
) -> None:
    seen, storage_port = Seen(), [0]
    front, storage = redirect_proxies(basic_registry.registry, seen, storage_port)
    with serve(storage) as storage_server, serve(front) as front_server:
        storage_port[0] = storage_server.server_address[1]
        front_host = f"127.0.0.1:{front_server.server_address[1]}"
        write_docker_config(docker_config_dir, front_host, basic_registry.registry.creds)
        ref = f"{front_host}/team/app:1"
        code, report, err = scan(run_cli, config, "--image", ref)

    assert code == 1, err
    assert set(by_secret(report)) == {basic_registry.secrets["app"], basic_registry.secrets["app-env"]}
    assert report["issues"] == []
    blobs = [path for path, _ in seen.storage]
    assert len(blobs) == 2  # the config and the layer, both through the redirect
    assert [auth for _, auth in seen.storage] == ["", ""]  # never forwarded to localhost:<other port>
    basic = "Basic " + base64.b64encode(basic_registry.registry.creds.encode()).decode()
    assert ("/v2/team/app/manifests/1", basic) in seen.front  # while the registry's own origin does get it
    assert all(auth == basic for path, auth in seen.front if "/blobs/" in path)


def test_a_blob_download_that_breaks_off_is_an_issue_on_its_layer(
    anonymous_registry: Pushed, run_cli: RunCli, config: Path
) -> None:
    """A proxy sends half of the layer and closes the connection: the layer is reported, the config still scanned."""
    registry, layer_digest = anonymous_registry.registry, anonymous_registry.digests["app"]

    class Cut(Handler):
        def do_GET(self) -> None:
            status, answer, body = _forward(registry, self.path, {"Accept": self.headers.get("Accept", "")})
            headers = {k: v for k, v in answer if k.lower() in {"content-type", "docker-content-digest"}}
            if layer_digest not in self.path:
                self.send(status, body, headers)
                return
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body[: len(body) // 2])
            self.close_connection = True

    with serve(Cut) as proxy:
        ref = f"127.0.0.1:{proxy.server_address[1]}/acme/app:1"
        code, report, err = scan(run_cli, config, "--image", ref)

    assert code == 1, err
    assert set(by_secret(report)) == {anonymous_registry.secrets["app-env"]}
    assert [(i["reason"], i["path"], "download broke off" in i["message"]) for i in report["issues"]] == [
        ("truncated", f"{ref}!{layer_digest}", True)
    ]


# -- units: references, platforms, docker config ------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("alpine", Reference("docker.io", "library/alpine", "latest")),
        ("docker.io/library/alpine:3.19", Reference("docker.io", "library/alpine", "3.19")),
        ("index.docker.io/acme/app", Reference("docker.io", "acme/app", "latest")),
        ("acme/app:1.2", Reference("docker.io", "acme/app", "1.2")),
        ("localhost/app", Reference("localhost", "app", "latest")),
        ("localhost:5000/a/b/c:t", Reference("localhost:5000", "a/b/c", "t")),
        ("ghcr.io/o/r@sha256:" + "a" * 64, Reference("ghcr.io", "o/r", "", "sha256:" + "a" * 64)),
        ("docker://quay.io/o/r:v1@sha256:" + "b" * 64, Reference("quay.io", "o/r", "v1", "sha256:" + "b" * 64)),
    ],
)
def test_references_parse_as_docker_does(text: str, expected: Reference) -> None:
    ref = parse_reference(text)
    assert ref == expected
    assert ref.endpoint == ("registry-1.docker.io" if ref.registry == "docker.io" else ref.registry)


@pytest.mark.parametrize("text", ["Acme/App", "acme/app:bad tag", "acme/app@sha256:short", "a//b", "x/-y"])
def test_invalid_references_are_input_errors(text: str, run_cli: RunCli, config: Path) -> None:
    code, _, err = run_cli("scan", "--image", text, "-c", config)
    assert code == 2 and f"{text}: not an image reference" in err


def test_a_missing_tarball_is_not_pulled(tmp_path: Path, run_cli: RunCli, config: Path) -> None:
    code, _, err = run_cli("scan", "--image", "missing-image.tar", "-c", config)
    assert code == 2 and err.strip() == "leakstop: error: missing-image.tar: no such file or directory"
    code, _, err = run_cli("scan", "--image", "./layout", "-c", config)
    assert code == 2 and err.strip() == "leakstop: error: ./layout: no such file or directory"


def test_a_docker_hub_name_that_fails_also_says_it_is_not_a_path(
    run_cli: RunCli, config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No network here: Docker Hub is made unreachable on purpose (its endpoint pointed at a closed port)."""
    from scanner.sources import registry

    monkeypatch.setattr(registry, "DOCKER_HUB_ENDPOINT", f"127.0.0.1:{free_port()}")
    code, _, err = run_cli("scan", "--image", "layout", "-c", config)
    assert code == 2
    assert err.startswith("leakstop: error: docker.io: registry unreachable at 127.0.0.1:")
    assert err.strip().endswith("(and no file or directory layout here)")


def test_platform_selection_and_a_bad_platform_flag(run_cli: RunCli, config: Path) -> None:
    index = {
        "manifests": [
            {"digest": "sha256:1", "platform": {"os": "unknown", "architecture": "unknown"}},
            {"digest": "sha256:2", "platform": {"os": "linux", "architecture": "arm", "variant": "v7"}},
            {"digest": "sha256:3", "platform": {"os": "linux", "architecture": "arm", "variant": "v6"}},
        ]
    }
    assert select_platform(index, "linux/arm/v6") == "sha256:3"
    assert select_platform(index, "linux/arm") == "sha256:2"
    assert select_platform(index, "linux/amd64") is None
    code, _, err = run_cli("scan", "--image", "x/y", "--platform", "linux", "-c", config)
    assert code == 2 and "expected os/arch[/variant]" in err


def test_docker_config_credentials(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "no-helpers"))
    path = tmp_path / "config.json"
    secret = TokenFactory().password()
    encoded = base64.b64encode(f"bot:{secret}".encode()).decode()
    path.write_text(
        json.dumps(
            {
                "auths": {"https://index.docker.io/v1/": {"auth": encoded}, "ghcr.io": {"auth": "!!"}},
                "credHelpers": {"gcr.io": "gcloud"},
            }
        )
    )
    creds, _ = load_credentials("docker.io", path)
    assert creds is not None and (creds.username, creds.password, creds.source) == ("bot", secret, str(path))
    assert secret not in repr(creds.source)
    assert load_credentials("quay.io", path) == (None, f"no auths entry for quay.io in {path}")
    with pytest.raises(
        InputError, match=r"^gcr\.io: credential helper docker-credential-gcloud .*: not found on PATH$"
    ):
        load_credentials("gcr.io", path)  # a helper is run now (tests below); this one is not installed
    with pytest.raises(Exception, match=r"auths.ghcr.io.auth is not base64 of user:password") as info:
        load_credentials("ghcr.io", path)
    assert secret not in str(info.value)
    path.write_text("{not json")
    with pytest.raises(Exception, match=r"docker config is not valid JSON"):
        load_credentials("docker.io", path)
    assert load_credentials("docker.io", tmp_path / "none.json") == (None, f"no docker config at {tmp_path}/none.json")


# -- Docker credential helpers -------------------------------------------------------------------------------


def install_helper(bin_dir: Path, name: str, body: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A real ``docker-credential-<name>`` executable on PATH; it records the server URL it was asked for."""
    bin_dir.mkdir(exist_ok=True)
    helper = bin_dir / f"docker-credential-{name}"
    asked = bin_dir / f"{name}.asked"
    helper.write_text(f'#!/bin/sh\n[ "$1" = get ] || exit 3\ncat > "{asked}"\n{body}\n')
    helper.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")
    return asked


def answer(user: str, secret: str) -> str:
    return f"printf '%s' '{json.dumps({'ServerURL': 'x', 'Username': user, 'Secret': secret})}'"


def test_a_cred_helper_supplies_basic_credentials(
    basic_registry: Pushed,
    run_cli: RunCli,
    config: Path,
    docker_config_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    registry = basic_registry.registry
    user, password = registry.creds.split(":", 1)
    asked = install_helper(tmp_path / "bin", "leakstop-test", answer(user, password), monkeypatch)
    (docker_config_dir / "config.json").write_text(json.dumps({"credHelpers": {registry.host: "leakstop-test"}}))

    code, report, err = scan(run_cli, config, "--image", basic_registry.refs["app"])

    assert code == 1, err
    assert set(by_secret(report)) == {basic_registry.secrets["app"], basic_registry.secrets["app-env"]}
    assert asked.read_text() == registry.host


def test_a_creds_store_feeds_the_token_realm(
    token_registry: TokenRegistry,
    run_cli: RunCli,
    config: Path,
    docker_config_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pushed, issuer = token_registry.pushed, token_registry.issuer
    user, password = pushed.registry.creds.split(":", 1)
    install_helper(tmp_path / "bin", "store", answer(user, password), monkeypatch)
    (docker_config_dir / "config.json").write_text(json.dumps({"credsStore": "store"}))
    issuer.seen.clear()
    code, report, err = scan(run_cli, config, "--image", pushed.refs["private"])
    assert code == 1, err
    assert set(by_secret(report)) == {pushed.secrets["private"], pushed.secrets["private-env"]}
    assert {auth for auth, _ in issuer.seen} == {"Basic " + base64.b64encode(pushed.registry.creds.encode()).decode()}


def test_helper_failures_are_one_line_naming_the_helper_and_host_never_the_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "config.json"
    secret = TokenFactory().password()
    bin_dir = tmp_path / "bin"
    install_helper(bin_dir, "broken", f"echo 'oops {secret}'; echo '{secret}' >&2; exit 1", monkeypatch)
    install_helper(bin_dir, "garbled", f"echo 'Secret={secret}'", monkeypatch)
    install_helper(bin_dir, "slow", "sleep 5", monkeypatch)
    install_helper(bin_dir, "empty", "echo 'credentials not found in native keychain'; exit 1", monkeypatch)
    helpers = {"a.example": "broken", "b.example": "garbled", "c.example": "slow", "d.example": "missing"}
    path.write_text(json.dumps({"credHelpers": helpers | {"e.example": "empty"}, "credsStore": "empty"}))
    monkeypatch.setattr(dockerauth, "HELPER_TIMEOUT", 0.5)
    expected = {
        "a.example": "failed (exit status 1)",
        "b.example": "answered something other than JSON with Username and Secret",
        "c.example": "no answer within 0.5 s",
        "d.example": "not found on PATH",
    }
    for host, problem in expected.items():
        with pytest.raises(InputError) as info:
            load_credentials(host, path)
        assert (
            str(info.value) == f"{host}: credential helper docker-credential-{helpers[host]} (from {path}): {problem}"
        )
        assert secret not in str(info.value)
    assert load_credentials("e.example", path) == (
        None,
        "credential helper docker-credential-empty has nothing for e.example",
    )
    assert load_credentials("f.example", path) == (
        None,
        f"no credentials for f.example in docker-credential-empty (credsStore) nor in {path}",
    )


def test_docker_hub_helpers_are_asked_for_the_v1_url_and_identity_tokens_are_marked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = TokenFactory().password()
    asked = install_helper(tmp_path / "bin", "hub", answer("<token>", token), monkeypatch)
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"credHelpers": {"https://index.docker.io/v1/": "hub"}}))
    creds, _ = load_credentials("docker.io", path)
    assert asked.read_text() == "https://index.docker.io/v1/"
    assert creds is not None and creds.identity_token and creds.password == token
    assert creds.source == "credential helper docker-credential-hub"


def test_an_identity_token_is_exchanged_at_the_realm_with_a_refresh_token_grant(http_server: Any) -> None:
    """distribution's OAuth2 flow: POST grant_type=refresh_token to the realm, the access_token comes back."""
    refresh, access = TokenFactory().password(), TokenFactory().password()
    realm = http_server()
    realm.route("POST", "/token", Reply(200, json.dumps({"access_token": access}).encode()))
    client = RegistryClient(parse_reference("127.0.0.1:1/acme/app:1"), RegistryOptions())
    creds = dockerauth.Credentials("<token>", refresh, "credential helper docker-credential-x", identity_token=True)
    challenge = {"realm": realm.url("/token"), "service": "svc"}
    assert client._token(challenge, creds) == access
    (request,) = realm.requests
    form = urllib.parse.parse_qs(request.body.decode())
    assert form["grant_type"] == ["refresh_token"] and form["refresh_token"] == [refresh]
    assert form["scope"] == ["repository:acme/app:pull"] and form["service"] == ["svc"]
    assert "authorization" not in request.headers


# -- one connection per pull ---------------------------------------------------------------------------------


class CountingRelay:
    """A TCP relay in front of a registry counting the plain-HTTP connections it carries (TLS attempts apart)."""

    def __init__(self, target: str) -> None:
        self.target = target
        self.plain = 0
        self.tls = 0
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._pipe, args=(client,), daemon=True).start()

    def _pipe(self, client: socket.socket) -> None:
        host, port = self.target.split(":")
        with client, socket.create_connection((host, int(port))) as upstream:
            first = client.recv(1, socket.MSG_PEEK)
            if first == b"\x16":
                self.tls += 1
                return
            self.plain += 1
            relay(client, upstream, idle=30)


def test_one_connection_serves_the_whole_pull(anonymous_registry: Pushed, run_cli: RunCli, config: Path) -> None:
    relay = CountingRelay(anonymous_registry.registry.host)
    try:
        ref = f"127.0.0.1:{relay.port}/acme/app:1"
        code, report, err = scan(run_cli, config, "--image", ref)
    finally:
        relay.listener.close()
    assert code == 1, err
    assert set(by_secret(report)) == {anonymous_registry.secrets["app"], anonymous_registry.secrets["app-env"]}
    assert (relay.tls, relay.plain) == (1, 1)  # the HTTPS attempt, then one kept-alive connection for all requests
