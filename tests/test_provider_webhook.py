"""The webhook provider and the webhook sink against a loopback receiver that checks every delivery with the
``standardwebhooks`` reference library: signatures (one key, two keys during a rotation), a stable webhook-id,
no secret in the body unless the policy says so, and what each answer means."""

from __future__ import annotations

import base64
import json
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from standardwebhooks import Webhook

import scanner.policy
from scanner.errors import ConfigError
from scanner.models import Secret
from scanner.policy.validate import validated_doc
from scanner.respond.model import ActionKind, Credential, Outcome, ProviderResult
from scanner.respond.providers import make_provider
from scanner.respond.providers.base import MissingCredential, ProviderContext, SinkError
from scanner.respond.sinks import make_sink
from scanner.respond.webhooks import DISABLED
from scanner.transport import HttpClient, HttpSettings
from tests.httpserver import LoopbackServer, Reply, Request, ServerFactory
from tests.tokens import TokenFactory


def whsec() -> str:
    return "whsec_" + base64.b64encode(os.urandom(32)).decode()


def verified(request: Request, key: str) -> Any:
    """The body, as the reference library reads it after checking the signature (raises if it does not match)."""
    return Webhook(key).verify(request.body, request.headers)


def provider(server: LoopbackServer, env: Mapping[str, str], http: HttpClient | None = None, **settings: Any) -> Any:
    context = ProviderContext("webhook", http or HttpClient(), env, {"url": server.url("/hook"), **settings})
    return make_provider(context)


def credential(tokens: TokenFactory) -> Credential:
    return Credential("github-pat", "c0ffee" * 6, Secret(tokens.github()), location="app.py:3", findings=("f1", "f2"))


def one(target: Any, kind: ActionKind, leaked: Credential) -> ProviderResult:
    [result] = target.act(kind, [leaked])
    assert leaked.secret.reveal() not in result.detail
    return result


def test_notify_posts_a_signed_event_without_the_secret(http_server: ServerFactory, tokens: TokenFactory) -> None:
    server, key, leaked = http_server(), whsec(), credential(tokens)
    server.route("POST", "/hook", Reply(204))
    result = one(provider(server, {"LEAKSTOP_WEBHOOK_SECRET": key}), ActionKind.NOTIFY, leaked)
    assert result.outcome is Outcome.DONE and result.reference.startswith("msg_")
    [request] = server.requests
    event = verified(request, key)
    assert event["type"] == "secret.leaked"
    assert event["data"] == {
        "secret_id": leaked.secret_id,
        "rule": "github-pat",
        "provider": "github",
        "action": "notify",
        "locations": ["app.py:3"],
        "findings": ["f1", "f2"],
        "redacted": leaked.secret.redacted(),
    }
    assert leaked.secret.reveal().encode() not in request.body
    assert request.headers["webhook-id"] == result.reference
    assert abs(int(request.headers["webhook-timestamp"]) - time.time()) < 5


def test_two_keys_during_a_rotation_each_verify(http_server: ServerFactory, tokens: TokenFactory) -> None:
    server, old, new = http_server(), whsec(), whsec()
    server.route("POST", "/hook", Reply(200))
    env = {"TEAM_HOOK_KEYS": f"{old}  {new}"}
    one(provider(server, env, secret_env="TEAM_HOOK_KEYS"), ActionKind.REVOKE, credential(tokens))
    [request] = server.requests
    assert len(request.headers["webhook-signature"].split(" ")) == 2
    assert verified(request, old)["type"] == verified(request, new)["type"] == "secret.revoke-requested"
    with pytest.raises(Exception, match="No matching signature"):
        verified(request, whsec())


def test_the_secret_is_sent_only_when_the_policy_says(http_server: ServerFactory, tokens: TokenFactory) -> None:
    server, key, leaked = http_server(), whsec(), credential(tokens)
    server.route("POST", "/hook", Reply(200))
    one(provider(server, {"LEAKSTOP_WEBHOOK_SECRET": key}, send_secret=True), ActionKind.ROTATE, leaked)
    event = verified(server.requests[0], key)
    assert (event["type"], event["data"]["secret"]) == ("secret.rotate-requested", leaked.secret.reveal())


def test_a_retry_keeps_the_id_and_signs_again(http_server: ServerFactory, tokens: TokenFactory) -> None:
    server, key, leaked = http_server(), whsec(), credential(tokens)
    server.route("POST", "/hook", Reply(429, headers={"Retry-After": "7"}), Reply(200))
    hook = provider(server, {"LEAKSTOP_WEBHOOK_SECRET": key})
    first = one(hook, ActionKind.NOTIFY, leaked)
    assert (first.outcome, first.retry_after) == (Outcome.RETRY, 7.0)
    assert one(hook, ActionKind.NOTIFY, leaked).outcome is Outcome.DONE
    ids = {r.headers["webhook-id"] for r in server.requests}
    assert len(server.requests) == 2 and len(ids) == 1
    for request in server.requests:
        verified(request, key)
    other = one(hook, ActionKind.REVOKE, leaked)  # another action: another event
    assert other.reference not in ids


@pytest.mark.parametrize(
    ("reply", "outcome", "words"),
    [
        (Reply(503, headers={"Retry-After": "30"}), Outcome.RETRY, "HTTP 503"),
        (Reply(502), Outcome.RETRY, "HTTP 502"),
        (Reply(504), Outcome.RETRY, "HTTP 504"),
        (Reply(401), Outcome.FAILED, "rejected"),
        (Reply(400, b"nope"), Outcome.FAILED, "HTTP 400"),
        (Reply(304), Outcome.FAILED, "HTTP 304"),
        (Reply(200, delay=2), Outcome.RETRY, "timed out"),
    ],
)
def test_answers(http_server: ServerFactory, tokens: TokenFactory, reply: Reply, outcome: Outcome, words: str) -> None:
    server = http_server()
    server.route("POST", "/hook", reply)
    http = HttpClient(HttpSettings(read_timeout=0.5))
    result = one(provider(server, {"LEAKSTOP_WEBHOOK_SECRET": whsec()}, http), ActionKind.NOTIFY, credential(tokens))
    assert result.outcome is outcome and words in result.detail
    assert len(server.requests) == 1  # one attempt: the outbox owns retries
    if reply.headers:
        assert result.retry_after == 30


def test_410_disables_the_endpoint(http_server: ServerFactory, tokens: TokenFactory) -> None:
    server = http_server()
    server.route("POST", "/hook", Reply(410))
    result = one(provider(server, {"LEAKSTOP_WEBHOOK_SECRET": whsec()}), ActionKind.NOTIFY, credential(tokens))
    assert (result.outcome, result.progress) == (Outcome.FAILED, DISABLED) and "disabled" in result.detail


@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_a_redirect_is_not_followed(http_server: ServerFactory, tokens: TokenFactory, status: int) -> None:
    server, elsewhere = http_server(), http_server()
    server.route("POST", "/hook", Reply(status, headers={"Location": elsewhere.url("/steal")}))
    hook = provider(server, {"LEAKSTOP_WEBHOOK_SECRET": whsec()}, send_secret=True)
    result = one(hook, ActionKind.ROTATE, credential(tokens))
    assert result.outcome is Outcome.FAILED and "redirects" in result.detail
    assert elsewhere.requests == [] and len(server.requests) == 1


def test_missing_or_malformed_keys(http_server: ServerFactory) -> None:
    server = http_server()
    with pytest.raises(MissingCredential, match=r"set \$LEAKSTOP_WEBHOOK_SECRET"):
        provider(server, {})
    with pytest.raises(MissingCredential, match=r"set \$TEAM_KEY"):
        provider(server, {"LEAKSTOP_WEBHOOK_SECRET": whsec()}, secret_env="TEAM_KEY")
    short = "whsec_" + base64.b64encode(b"x" * 8).decode()
    for bad in ("not-a-key", "whsec_%%%", short):
        with pytest.raises(ConfigError, match=r"\$LEAKSTOP_WEBHOOK_SECRET: key 2 is not whsec_") as caught:
            provider(server, {"LEAKSTOP_WEBHOOK_SECRET": f"{whsec()} {bad}"})
        assert bad not in str(caught.value)
    with pytest.raises(ConfigError, match=r"webhook\.url: not set"):
        make_provider(ProviderContext("webhook", HttpClient(), {"LEAKSTOP_WEBHOOK_SECRET": whsec()}, {}))


def test_it_takes_every_rule_and_kind(http_server: ServerFactory) -> None:
    hook = provider(http_server(), {"LEAKSTOP_WEBHOOK_SECRET": whsec()})
    assert all(hook.supports(kind, "any-rule") for kind in ActionKind)


# --- the webhook sink ---


def test_the_sink_delivers_the_replacement_signed(http_server: ServerFactory, tokens: TokenFactory) -> None:
    server, key, leaked = http_server(), whsec(), credential(tokens)
    server.route("POST", "/rotated", Reply(202))
    sink = make_sink({"type": "webhook", "url": server.url("/rotated")}, {"LEAKSTOP_WEBHOOK_SECRET": key}, HttpClient())
    new = tokens.aws_secret()
    where = sink.deliver(leaked, {"SecretAccessKey": Secret(new)}, {"user": "deploy", "access_key_id": "AKIA2"})
    [request] = server.requests
    event = verified(request, key)
    assert where == f"webhook {request.headers['webhook-id']}"
    assert event["type"] == "secret.replacement"
    assert event["data"] == {
        "secret_id": leaked.secret_id,
        "rule": "github-pat",
        "metadata": {"user": "deploy", "access_key_id": "AKIA2"},
        "replacement": {"SecretAccessKey": new},
    }
    assert leaked.secret.reveal().encode() not in request.body


@pytest.mark.parametrize(("status", "retryable"), [(503, True), (400, False), (410, False)])
def test_the_sink_raises_what_went_wrong(
    http_server: ServerFactory, tokens: TokenFactory, status: int, retryable: bool
) -> None:
    server = http_server()
    server.route("POST", "/rotated", Reply(status))
    sink = make_sink(
        {"type": "webhook", "url": server.url("/rotated")}, {"LEAKSTOP_WEBHOOK_SECRET": whsec()}, HttpClient()
    )
    secret = tokens.aws_secret()
    with pytest.raises(SinkError, match=f"HTTP {status}") as caught:
        sink.deliver(credential(tokens), {"SecretAccessKey": Secret(secret)}, {})
    assert caught.value.retryable is retryable and secret not in str(caught.value)


def test_sink_settings_are_checked() -> None:
    with pytest.raises(ConfigError, match=r"respond\.sink\.type: 'vault' is not a sink"):
        make_sink({"type": "vault"}, {}, HttpClient())
    with pytest.raises(ConfigError, match=r"respond\.sink\.url: not set"):
        make_sink({"type": "webhook"}, {"LEAKSTOP_WEBHOOK_SECRET": whsec()}, HttpClient())


def test_the_schema_checks_these_providers_and_the_sink(tmp_path: Path) -> None:
    config = tmp_path / "leakstop.yaml"
    config.write_text("respond:\n  providers:\n    webhook: {url: 'https://hooks.example/x', send_secret: 'yes'}\n")
    with pytest.raises(ConfigError, match="respond/providers/webhook/send_secret: 'yes' is not of type 'boolean'"):
        validated_doc(config)
    config.write_text("respond:\n  providers:\n    aws-iam: {identify: guess}\n")
    with pytest.raises(ConfigError, match="respond/providers/aws-iam/identify: 'guess' is not one of"):
        validated_doc(config)
    config.write_text(
        "respond:\n  providers:\n    aws-iam: {identify: caller-identity, overlap_hours: 2, revoke_sessions: true}\n"
        "    webhook: {url: 'https://hooks.example/x', secret_env: TEAM_KEYS, send_secret: true}\n"
    )
    assert validated_doc(config)["respond"]["providers"]["aws-iam"]["overlap_hours"] == 2
    schema = json.loads((Path(scanner.policy.__file__).parent / "config.schema.json").read_text())
    sink = jsonschema.Draft202012Validator({"$defs": schema["$defs"], "$ref": "#/$defs/sink"})
    assert sink.is_valid({"type": "secrets-manager", "secret_id": "leakstop/{user}", "region": "eu-west-1"})
    assert sink.is_valid({"type": "webhook", "url": "https://hooks.example/rotated"})
    assert not sink.is_valid({"type": "webhook"})  # no url
    assert not sink.is_valid({"type": "vault"})
    assert not sink.is_valid({"type": "secrets-manager", "bucket": "x"})
