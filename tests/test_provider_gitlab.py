"""The GitLab provider against a loopback server speaking GitLab's documented token API (personal_access_tokens.md,
project_access_tokens.md, group_access_tokens.md, admin/token.md): revoke with the leaked token itself, rotate
without ever repeating a rotate, the admin token API with ours, and what must not leak."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from helpers import BUILTIN_RULES
from httpserver import LoopbackServer, Reply, ServerFactory
from tokens import TokenFactory

from scanner.detect.engine import Detector
from scanner.errors import ConfigError
from scanner.models import Secret
from scanner.respond.model import ActionKind, Credential, Outcome, ProviderResult
from scanner.respond.providers import PROVIDERS, make_provider, provider_for_rule
from scanner.respond.providers.base import MissingCredential, Provider, ProviderContext, Sink, SinkError
from scanner.ruleset import load_ruleset
from scanner.transport import HttpClient, HttpSettings

SELF = "/api/v4/personal_access_tokens/self"
ADMIN = "/api/v4/admin/token"
NOW = 1_800_000_000.0  # 2027-01-15 08:00 UTC
OURS = "glpat-ours-" + "x" * 12  # not a leaked token: the operator's own, shape irrelevant


def record(token_id: int = 42, **fields: Any) -> Reply:
    data = {"id": token_id, "name": "ci", "revoked": False, "active": True, "user_id": 7, "scopes": ["api"], **fields}
    return Reply(200, json.dumps(data).encode(), {"Content-Type": "application/json"})


def rotated(token: str, token_id: int = 43) -> Reply:
    data = {"id": token_id, "token": token, "expires_at": "2027-02-14", "active": True, "revoked": False}
    return Reply(200, json.dumps(data).encode(), {"Content-Type": "application/json"})


def user(username: str) -> Reply:
    return Reply(200, json.dumps({"id": 7, "username": username, "bot": "_bot_" in username}).encode())


class RecordingSink:
    def __init__(self, error: SinkError | None = None) -> None:
        self.error = error
        self.delivered: list[tuple[str, str, dict[str, str]]] = []

    def deliver(self, credential: Credential, replacement: Mapping[str, Secret], metadata: Mapping[str, str]) -> str:
        if self.error is not None:
            raise self.error
        self.delivered.append((credential.secret_id, replacement["token"].reveal(), dict(metadata)))
        return "vault:v7"


def gitlab(
    server: LoopbackServer,
    env: Mapping[str, str] | None = None,
    sink: Sink | None = None,
    **settings: Any,
) -> Provider:
    http = HttpClient(HttpSettings(connect_timeout=2, read_timeout=0.5))
    context = ProviderContext(
        "gitlab", http, env=env or {}, settings={"url": server.base, **settings}, clock=lambda: NOW, sink=sink
    )
    return make_provider(context)


def act(provider: Provider, kind: ActionKind, token: str, rule_id: str = "gitlab-pat") -> ProviderResult:
    [result] = provider.act(kind, [Credential(rule_id, "fp-1", Secret(token), location="app/.env:3")])
    assert token not in result.detail and token not in result.reference
    return result


def calls(server: LoopbackServer) -> list[tuple[str, str]]:
    return [(r.method, r.path) for r in server.requests]


# -- revoke with the leaked token ----------------------------------------------------------------------------


@pytest.mark.parametrize("shape", ["gitlab_pat", "gitlab_pat_routable"])
def test_revoke_identifies_then_revokes_with_the_token_itself(
    http_server: ServerFactory, tokens: TokenFactory, shape: str
) -> None:
    token = getattr(tokens, shape)()
    api = http_server()
    api.route("GET", SELF, record(42))
    api.route("DELETE", SELF, Reply(204))
    rule = "gitlab-pat" if shape == "gitlab_pat" else "gitlab-pat-routable"
    result = act(gitlab(api), ActionKind.REVOKE, token, rule)
    assert (result.outcome, result.reference, result.detail) == (Outcome.DONE, "42", "revoked token 42")
    assert calls(api) == [("GET", SELF), ("DELETE", SELF)]
    for request in api.requests:
        assert request.headers["authorization"] == f"Bearer {token}"
        assert "private-token" not in request.headers  # it would follow a redirect; Authorization does not
        assert token not in request.path + request.query


def test_a_token_gitlab_no_longer_accepts_is_already_revoked(http_server: ServerFactory, tokens: TokenFactory) -> None:
    api = http_server()
    api.route("GET", SELF, Reply(401, b'{"message":"401 Unauthorized"}'))
    result = act(gitlab(api), ActionKind.REVOKE, tokens.gitlab_pat())
    assert result.outcome is Outcome.ALREADY_DONE and "no longer accepts" in result.detail
    assert calls(api) == [("GET", SELF)]  # nothing else attempted


@pytest.mark.parametrize("fields", [{"revoked": True, "active": False}, {"active": False}])
def test_a_revoked_or_expired_record_is_already_done(
    http_server: ServerFactory, tokens: TokenFactory, fields: dict[str, bool]
) -> None:
    api = http_server()
    api.route("GET", SELF, record(42, **fields))
    result = act(gitlab(api), ActionKind.REVOKE, tokens.gitlab_pat())
    assert (result.outcome, result.reference) == (Outcome.ALREADY_DONE, "42")
    assert calls(api) == [("GET", SELF)]


@pytest.mark.parametrize(
    ("reply", "outcome", "retry_after"),
    [
        (Reply(204), Outcome.DONE, None),
        (Reply(401), Outcome.ALREADY_DONE, None),  # revoked between the two calls
        (Reply(429, headers={"Retry-After": "30"}), Outcome.RETRY, 30.0),
        (Reply(503), Outcome.RETRY, None),
        (Reply(400, b'{"message":"400 Bad request"}'), Outcome.FAILED, None),
    ],
)
def test_revoke_answers(
    http_server: ServerFactory, tokens: TokenFactory, reply: Reply, outcome: Outcome, retry_after: float | None
) -> None:
    api = http_server()
    api.route("GET", SELF, record(42))
    api.route("DELETE", SELF, reply)
    result = act(gitlab(api), ActionKind.REVOKE, tokens.gitlab_pat())
    assert (result.outcome, result.retry_after, result.reference) == (outcome, retry_after, "42")


@pytest.mark.parametrize(
    ("reply", "outcome", "retry_after"),
    [
        (Reply(429, headers={"Retry-After": "12"}), Outcome.RETRY, 12.0),
        (Reply(502), Outcome.RETRY, None),
        (Reply(403), Outcome.FAILED, None),  # the leaked token's 403 says nothing about a credential of ours
        (Reply(200, b"<html>maintenance</html>"), Outcome.FAILED, None),
        (Reply(200, b'{"name": "no id"}'), Outcome.FAILED, None),
        (Reply(200, b"[1, 2]"), Outcome.FAILED, None),
        (Reply(200, b'{"id": 4', headers={"Content-Length": "200"}, truncate=8), Outcome.FAILED, None),
    ],
)
def test_identify_answers(
    http_server: ServerFactory, tokens: TokenFactory, reply: Reply, outcome: Outcome, retry_after: float | None
) -> None:
    api = http_server()
    api.route("GET", SELF, reply)
    result = act(gitlab(api), ActionKind.REVOKE, tokens.gitlab_pat())
    assert (result.outcome, result.retry_after) == (outcome, retry_after)
    assert "our credential" not in result.detail
    assert calls(api) == [("GET", SELF)]


def test_a_timeout_is_retried_later(http_server: ServerFactory, tokens: TokenFactory) -> None:
    api = http_server()
    api.route("GET", SELF, Reply(200, b"{}", delay=1.5))
    result = act(gitlab(api), ActionKind.REVOKE, tokens.gitlab_pat())
    assert result.outcome is Outcome.RETRY and "identify" in result.detail
    assert len(api.requests) == 1  # the outbox retries, not the transport


def test_nothing_listens(tokens: TokenFactory, http_server: ServerFactory) -> None:
    api = http_server()
    api.stop()
    result = act(gitlab(api), ActionKind.REVOKE, tokens.gitlab_pat())
    assert result.outcome is Outcome.RETRY


def test_a_redirect_to_another_host_gets_no_token_and_is_not_believed(
    http_server: ServerFactory, tokens: TokenFactory
) -> None:
    api, elsewhere = http_server(), http_server()
    api.route("GET", SELF, Reply(302, headers={"Location": elsewhere.url(SELF)}))
    elsewhere.route("GET", SELF, record(42))
    token = tokens.gitlab_pat()
    result = act(gitlab(api), ActionKind.REVOKE, token)
    assert result.outcome is Outcome.FAILED and "redirected to another host" in result.detail
    [followed] = elsewhere.requests
    assert "authorization" not in followed.headers and "private-token" not in followed.headers
    assert token not in json.dumps(followed.headers) + followed.path + followed.query
    assert calls(api) == [("GET", SELF)]  # no revoke on the strength of another host's answer


# -- rotate ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("username", "rotate_path"),
    [
        ("alice", "/api/v4/personal_access_tokens/self/rotate"),
        ("project_123_bot_4ffca233d8298ea1", "/api/v4/projects/123/access_tokens/self/rotate"),
        ("group_9_bot_0a1b2c3d4e5f6a7b", "/api/v4/groups/9/access_tokens/self/rotate"),
    ],
)
def test_rotate_hands_the_replacement_to_the_sink(
    http_server: ServerFactory, tokens: TokenFactory, username: str, rotate_path: str
) -> None:
    token, new = tokens.gitlab_pat(), tokens.gitlab_pat_routable()
    api, sink = http_server(), RecordingSink()
    api.route("GET", SELF, record(42))
    api.route("GET", "/api/v4/user", user(username))
    api.route("POST", rotate_path, rotated(new, 43))
    result = act(gitlab(api, sink=sink), ActionKind.ROTATE, token)
    assert (result.outcome, result.reference) == (Outcome.DONE, "43")
    assert new not in result.detail and "vault:v7" in result.detail
    assert sink.delivered == [
        ("fp-1", new, {"provider": "gitlab", "token_id": "43", "previous_token_id": "42", "expires_at": "2027-02-14"})
    ]
    rotate = api.requests[-1]
    assert (rotate.method, rotate.path) == ("POST", rotate_path)
    assert json.loads(rotate.body) == {"expires_at": "2027-02-14"}  # NOW + 30 days (the default)
    assert rotate.headers["authorization"] == f"Bearer {token}"


def test_rotate_expiry_comes_from_the_settings(http_server: ServerFactory, tokens: TokenFactory) -> None:
    api = http_server()
    api.route("GET", SELF, record(42))
    api.route("GET", "/api/v4/user", user("alice"))
    api.route("POST", "/api/v4/personal_access_tokens/self/rotate", rotated(tokens.gitlab_pat()))
    act(gitlab(api, sink=RecordingSink(), expires_in_days=365), ActionKind.ROTATE, tokens.gitlab_pat())
    assert json.loads(api.requests[-1].body) == {"expires_at": "2028-01-15"}


def test_a_token_that_may_not_rotate_itself_is_rotated_by_id_with_ours(
    http_server: ServerFactory, tokens: TokenFactory
) -> None:
    api, sink, new = http_server(), RecordingSink(), tokens.gitlab_pat()
    api.route("GET", SELF, record(42, scopes=["read_api"]))
    api.route("GET", "/api/v4/user", user("group_9_bot_0a1b2c3d4e5f6a7b"))
    api.route("POST", "/api/v4/groups/9/access_tokens/self/rotate", Reply(403, b'{"message":"403 Forbidden"}'))
    api.route("POST", "/api/v4/groups/9/access_tokens/42/rotate", rotated(new, 44))
    result = act(gitlab(api, env={"LEAKSTOP_GITLAB_TOKEN": OURS}, sink=sink), ActionKind.ROTATE, tokens.gitlab_pat())
    assert (result.outcome, result.reference) == (Outcome.DONE, "44")
    assert api.requests[-1].headers["authorization"] == f"Bearer {OURS}"
    assert [token for _, token, _ in sink.delivered] == [new]


def test_without_ours_a_token_that_may_not_rotate_itself_is_left_alone(
    http_server: ServerFactory, tokens: TokenFactory
) -> None:
    api = http_server()
    api.route("GET", SELF, record(42))
    api.route("GET", "/api/v4/user", user("alice"))
    api.route("POST", "/api/v4/personal_access_tokens/self/rotate", Reply(403))
    result = act(gitlab(api, sink=RecordingSink()), ActionKind.ROTATE, tokens.gitlab_pat())
    assert result.outcome is Outcome.FAILED
    assert "self_rotate scope" in result.detail and "$LEAKSTOP_GITLAB_TOKEN" in result.detail
    assert "nothing rotated" in result.detail


@pytest.mark.parametrize(
    "reply",
    [Reply(200, b"{}", delay=1.5), Reply(500), Reply(502), Reply(200, b'{"id": 43}')],
    ids=["timeout", "500", "502", "no-token"],
)
def test_a_rotate_in_doubt_is_never_repeated(http_server: ServerFactory, tokens: TokenFactory, reply: Reply) -> None:
    """A rotate that may have happened is FAILED, never RETRY: repeating it on the (now revoked) old token would
    revoke the whole token family. The server would answer a second rotate with success: none is made."""
    api = http_server()
    api.route("GET", SELF, record(42))
    api.route("GET", "/api/v4/user", user("alice"))
    api.route("POST", "/api/v4/personal_access_tokens/self/rotate", reply, rotated(tokens.gitlab_pat()))
    sink = RecordingSink()
    result = act(gitlab(api, sink=sink), ActionKind.ROTATE, tokens.gitlab_pat())
    assert result.outcome is Outcome.FAILED and "state unknown" in result.detail and "42" in result.detail
    assert result.retry_after is None
    assert [r.path for r in api.requests].count("/api/v4/personal_access_tokens/self/rotate") == 1
    assert sink.delivered == []


def test_a_rate_limited_rotate_did_not_happen_and_may_be_retried(
    http_server: ServerFactory, tokens: TokenFactory
) -> None:
    api = http_server()
    api.route("GET", SELF, record(42))
    api.route("GET", "/api/v4/user", user("alice"))
    api.route("POST", "/api/v4/personal_access_tokens/self/rotate", Reply(429, headers={"Retry-After": "60"}))
    result = act(gitlab(api, sink=RecordingSink()), ActionKind.ROTATE, tokens.gitlab_pat())
    assert (result.outcome, result.retry_after, result.reference) == (Outcome.RETRY, 60.0, "42")


def test_an_already_revoked_token_is_never_rotated(http_server: ServerFactory, tokens: TokenFactory) -> None:
    api = http_server()
    api.route("GET", SELF, Reply(401))
    result = act(gitlab(api, sink=RecordingSink()), ActionKind.ROTATE, tokens.gitlab_pat())
    assert result.outcome is Outcome.ALREADY_DONE and "whole family" in result.detail
    assert calls(api) == [("GET", SELF)]


def test_rotate_without_a_sink_sends_nothing(http_server: ServerFactory, tokens: TokenFactory) -> None:
    api = http_server()
    result = act(gitlab(api), ActionKind.ROTATE, tokens.gitlab_pat())
    assert result.outcome is Outcome.FAILED and "no sink" in result.detail and "nothing rotated" in result.detail
    assert api.requests == []


@pytest.mark.parametrize(
    ("reply", "outcome"),
    [(Reply(403), Outcome.FAILED), (Reply(503), Outcome.RETRY), (Reply(200, b"[]"), Outcome.FAILED)],
)
def test_rotate_needs_to_know_whose_token_it_is(
    http_server: ServerFactory, tokens: TokenFactory, reply: Reply, outcome: Outcome
) -> None:
    api = http_server()
    api.route("GET", SELF, record(42))
    api.route("GET", "/api/v4/user", reply)
    result = act(gitlab(api, sink=RecordingSink()), ActionKind.ROTATE, tokens.gitlab_pat())
    assert (result.outcome, result.reference) == (outcome, "42")
    assert all("rotate" not in r.path for r in api.requests)


@pytest.mark.parametrize(("revoke", "said"), [(Reply(204), "revoked again"), (Reply(500), "revoke replacement 43")])
def test_a_replacement_the_sink_refused_is_revoked_again(
    http_server: ServerFactory, tokens: TokenFactory, revoke: Reply, said: str
) -> None:
    token, new = tokens.gitlab_pat(), tokens.gitlab_pat()
    api = http_server()
    api.route("GET", SELF, record(42))
    api.route("GET", "/api/v4/user", user("alice"))
    api.route("POST", "/api/v4/personal_access_tokens/self/rotate", rotated(new, 43))
    api.route("DELETE", SELF, revoke)
    sink = RecordingSink(SinkError("secrets manager: access denied", retryable=True))
    result = act(gitlab(api, sink=sink), ActionKind.ROTATE, token)
    assert result.outcome is Outcome.FAILED and said in result.detail and "access denied" in result.detail
    assert new not in result.detail
    assert api.requests[-1].headers["authorization"] == f"Bearer {new}"  # the replacement revokes itself


# -- the admin token API ----------------------------------------------------------------------------------------


def admin(server: LoopbackServer) -> Provider:
    return gitlab(server, env={"LEAKSTOP_GITLAB_TOKEN": OURS}, admin=True)


def test_admin_revokes_other_token_kinds_with_ours(http_server: ServerFactory, tokens: TokenFactory) -> None:
    deploy = "gldt-" + tokens.clean_chars("abcdefghijklmnopqrstuvwxyz0123456789", 20)
    api = http_server()
    api.route("POST", ADMIN, Reply(200, b'{"id": 7, "revoked": false, "name": "deploy"}'))
    api.route("DELETE", ADMIN, Reply(204))
    result = act(admin(api), ActionKind.REVOKE, deploy, "gitlab-deploy-token")
    assert (result.outcome, result.reference) == (Outcome.DONE, "7")
    assert calls(api) == [("POST", ADMIN), ("DELETE", ADMIN)]
    for request in api.requests:
        assert request.headers["authorization"] == f"Bearer {OURS}"
        assert json.loads(request.body) == {"token": deploy}


@pytest.mark.parametrize(
    ("info", "revoke", "outcome", "words"),
    [
        (Reply(404), None, Outcome.ALREADY_DONE, "does not know"),
        (Reply(200, b'{"id": 7, "revoked": true}'), None, Outcome.ALREADY_DONE, "revoked"),
        (Reply(401), None, Outcome.FAILED, "our credential was rejected"),  # ours, not the leaked one
        (Reply(403), None, Outcome.FAILED, "our credential was rejected"),
        (Reply(422), None, Outcome.FAILED, "does not take this kind"),
        (Reply(429, headers={"Retry-After": "5"}), None, Outcome.RETRY, "HTTP 429"),
        (Reply(200, b"garbage"), None, Outcome.FAILED, "not a GitLab token record"),
        (Reply(409), None, Outcome.FAILED, "unexpected answer HTTP 409"),
        (Reply(200, b'{"id": 7}'), Reply(404), Outcome.ALREADY_DONE, "does not know"),
        (Reply(200, b'{"id": 7}'), Reply(503), Outcome.RETRY, "HTTP 503"),
    ],
)
def test_admin_answers(
    http_server: ServerFactory,
    tokens: TokenFactory,
    info: Reply,
    revoke: Reply | None,
    outcome: Outcome,
    words: str,
) -> None:
    api = http_server()
    api.route("POST", ADMIN, info)
    if revoke is not None:
        api.route("DELETE", ADMIN, revoke)
    result = act(admin(api), ActionKind.REVOKE, "glft-" + tokens.clean_chars("abcdefghij", 20), "gitlab-feed-token")
    assert result.outcome is outcome and words in result.detail


def test_admin_requests_carry_the_token_in_the_body_so_no_redirect_is_followed(
    http_server: ServerFactory, tokens: TokenFactory
) -> None:
    api, elsewhere = http_server(), http_server()
    api.route("POST", ADMIN, Reply(307, headers={"Location": elsewhere.url(ADMIN)}))
    result = act(admin(api), ActionKind.REVOKE, "gldt-" + tokens.clean_chars("abcdefghij", 20), "gitlab-deploy-token")
    assert result.outcome is Outcome.FAILED and "redirect" in result.detail
    assert elsewhere.requests == []


def test_admin_needs_our_token_named_in_one_line(http_server: ServerFactory) -> None:
    with pytest.raises(MissingCredential) as raised:
        gitlab(http_server(), admin=True)
    assert "$LEAKSTOP_GITLAB_TOKEN" in str(raised.value) and "\n" not in str(raised.value)


# -- what it takes, and its settings ------------------------------------------------------------------------------


def test_what_it_supports(http_server: ServerFactory) -> None:
    plain, with_admin = gitlab(http_server()), admin(http_server())
    assert plain.supports(ActionKind.REVOKE, "gitlab-pat") and plain.supports(ActionKind.ROTATE, "gitlab-pat-routable")
    assert not plain.supports(ActionKind.REVOKE, "gitlab-deploy-token")
    assert with_admin.supports(ActionKind.REVOKE, "gitlab-deploy-token")
    assert not with_admin.supports(ActionKind.ROTATE, "gitlab-deploy-token")
    for rule in ("gitlab-runner-registration-token", "gitlab-ci-job-token", "gitlab-scim-token", "slack-bot-token"):
        assert not with_admin.supports(ActionKind.REVOKE, rule)
    assert not plain.supports(ActionKind.NOTIFY, "gitlab-pat")
    assert plain.guide.startswith("https://docs.gitlab.com/")
    assert {rule for rule in PROVIDERS["gitlab"].rules if with_admin.supports(ActionKind.REVOKE, rule)} == set(
        PROVIDERS["gitlab"].rules
    )
    assert provider_for_rule("gitlab-pat-routable") == "gitlab"


def test_an_unsupported_rule_or_kind_is_refused_without_a_call(
    http_server: ServerFactory, tokens: TokenFactory
) -> None:
    api = http_server()
    provider = gitlab(api)
    assert act(provider, ActionKind.REVOKE, "gldt-" + tokens.clean_chars("abc", 20), "gitlab-deploy-token").outcome is (
        Outcome.FAILED
    )
    assert act(provider, ActionKind.NOTIFY, tokens.gitlab_pat()).outcome is Outcome.FAILED
    assert api.requests == []


@pytest.mark.parametrize(
    ("settings", "words"),
    [
        ({"url": "gitlab.example.com"}, "providers.gitlab.url"),
        ({"expires_in_days": 366}, "providers.gitlab.expires_in_days"),
        ({"expires_in_days": True}, "providers.gitlab.expires_in_days"),
    ],
)
def test_bad_settings(settings: dict[str, Any], words: str) -> None:
    context = ProviderContext("gitlab", HttpClient(), settings=settings)
    with pytest.raises(ConfigError, match=words):
        make_provider(context)


def test_the_default_instance_is_gitlab_com() -> None:
    provider: Any = make_provider(ProviderContext("gitlab", HttpClient()))
    assert provider.api == "https://gitlab.com/api/v4"


def test_generated_tokens_are_what_the_rules_find(tokens: TokenFactory, tmp_path: Path) -> None:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LEAKSTOP_CACHE_DIR", str(tmp_path))
        detector = Detector(load_ruleset([BUILTIN_RULES / "gitlab.yaml"]))
        for shape, rule in (("gitlab_pat", "gitlab-pat"), ("gitlab_pat_routable", "gitlab-pat-routable")):
            token = getattr(tokens, shape)()
            found = detector.detect(f"GITLAB_TOKEN={token}\n".encode())
            assert [(m.rule_id, m.secret.reveal()) for m in found] == [(rule, token)]
