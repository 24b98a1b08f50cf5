"""The Google Cloud service-account key provider against a loopback server speaking the IAM API's
projects.serviceAccounts(.keys) endpoints: RSA keys are made at run time, their certificates served as Google
serves them (publicKeyType=TYPE_X509_PEM_FILE), and the leaked key is found by its public key."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import pytest
import yaml
from httpserver import LoopbackServer, Reply, Request, ServerFactory
from provider_api import TIMEOUT, carries, leaked, ok, provider, redirect
from tokens import TokenFactory

from scanner.errors import ConfigError
from scanner.respond.model import ActionKind, Outcome, ProviderResult
from scanner.respond.providers import PROVIDERS, provider_for_rule
from scanner.respond.providers.base import MissingCredential

RULE = "gcp-service-account-private-key"
PROJECT = "acme-prod-4821"
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def keypairs() -> list[tuple[str, bytes]]:
    """Three RSA keys with their certificates (made once per module: RSA key generation is slow)."""
    return [TokenFactory.rsa_key_and_certificate() for _ in range(3)]


@pytest.fixture
def ours(tokens: TokenFactory) -> dict[str, str]:
    return {"LEAKSTOP_GCP_ACCESS_TOKEN": "ya29." + tokens.clean_chars("abcdefghijkmnopqrstuvwxyz0123456789", 60)}


def account(email: str, project: str = PROJECT) -> str:
    return f"projects/{project}/serviceAccounts/{email}"


def in_key_file(pem: str) -> str:
    """The private key as the rule captures it from a JSON key file: line breaks written as ``\\n``."""
    return json.dumps(pem)[1:-1]


def iam(server: LoopbackServer, accounts: dict[str, list[tuple[str, bytes, bool]]], page_size: int = 1) -> None:
    """Service accounts of PROJECT (paged, ``page_size`` a page) and their user-managed keys: (key id,
    certificate PEM, disabled). An account without keys answers ``{}``: Google leaves out empty lists."""
    names = list(accounts)

    def listing(request: Request) -> Reply:
        query = dict(part.split("=") for part in request.query.split("&"))
        start = int(query.get("pageToken", "0"))
        page = {"accounts": [{"name": account(email), "email": email} for email in names[start : start + page_size]]}
        if start + page_size < len(names):
            page["nextPageToken"] = str(start + page_size)
        return ok(page)

    server.route("GET", f"/v1/projects/{PROJECT}/serviceAccounts", listing)
    for email, keys in accounts.items():
        listed = [
            {"name": f"{account(email)}/keys/{key_id}", "keyType": "USER_MANAGED", "disabled": disabled}
            for key_id, _, disabled in keys
        ]
        server.route("GET", f"/v1/{account(email)}/keys", ok({"keys": listed} if listed else {}))
        for key_id, certificate, _ in keys:
            name = f"{account(email)}/keys/{key_id}"
            data = {"name": name, "publicKeyData": base64.b64encode(certificate).decode(), "keyType": "USER_MANAGED"}
            server.route("GET", f"/v1/{name}", ok(data))
            server.route("POST", f"/v1/{name}:disable", ok({}))
            server.route("DELETE", f"/v1/{name}", ok({}))


def world(server: LoopbackServer, keypairs: list[tuple[str, bytes]], disabled: bool = False) -> str:
    """Three service accounts, one without keys; the leaked key (keypairs[0]) is b's second key."""
    iam(
        server,
        {
            f"a@{PROJECT}.iam.gserviceaccount.com": [("1111", keypairs[1][1], False)],
            f"empty@{PROJECT}.iam.gserviceaccount.com": [],
            f"b@{PROJECT}.iam.gserviceaccount.com": [
                ("2222", keypairs[2][1], False),
                ("3333", keypairs[0][1], disabled),
            ],
        },
    )
    return f"{account(f'b@{PROJECT}.iam.gserviceaccount.com')}/keys/3333"


def revoke(api: LoopbackServer, ours: dict[str, str], value: str, **settings: object) -> ProviderResult:
    """One leaked key through the provider pointed at ``api`` (project PROJECT unless ``settings`` say else)."""
    gcp = provider("gcp-service-account", ours, {"api_url": api.url(), "project": PROJECT, **settings})
    [result] = gcp.act(ActionKind.REVOKE, [leaked(RULE, value)])
    return result


def test_disables_the_key_whose_public_key_matches(
    http_server: ServerFactory, keypairs: list[tuple[str, bytes]], ours: dict[str, str]
) -> None:
    api = http_server()
    name = world(api, keypairs)
    value = in_key_file(keypairs[0][0])
    gcp = provider("gcp-service-account", ours, {"api_url": api.url(), "project": PROJECT})

    [result] = gcp.act(ActionKind.REVOKE, [leaked(RULE, value)])

    assert (result.outcome, result.reference) == (Outcome.DONE, name)
    disable = api.requests[-1]
    assert (disable.method, disable.path, json.loads(disable.body)) == ("POST", f"/v1/{name}:disable", {})
    listings = [r for r in api.requests if r.path.endswith("/serviceAccounts")]
    assert [r.query for r in listings] == ["pageSize=100", "pageSize=100&pageToken=1", "pageSize=100&pageToken=2"]
    gets = [r.query for r in api.requests if "/keys/" in r.path and r.method == "GET"]
    assert gets == ["publicKeyType=TYPE_X509_PEM_FILE"] * 3
    assert {r.headers["authorization"] for r in api.requests} == {f"Bearer {ours['LEAKSTOP_GCP_ACCESS_TOKEN']}"}
    assert not carries(api, keypairs[0][0].splitlines()[1])


def test_the_rule_capture_from_a_key_file_is_what_the_provider_reads(
    http_server: ServerFactory, keypairs: list[tuple[str, bytes]], ours: dict[str, str]
) -> None:
    """The built-in rule's capture (JSON-escaped PEM) goes to the provider as it is."""
    [rule] = [r for r in yaml.safe_load((ROOT / "rules" / "gcp.yaml").read_text())["rules"] if r["id"] == RULE]
    key_file = json.dumps(
        {"type": "service_account", "project_id": PROJECT, "private_key_id": "3333", "private_key": keypairs[0][0]}
    )
    capture = re.search(rule["regex"], key_file)
    assert capture is not None
    api = http_server()
    world(api, keypairs)

    result = revoke(api, ours, capture.group(1))

    assert result.outcome is Outcome.DONE


def test_delete_mode_deletes(
    http_server: ServerFactory, keypairs: list[tuple[str, bytes]], ours: dict[str, str]
) -> None:
    api = http_server()
    name = world(api, keypairs, disabled=True)  # a disabled key still works for nobody, but delete was asked

    [result] = provider(
        "gcp-service-account", ours, {"api_url": api.url(), "project": PROJECT, "revoke": "delete"}
    ).act(ActionKind.REVOKE, [leaked(RULE, keypairs[0][0])])

    assert (result.outcome, result.detail) == (Outcome.DONE, "gcp: key deleted")
    assert (api.requests[-1].method, api.requests[-1].path) == ("DELETE", f"/v1/{name}")


def test_a_disabled_key_is_already_done(
    http_server: ServerFactory, keypairs: list[tuple[str, bytes]], ours: dict[str, str]
) -> None:
    api = http_server()
    world(api, keypairs, disabled=True)

    result = revoke(api, ours, keypairs[0][0])

    assert result.outcome is Outcome.ALREADY_DONE and all(r.method == "GET" for r in api.requests)


@pytest.mark.parametrize("mode", ["disable", "delete"])
def test_a_key_deleted_before_the_revoke_is_already_done(
    http_server: ServerFactory, keypairs: list[tuple[str, bytes]], ours: dict[str, str], mode: str
) -> None:
    api = http_server()
    name = world(api, keypairs)
    gone = Reply(404, b'{"error":{"code":404,"status":"NOT_FOUND"}}')
    api.route("POST", f"/v1/{name}:disable", gone)
    api.route("DELETE", f"/v1/{name}", gone)

    result = revoke(api, ours, keypairs[0][0], revoke=mode)

    assert result.outcome is Outcome.ALREADY_DONE


def test_a_key_of_no_listed_account_fails(
    http_server: ServerFactory, keypairs: list[tuple[str, bytes]], ours: dict[str, str]
) -> None:
    api = http_server()
    iam(api, {f"a@{PROJECT}.iam.gserviceaccount.com": [("1111", keypairs[1][1], False)]})

    result = revoke(api, ours, keypairs[0][0])

    assert result.outcome is Outcome.FAILED and f"project {PROJECT}" in result.detail


def test_named_service_accounts_without_a_project_use_the_wildcard(
    http_server: ServerFactory, keypairs: list[tuple[str, bytes]], ours: dict[str, str]
) -> None:
    api = http_server()
    email = "deployer@acme.iam.gserviceaccount.com"
    name = f"{account(email, '-')}/keys/9999"
    api.route("GET", f"/v1/{account(email, '-')}/keys", ok({"keys": [{"name": name, "disabled": False}]}))
    api.route("GET", f"/v1/{name}", ok({"publicKeyData": base64.b64encode(keypairs[0][1]).decode()}))
    api.route("POST", f"/v1/{name}:disable", Reply(403, b'{"error":{"code":403,"status":"PERMISSION_DENIED"}}'))
    settings = {"api_url": api.url(), "service_accounts": [email]}

    [result] = provider("gcp-service-account", ours, settings).act(ActionKind.REVOKE, [leaked(RULE, keypairs[0][0])])

    assert result.outcome is Outcome.FAILED and "projects/-/" in result.detail
    assert not any(r.path.endswith("/serviceAccounts") for r in api.requests)


def test_a_value_that_is_not_a_private_key_fails(
    http_server: ServerFactory, keypairs: list[tuple[str, bytes]], tokens: TokenFactory, ours: dict[str, str]
) -> None:
    api = http_server()
    world(api, keypairs)
    shaped = tokens.private_key_pem()  # the shape of a key, none of its structure

    result = revoke(api, ours, shaped)

    assert result.outcome is Outcome.FAILED and "not a PEM private key" in result.detail
    assert all(r.method == "GET" for r in api.requests)


@pytest.mark.parametrize("status", [401, 403])
def test_our_token_rejected_fails(
    http_server: ServerFactory, keypairs: list[tuple[str, bytes]], ours: dict[str, str], status: int
) -> None:
    api = http_server()
    api.route("GET", f"/v1/projects/{PROJECT}/serviceAccounts", Reply(status, b'{"error":{"code":%d}}' % status))

    result = revoke(api, ours, keypairs[0][0])

    assert result.outcome is Outcome.FAILED and "our credential was rejected" in result.detail


def test_rate_limited_is_retried_after_google_says(
    http_server: ServerFactory, keypairs: list[tuple[str, bytes]], ours: dict[str, str]
) -> None:
    api = http_server()
    name = world(api, keypairs)
    api.route(
        "POST", f"/v1/{name}:disable", Reply(429, b'{"error":{"status":"RESOURCE_EXHAUSTED"}}', {"Retry-After": "12"})
    )

    result = revoke(api, ours, keypairs[0][0])

    assert (result.outcome, result.retry_after) == (Outcome.RETRY, 12.0)


def test_a_timeout_is_retried_later(
    http_server: ServerFactory, keypairs: list[tuple[str, bytes]], ours: dict[str, str]
) -> None:
    api = http_server()
    world(api, keypairs)
    email = f"a@{PROJECT}.iam.gserviceaccount.com"
    api.route("GET", f"/v1/{account(email)}/keys", Reply(200, b"{}", delay=TIMEOUT * 4))

    result = revoke(api, ours, keypairs[0][0])

    assert result.outcome is Outcome.RETRY and "timed out" in result.detail


@pytest.mark.parametrize(
    ("path", "answer"),
    [
        ("serviceAccounts", Reply(200, b"<html>Error 502</html>")),
        ("serviceAccounts", ok(["accounts"])),
        ("serviceAccounts", ok({"accounts": {"name": "x"}})),
        ("serviceAccounts", ok({"accounts": [{"name": f"projects/{PROJECT}/serviceAccounts/a/../../../x"}]})),
        ("serviceAccounts", ok({"accounts": [{"name": f"projects/{PROJECT}/serviceAccounts/a?x=1"}]})),
        ("serviceAccounts", ok({"accounts": [{"name": f"projects/{PROJECT}/serviceAccounts/.."}]})),
        ("keys", ok({"keys": [{"name": "projects/p/serviceAccounts/a@b/keys/../keys/1"}]})),
        ("keys", ok({"keys": [{"disabled": False}]})),
        ("key", ok({"name": "k", "publicKeyData": "not base64 at all!"})),
        ("key", ok({"name": "k", "publicKeyData": base64.b64encode(b"-----BEGIN CERTIFICATE-----\nAAAA\n").decode()})),
        ("key", ok({"name": "k"})),
    ],
)
def test_a_garbage_answer_fails(
    http_server: ServerFactory, keypairs: list[tuple[str, bytes]], ours: dict[str, str], path: str, answer: Reply
) -> None:
    api = http_server()
    email = f"a@{PROJECT}.iam.gserviceaccount.com"
    iam(api, {email: [("1111", keypairs[1][1], False)]})
    route = {
        "serviceAccounts": f"/v1/projects/{PROJECT}/serviceAccounts",
        "keys": f"/v1/{account(email)}/keys",
        "key": f"/v1/{account(email)}/keys/1111",
    }[path]
    api.route("GET", route, answer)

    result = revoke(api, ours, keypairs[0][0])

    assert result.outcome is Outcome.FAILED
    assert "unexpected answer" in result.detail or "not JSON" in result.detail
    assert not any(".." in r.path or r.method != "GET" for r in api.requests)


def test_a_listing_that_never_ends_fails(
    http_server: ServerFactory, keypairs: list[tuple[str, bytes]], ours: dict[str, str]
) -> None:
    api = http_server()
    api.route("GET", f"/v1/projects/{PROJECT}/serviceAccounts", ok({"nextPageToken": "again"}))

    result = revoke(api, ours, keypairs[0][0])

    assert result.outcome is Outcome.FAILED and "pages" in result.detail


def test_the_token_does_not_follow_a_redirect_to_another_host(
    http_server: ServerFactory, keypairs: list[tuple[str, bytes]], ours: dict[str, str]
) -> None:
    api, elsewhere = http_server(), http_server()
    path = f"/v1/projects/{PROJECT}/serviceAccounts"
    api.route("GET", path, redirect(elsewhere, path))
    elsewhere.route("GET", path, ok({}))

    result = revoke(api, ours, keypairs[0][0])

    assert result.outcome is Outcome.FAILED  # the other host knows no keys: nothing matches
    assert api.requests[0].headers["authorization"].startswith("Bearer ya29.")
    [followed] = elsewhere.requests
    assert "authorization" not in followed.headers


def test_credentials_and_settings(tokens: TokenFactory) -> None:
    with pytest.raises(MissingCredential) as raised:
        provider("gcp-service-account", {}, {"project": PROJECT})
    assert "$LEAKSTOP_GCP_ACCESS_TOKEN" in str(raised.value) and "\n" not in str(raised.value)
    with pytest.raises(MissingCredential, match=r"\$CI_GCP_TOKEN"):
        provider(
            "gcp-service-account", {"LEAKSTOP_GCP_ACCESS_TOKEN": "x"}, {"project": PROJECT, "token_env": "CI_GCP_TOKEN"}
        )
    made = provider(
        "gcp-service-account", {"CI_GCP_TOKEN": "ya29.x"}, {"project": PROJECT, "token_env": "CI_GCP_TOKEN"}
    )
    assert made.name == "gcp-service-account"
    with pytest.raises(ConfigError, match="set project"):
        provider("gcp-service-account", {"LEAKSTOP_GCP_ACCESS_TOKEN": "x"}, {})
    with pytest.raises(ConfigError, match="disable or delete"):
        provider("gcp-service-account", {"LEAKSTOP_GCP_ACCESS_TOKEN": "x"}, {"project": PROJECT, "revoke": "rotate"})


def test_other_rules_and_kinds_are_refused_without_a_request(
    http_server: ServerFactory, keypairs: list[tuple[str, bytes]], tokens: TokenFactory, ours: dict[str, str]
) -> None:
    api = http_server()
    gcp = provider("gcp-service-account", ours, {"api_url": api.url(), "project": PROJECT})

    assert gcp.supports(ActionKind.REVOKE, RULE) and not gcp.supports(ActionKind.ROTATE, RULE)
    assert not gcp.supports(ActionKind.REVOKE, "gcp-api-key")
    [rotate] = gcp.act(ActionKind.ROTATE, [leaked(RULE, keypairs[0][0])])
    [other] = gcp.act(ActionKind.REVOKE, [leaked("gcp-api-key", tokens.gcp_api_key())])

    assert rotate.outcome is other.outcome is Outcome.FAILED and "no adapter" in other.detail
    assert api.requests == []
    assert provider_for_rule(RULE) == "gcp-service-account"
    assert PROVIDERS["gcp-service-account"].action is ActionKind.REVOKE


@pytest.mark.parametrize(
    ("settings", "error"),
    [
        ({"gcp-service-account": {"project": PROJECT, "revoke": "delete", "token_env": "CI_TOKEN"}}, None),
        ({"gcp-service-account": {"service_accounts": ["ci@acme-4821.iam.gserviceaccount.com"]}}, None),
        ({"npm": {"registry": "https://npm.example.com/registry", "probe": False}}, None),
        ({"anthropic": {"api_url": "https://api.anthropic.com", "workspace_id": "wrkspc_1"}}, None),
        ({"gcp-service-account": {"revoke": "rotate"}}, "providers/gcp-service-account/revoke"),
        (
            {"gcp-service-account": {"service_accounts": ["x/../y@z"]}},
            "providers/gcp-service-account/service_accounts/0",
        ),
        ({"gcp-service-account": {"project": "p?x=1"}}, "providers/gcp-service-account/project"),
        ({"npm": {"registry": "file:///etc"}}, "providers/npm/registry"),
        ({"anthropic": {"admin_key": "keys come from the environment only"}}, "providers/anthropic"),
    ],
)
def test_the_settings_in_the_policy_schema(tmp_path: Path, settings: dict[str, object], error: str | None) -> None:
    from scanner.policy.validate import validated_doc

    config = tmp_path / ".leakstop.yaml"
    config.write_text(yaml.safe_dump({"respond": {"providers": settings}}))
    if error is None:
        assert validated_doc(config)["respond"]["providers"] == settings
    else:
        with pytest.raises(ConfigError, match=f"respond/{re.escape(error)}"):
            validated_doc(config)
