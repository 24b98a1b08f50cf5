"""Remote Terraform state (``--tfstate URL``) against real servers on loopback: moto's S3 server, and small
``http.server`` servers speaking Terraform's HTTP backend and the HCP Terraform / TFE API.

Credentials are fake, generated per test and set only in the test's environment; every test checks that none of
them reaches the output.
"""

from __future__ import annotations

import base64
import json
import logging
import socket
import sys
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from helpers import MakeConfig, RunCli, notes_resource, password_state
from httpserver import LoopbackProxy, Reply, ServerFactory, TestCA
from tokens import ALNUM, TokenFactory

from scanner.sources.tfremote import display_url, token_variables

RULE = "terraform-sensitive-in-state"
Response = tuple[int, dict[str, str], bytes]


def state(password: str, serial: int = 1, note: str = "") -> bytes:
    """A v4 state: a random_password (found as state, no pattern matches it) and a resource whose notes may hold
    a token a rule matches."""
    doc = password_state(password, serial, notes_resource(note) if note else None)
    return (json.dumps(doc, indent=2) + "\n").encode()


@pytest.fixture
def config(make_config: MakeConfig) -> Path:
    return make_config(("github-pat", RULE))


@pytest.fixture
def scan(run_cli: RunCli, config: Path) -> Callable[..., tuple[int, dict[str, Any], str]]:
    """``scan(source, *flags) -> (exit code, JSON report or {}, stderr)``."""

    def run(source: str, *flags: str) -> tuple[int, dict[str, Any], str]:
        code, out, err = run_cli("scan", "--tfstate", source, *flags, "-c", config, "-f", "json", "--show-secrets")
        return code, (json.loads(out) if out.strip() else {}), err

    return run


Scan = Callable[..., tuple[int, dict[str, Any], str]]


def located(report: dict[str, Any]) -> dict[str, tuple[str, str, str, str]]:
    """secret → (rule, path, resource, attribute); each secret must be reported once."""
    got: dict[str, tuple[str, str, str, str]] = {}
    for f in report["findings"]:
        assert f["secret"] not in got, f"{f['secret'][:4]}… reported twice"
        loc = f["location"]
        got[f["secret"]] = (f["rule"]["id"], loc["path"], loc["resource"], loc["attribute"])
    return got


def one_line_error(err: str, *needles: str) -> None:
    assert len(err.strip().splitlines()) == 1, err
    assert err.startswith("leakstop: error: "), err
    for needle in needles:
        assert needle in err, err


@pytest.fixture(autouse=True)
def _no_proxy_no_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Nothing from the developer's environment: no proxy in front of loopback, no AWS or Terraform
    credentials, no AWS config files, no instance metadata lookups."""
    import os

    for name in list(os.environ):
        upper = name.upper()
        if upper.startswith(("AWS_", "TF_TOKEN_", "TF_HTTP_")) or upper in (
            "TFE_TOKEN",
            "HTTP_PROXY",
            "HTTPS_PROXY",
            "NO_PROXY",
        ):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- S3 (moto in server mode) ---


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no request log on stderr
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@dataclass
class Bucket:
    name: str
    client: Any

    def put(self, key: str, body: bytes) -> str:
        return str(self.client.put_object(Bucket=self.name, Key=key, Body=body).get("VersionId", ""))


@pytest.fixture
def aws(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch, tokens: TokenFactory) -> dict[str, str]:
    """Fake credentials in the environment and the endpoint override pointing boto3 at moto."""
    env = {
        "AWS_ENDPOINT_URL": moto_endpoint,
        "AWS_ACCESS_KEY_ID": "AKIA" + tokens.clean_chars("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16),
        "AWS_SECRET_ACCESS_KEY": tokens.clean_chars(ALNUM, 40),
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


@pytest.fixture
def bucket(aws: dict[str, str]) -> Bucket:
    import boto3

    client = boto3.client("s3")
    name = f"tf-{uuid.uuid4().hex[:12]}"
    client.create_bucket(Bucket=name)
    return Bucket(name, client)


def assert_no_aws_secret(aws: dict[str, str], *texts: str) -> None:
    for text in texts:
        assert aws["AWS_SECRET_ACCESS_KEY"] not in text


def test_s3_key(bucket: Bucket, scan: Scan, tokens: TokenFactory, aws: dict[str, str]) -> None:
    password, token = tokens.clean_chars(ALNUM, 24), tokens.github_clean()
    bucket.put("prod/terraform.tfstate", state(password, note=f"token {token}"))
    url = f"s3://{bucket.name}/prod/terraform.tfstate"

    code, report, err = scan(url)

    assert code == 1, err
    assert report["target"] == "tfstate"
    assert located(report) == {
        password: (RULE, url, "random_password.db", "result"),
        token: ("github-pat", url, "acme_service.api", "notes"),
    }
    assert report["target_detail"] == f"state {url} (1 state read)"
    assert_no_aws_secret(aws, json.dumps(report), err)


def test_s3_prefix_scans_every_state_under_it_and_its_workspaces(
    bucket: Bucket, scan: Scan, tokens: TokenFactory
) -> None:
    default, staging, nested, elsewhere, other_prefix = (tokens.clean_chars(ALNUM, 24) for _ in range(5))
    loose = tokens.github_clean()
    bucket.put("prod/terraform.tfstate", state(default))
    bucket.put("prod/network/terraform.tfstate", state(nested))
    bucket.put("env:/staging/prod/terraform.tfstate", state(staging))  # workspace "staging" of the same config
    bucket.put("env:/staging/dev/terraform.tfstate", state(elsewhere))  # another config's workspace
    bucket.put("dev/terraform.tfstate", state(other_prefix))
    bucket.put("prod/terraform.tfstate.tflock", b'{"ID": "lock"}')  # not state
    bucket.put("prod/README.txt", b"nothing here\n")
    bucket.put("prod/broken.tfstate", f'{{"version": 4, "outputs": "{loose}"\n'.encode())

    code, report, err = scan(f"s3://{bucket.name}/prod/")

    assert code == 1, err
    base = f"s3://{bucket.name}/"
    assert located(report) == {
        default: (RULE, f"{base}prod/terraform.tfstate", "random_password.db", "result"),
        nested: (RULE, f"{base}prod/network/terraform.tfstate", "random_password.db", "result"),
        staging: (RULE, f"{base}env:/staging/prod/terraform.tfstate", "random_password.db", "result"),
        loose: ("github-pat", f"{base}prod/broken.tfstate", "", ""),  # not a state: scanned as text
    }
    assert [(i["path"], i["reason"]) for i in report["issues"]] == [(f"{base}prod/broken.tfstate", "invalid-state")]
    assert report["target_detail"] == f"state {base}prod/ (4 states read)"

    # The bucket root: every state in it, every workspace included.
    code, report, err = scan(f"s3://{bucket.name}")
    assert code == 1, err
    assert set(located(report)) == {default, nested, staging, elsewhere, other_prefix, loose}


def test_s3_all_versions_finds_rotated_secrets_once_at_the_version_that_introduced_them(
    bucket: Bucket, scan: Scan, tokens: TokenFactory
) -> None:
    bucket.client.put_bucket_versioning(Bucket=bucket.name, VersioningConfiguration={"Status": "Enabled"})
    old, new = tokens.clean_chars(ALNUM, 24), tokens.clean_chars(ALNUM, 24)
    token = tokens.github_clean()
    key = "prod/terraform.tfstate"
    v1 = bucket.put(key, state(old, serial=1))
    v2 = bucket.put(key, state(old, serial=2, note=f"token {token}"))  # same password, kept
    v3 = bucket.put(key, state(new, serial=3))  # rotated; the token's resource is gone
    url = f"s3://{bucket.name}/{key}"

    code, report, err = scan(url)  # the current version only
    assert code == 1, err
    assert located(report) == {new: (RULE, url, "random_password.db", "result")}

    code, report, err = scan(url, "--all-versions")
    assert code == 1, err
    assert located(report) == {
        old: (RULE, f"{url}?versionId={v1}", "random_password.db", "result"),
        token: ("github-pat", f"{url}?versionId={v2}", "acme_service.api", "notes"),
        new: (RULE, f"{url}?versionId={v3}", "random_password.db", "result"),
    }
    assert report["target_detail"] == f"state {url} (3 states read)"

    # A deleted state's versions still hold its secrets; the bucket's listing finds them.
    gone = tokens.clean_chars(ALNUM, 24)
    v_gone = bucket.put("old/terraform.tfstate", state(gone))
    bucket.client.delete_object(Bucket=bucket.name, Key="old/terraform.tfstate")
    code, report, err = scan(f"s3://{bucket.name}/", "--all-versions")
    assert code == 1, err
    found = located(report)
    assert set(found) == {old, token, new, gone}
    assert found[gone][1] == f"s3://{bucket.name}/old/terraform.tfstate?versionId={v_gone}"
    code, report, err = scan(f"s3://{bucket.name}/")
    assert set(located(report)) == {new}


@pytest.mark.parametrize(
    ("where", "message"),
    [
        ("missing-bucket", "no such bucket"),
        ("missing-key", "no such key"),
        ("empty-prefix", "no *.tfstate object under this prefix"),
    ],
)
def test_s3_nothing_there_is_a_one_line_error(
    bucket: Bucket, scan: Scan, aws: dict[str, str], where: str, message: str
) -> None:
    url = {
        "missing-bucket": f"s3://{bucket.name}-gone/terraform.tfstate",
        "missing-key": f"s3://{bucket.name}/nope/terraform.tfstate",
        "empty-prefix": f"s3://{bucket.name}/nope/",
    }[where]
    code, report, err = scan(url)
    assert (code, report) == (2, {})
    one_line_error(err, url, message)
    assert_no_aws_secret(aws, err)


def test_s3_without_credentials_names_what_was_tried(
    moto_endpoint: str, monkeypatch: pytest.MonkeyPatch, scan: Scan
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_endpoint)
    code, _, err = scan("s3://tf-bucket/terraform.tfstate")
    assert code == 2
    one_line_error(
        err, "s3://tf-bucket/terraform.tfstate: no AWS credentials found", "AWS_ACCESS_KEY_ID", "AWS_PROFILE"
    )


def test_s3_unreachable_endpoint(aws: dict[str, str], monkeypatch: pytest.MonkeyPatch, scan: Scan) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", f"http://127.0.0.1:{closed_port()}")  # wins over AWS_ENDPOINT_URL
    code, _, err = scan("s3://tf-bucket/terraform.tfstate")
    assert code == 2
    one_line_error(err, "s3://tf-bucket/terraform.tfstate: cannot reach S3")
    assert_no_aws_secret(aws, err)


def test_s3_access_denied_names_the_credential_source_never_the_secret(
    aws: dict[str, str], monkeypatch: pytest.MonkeyPatch, scan: Scan, serve: Callable[..., Server]
) -> None:
    denied = serve()  # an S3 endpoint that refuses everyone, as S3 does for a key without s3:GetObject
    xml = b"<?xml version='1.0'?><Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>"
    denied.serve("/tf-bucket/terraform.tfstate", 403, xml, {"Content-Type": "application/xml"})
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", denied.base)
    code, _, err = scan("s3://tf-bucket/terraform.tfstate")
    assert code == 2
    one_line_error(err, "s3://tf-bucket/terraform.tfstate: access denied (AccessDenied): the AWS credentials from env")
    assert_no_aws_secret(aws, err)
    assert aws["AWS_ACCESS_KEY_ID"] in denied.requests[0][1]["authorization"]  # signed with them, not shown


def test_s3_without_boto3_says_how_to_get_it(monkeypatch: pytest.MonkeyPatch, scan: Scan) -> None:
    monkeypatch.setitem(sys.modules, "boto3", None)  # `import boto3` raises ImportError
    code, _, err = scan("s3://tf-bucket/terraform.tfstate")
    assert code == 2
    one_line_error(err, "needs boto3", "leakstop[s3]")


# --- loopback HTTP servers ---


@dataclass
class Server:
    """A loopback HTTP server answering GETs from ``routes`` (path → handler) and recording each request."""

    host: str = "127.0.0.1"
    routes: dict[str, Callable[[dict[str, str]], Response]] = field(default_factory=dict)
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    port: int = 0

    @property
    def base(self) -> str:
        return f"http://{self.host}:{self.port}"

    def serve(self, path: str, status: int = 200, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        self.routes[path] = lambda _headers: (status, headers or {}, body)


@pytest.fixture
def serve() -> Iterator[Callable[..., Server]]:
    servers: list[ThreadingHTTPServer] = []

    def start(host: str = "127.0.0.1") -> Server:
        server = Server(host)

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                headers = {k.lower(): v for k, v in self.headers.items()}
                server.requests.append((self.path, headers))
                route = server.routes.get(self.path.partition("?")[0])
                status, extra, body = route(headers) if route else (404, {}, b"not found")
                self.send_response(status)
                for name, value in extra.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.port = int(httpd.server_address[1])
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        servers.append(httpd)
        return server

    yield start
    for httpd in servers:
        httpd.shutdown()
        httpd.server_close()


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def guarded(expected: str, response: Response) -> Callable[[dict[str, str]], Response]:
    """A route answering 401 unless the request's Authorization header is ``expected``."""

    def handle(headers: dict[str, str]) -> Response:
        if headers.get("authorization") != expected:
            return 401, {"WWW-Authenticate": 'Basic realm="state"'}, b"unauthorized"
        return response

    return handle


GITLAB_STATE = "/api/v4/projects/42/terraform/state/production"


def test_http_backend_gitlab_state_with_basic_auth(
    serve: Callable[..., Server], scan: Scan, tokens: TokenFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    password, token = tokens.clean_chars(ALNUM, 24), tokens.github_clean()
    access_token = tokens.clean_chars(ALNUM, 26)
    backend = serve()
    backend.routes[GITLAB_STATE] = guarded(basic("ci", access_token), (200, {}, state(password, note=token)))
    monkeypatch.setenv("TF_HTTP_USERNAME", "ci")
    monkeypatch.setenv("TF_HTTP_PASSWORD", access_token)
    url = f"{backend.base}{GITLAB_STATE}"

    code, report, err = scan(url)

    assert code == 1, err
    assert located(report) == {
        password: (RULE, url, "random_password.db", "result"),
        token: ("github-pat", url, "acme_service.api", "notes"),
    }
    assert access_token not in json.dumps(report) + err


@pytest.mark.parametrize("credentials", ["wrong", "none"])
def test_http_backend_refusing_credentials_names_the_variables_never_the_password(
    serve: Callable[..., Server],
    scan: Scan,
    tokens: TokenFactory,
    monkeypatch: pytest.MonkeyPatch,
    credentials: str,
) -> None:
    backend = serve()
    backend.routes[GITLAB_STATE] = guarded(basic("ci", tokens.clean_chars(ALNUM, 26)), (200, {}, b"{}"))
    wrong = tokens.clean_chars(ALNUM, 26)
    if credentials == "wrong":
        monkeypatch.setenv("TF_HTTP_USERNAME", "ci")
        monkeypatch.setenv("TF_HTTP_PASSWORD", wrong)
    url = f"{backend.base}{GITLAB_STATE}"

    code, report, err = scan(url)

    assert (code, report) == (2, {})
    if credentials == "wrong":
        one_line_error(err, f"{url}: access denied (HTTP 401)", "TF_HTTP_USERNAME / TF_HTTP_PASSWORD was refused")
        assert wrong not in err
        assert backend.requests[0][1]["authorization"] == basic("ci", wrong)
    else:
        one_line_error(err, f"{url}: access denied (HTTP 401)", "no credentials sent: set TF_HTTP_USERNAME")
        assert "authorization" not in backend.requests[0][1]


@pytest.mark.parametrize(
    ("status", "body", "message"),
    [
        (404, b"", "no state at this address (HTTP 404)"),
        (204, b"", "the backend holds no state (empty response)"),
        (500, b"boom", "unexpected HTTP 500 from the state backend"),
        (200, b'{"version": 4, "resources": [', "not a Terraform state: invalid JSON"),
        (200, b'{"version": 3, "modules": []}', "unknown Terraform state version 3"),
    ],
)
def test_http_backend_errors_name_the_url(
    serve: Callable[..., Server], scan: Scan, status: int, body: bytes, message: str
) -> None:
    backend = serve()
    backend.serve("/state/prod", status, body)
    url = f"{backend.base}/state/prod"
    code, report, err = scan(url)
    assert (code, report) == (2, {})
    one_line_error(err, f"{url}: {message}")


def test_http_backend_unreachable(scan: Scan) -> None:
    url = f"http://127.0.0.1:{closed_port()}/state"
    code, _, err = scan(url)
    assert code == 2
    one_line_error(err, f"{url}: cannot reach the state backend")


def test_credentials_in_the_url_are_refused_and_never_shown(scan: Scan, tokens: TokenFactory) -> None:
    password = tokens.clean_chars(ALNUM, 20)
    code, _, err = scan(f"https://ci:{password}@gitlab.example.invalid{GITLAB_STATE}")
    assert code == 2
    one_line_error(err, f"https://gitlab.example.invalid{GITLAB_STATE}: credentials in the URL", "TF_HTTP_PASSWORD")
    assert password not in err


def test_http_backend_redirect_to_another_host_drops_the_credentials(
    serve: Callable[..., Server], scan: Scan, tokens: TokenFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    password, access_token = tokens.clean_chars(ALNUM, 24), tokens.clean_chars(ALNUM, 26)
    storage = serve()
    storage.serve("/blob/state", body=state(password))
    backend = serve()
    redirect = (307, {"Location": f"{storage.base}/blob/state?signature=x"}, b"")
    backend.routes["/state/prod"] = guarded(basic("ci", access_token), redirect)
    monkeypatch.setenv("TF_HTTP_USERNAME", "ci")
    monkeypatch.setenv("TF_HTTP_PASSWORD", access_token)

    code, report, err = scan(f"{backend.base}/state/prod?ref=main")

    assert code == 1, err
    assert located(report) == {password: (RULE, f"{backend.base}/state/prod", "random_password.db", "result")}
    ((path, headers),) = storage.requests
    assert path == "/blob/state?signature=x"
    assert "authorization" not in headers


def test_unsupported_schemes_and_misplaced_all_versions_are_usage_errors(scan: Scan, tmp_path: Path) -> None:
    code, _, err = scan("gs://bucket/prefix/default.tfstate")
    assert code == 2
    one_line_error(err, "gs://…: unsupported state backend", "s3://")
    code, _, err = scan("https://state.example.invalid/x", "--all-versions")
    assert code == 2
    one_line_error(err, "--all-versions reads the versions of s3:// state")
    path = tmp_path / "terraform.tfstate"
    path.write_bytes(state("x"))
    code, _, err = scan(str(path), "--all-versions")
    assert code == 2
    one_line_error(err, "--all-versions")


# --- HCP Terraform / Terraform Enterprise ---


@dataclass
class Tfe:
    api: Server
    archivist: Server
    token: str
    state: bytes


@pytest.fixture
def tfe(serve: Callable[..., Server], tokens: TokenFactory) -> Tfe:
    """An API server and a separate storage host (HCP Terraform's archivist) with a signed download URL. The API
    documents follow HashiCorp's workspaces and state-versions API docs (JSON:API)."""
    token = f"{tokens.clean_chars(ALNUM, 14)}.atlasv1.{tokens.clean_chars(ALNUM, 60)}"
    api, archivist = serve(), serve("localhost")  # another host name, and another port
    bearer = f"Bearer {token}"
    workspace = {
        "data": {
            "id": "ws-Q1Xz7YkEf2sWm9ab",
            "type": "workspaces",
            "attributes": {"name": "prod", "terraform-version": "1.9.5"},
            "relationships": {"organization": {"data": {"id": "acme", "type": "organizations"}}},
        }
    }
    download = f"{api.base}/api/state-versions/sv-SuGZnr6u5GzG1ZXu/hosted_state"
    version = {
        "data": {
            "id": "sv-SuGZnr6u5GzG1ZXu",
            "type": "state-versions",
            "attributes": {
                "created-at": "2026-11-01T10:00:00.000Z",
                "size": 940,
                "hosted-state-download-url": download,
                "hosted-json-state-download-url": download.replace("hosted_state", "hosted_json_state"),
                "modules": {"root": {"random-password": 1}},
                "resources-processed": True,
                "serial": 9,
                "state-version": 4,
                "terraform-version": "1.9.5",
            },
            "relationships": {"workspace": {"data": {"id": "ws-Q1Xz7YkEf2sWm9ab", "type": "workspaces"}}},
        }
    }
    json_api = {"Content-Type": "application/vnd.api+json"}
    api.routes["/api/v2/organizations/acme/workspaces/prod"] = guarded(
        bearer, (200, json_api, json.dumps(workspace).encode())
    )
    api.routes["/api/v2/workspaces/ws-Q1Xz7YkEf2sWm9ab/current-state-version"] = guarded(
        bearer, (200, json_api, json.dumps(version).encode())
    )
    signed = f"{archivist.base}/v1/object/{tokens.clean_chars(ALNUM, 40)}"
    api.routes["/api/state-versions/sv-SuGZnr6u5GzG1ZXu/hosted_state"] = guarded(
        bearer, (302, {"Location": signed}, b"")
    )
    password = tokens.clean_chars(ALNUM, 24)
    body = state(password)
    archivist.routes[signed.removeprefix(archivist.base)] = lambda _headers: (200, {}, body)
    return Tfe(api, archivist, token, body)


def state_password(tfe: Tfe) -> str:
    doc = json.loads(tfe.state)
    return str(doc["resources"][0]["instances"][0]["attributes"]["result"])


@pytest.mark.parametrize("form", ["org-workspace", "workspace-id"])
def test_tfe_current_state_version(tfe: Tfe, scan: Scan, monkeypatch: pytest.MonkeyPatch, form: str) -> None:
    if form == "org-workspace":
        monkeypatch.setenv("TF_TOKEN_127_0_0_1", tfe.token)  # Terraform's per-host variable
        url = f"tfe+http://127.0.0.1:{tfe.api.port}/acme/prod"
    else:
        monkeypatch.setenv("TFE_TOKEN", tfe.token)
        url = f"tfe+http://127.0.0.1:{tfe.api.port}/ws-Q1Xz7YkEf2sWm9ab"

    code, report, err = scan(url)

    assert code == 1, err
    assert located(report) == {state_password(tfe): (RULE, url, "random_password.db", "result")}
    api_headers = [headers for _path, headers in tfe.api.requests]
    assert all(h["authorization"] == f"Bearer {tfe.token}" for h in api_headers)
    assert all(h["content-type"] == "application/vnd.api+json" for h in api_headers)
    ((path, headers),) = tfe.archivist.requests
    assert path.startswith("/v1/object/")
    assert "authorization" not in headers  # the token never goes to the storage host
    assert tfe.token not in json.dumps(report) + err


def test_tfe_refused_token_names_the_variable_never_the_token(
    tfe: Tfe, scan: Scan, tokens: TokenFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    wrong = f"{tokens.clean_chars(ALNUM, 14)}.atlasv1.{tokens.clean_chars(ALNUM, 60)}"
    monkeypatch.setenv("TF_TOKEN_127_0_0_1", wrong)
    url = f"tfe+http://127.0.0.1:{tfe.api.port}/acme/prod"
    code, _, err = scan(url)
    assert code == 2
    one_line_error(err, f"{url}: access denied (HTTP 401): the token from TF_TOKEN_127_0_0_1 was refused")
    assert wrong not in err


def test_tfe_missing_token_and_workspace(tfe: Tfe, scan: Scan, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"tfe+http://127.0.0.1:{tfe.api.port}/acme/prod"
    code, _, err = scan(url)
    assert code == 2
    one_line_error(err, f"{url}: no API token: set TF_TOKEN_127_0_0_1 or TFE_TOKEN")
    assert tfe.api.requests == []

    monkeypatch.setenv("TFE_TOKEN", tfe.token)
    url = f"tfe+http://127.0.0.1:{tfe.api.port}/acme/staging"
    code, _, err = scan(url)
    assert code == 2
    one_line_error(err, f"{url}: no workspace here, or the token from TFE_TOKEN cannot see it (HTTP 404)")


def test_tfe_without_a_state_yet(serve: Callable[..., Server], scan: Scan, monkeypatch: pytest.MonkeyPatch) -> None:
    api = serve()
    body = {"data": {"id": "sv-1", "type": "state-versions", "attributes": {"hosted-state-download-url": None}}}
    api.serve("/api/v2/workspaces/ws-new/current-state-version", body=json.dumps(body).encode())
    monkeypatch.setenv("TFE_TOKEN", "t")
    url = f"tfe+http://127.0.0.1:{api.port}/ws-new"
    code, _, err = scan(url)
    assert code == 2
    one_line_error(err, f"{url}: the current state version has no hosted-state-download-url")


def test_tfe_plain_http_only_to_loopback_and_bad_forms(scan: Scan, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TFE_TOKEN", "t")
    code, _, err = scan("tfe+http://tfe.example.invalid/acme/prod")
    assert code == 2
    one_line_error(err, "tfe+http:// sends the token in clear: loopback hosts only")
    code, _, err = scan("tfe://app.terraform.io/acme")
    assert code == 2
    one_line_error(err, "expected tfe://HOST/ORGANIZATION/WORKSPACE or tfe://HOST/ws-ID")


def test_token_variable_names_follow_terraform() -> None:
    assert token_variables("app.terraform.io") == ["TF_TOKEN_app_terraform_io", "TFE_TOKEN"]
    assert token_variables("tfe-1.corp.example") == ["TF_TOKEN_tfe__1_corp_example", "TFE_TOKEN"]


def test_display_url_drops_credentials_and_query() -> None:
    assert display_url("https://u:p@h.example:8443/a/b?private_token=x#f") == "https://h.example:8443/a/b"
    assert display_url("http://[::1]:9/s") == "http://[::1]:9/s"


# --- transport settings from the command line and the environment ---


def test_https_backend_with_a_private_ca_needs_the_ca_bundle(
    http_server: ServerFactory, test_ca: TestCA, scan: Scan, tokens: TokenFactory
) -> None:
    password = tokens.clean_chars(ALNUM, 24)
    backend = http_server(tls=test_ca)
    backend.route("GET", "/state", Reply(200, state(password)))

    code, report, err = scan(backend.url("/state"))
    assert (code, report) == (2, {})
    one_line_error(err, backend.url("/state"))

    code, report, err = scan(backend.url("/state"), "--ca-bundle", str(test_ca.ca_file))
    assert code == 1, err
    assert located(report)[password][2:] == ("random_password.db", "result")

    code, _, err = scan(backend.url("/state"), "--ca-bundle", str(test_ca.ca_file.with_name("missing.pem")))
    assert code == 2 and "CA bundle not found" in err


def test_state_backend_through_the_proxy_of_the_environment(
    http_server: ServerFactory,
    http_proxy: LoopbackProxy,
    scan: Scan,
    tokens: TokenFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """HTTP_PROXY reaches the transport through the request (the CLI reads it); NO_PROXY bypasses it."""
    password = tokens.clean_chars(ALNUM, 24)
    backend = http_server()
    backend.route("GET", "/state", Reply(200, state(password)))
    monkeypatch.setenv("HTTP_PROXY", http_proxy.url)

    code, report, err = scan(backend.url("/state"))
    assert code == 1, err
    assert password in located(report)
    assert [target for _, target, _ in http_proxy.seen] == [backend.url("/state")]

    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    code, _, err = scan(backend.url("/state"))
    assert code == 1, err
    assert len(http_proxy.seen) == 1
