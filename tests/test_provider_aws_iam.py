"""The aws-iam provider and the secrets-manager sink, end to end with boto3 against moto's server mode on
loopback (``moto_server`` as a subprocess): identify, revoke, rotate through every step with a clock the test
moves, a resume after a crash, the two-keys limit, missing credentials, AWS down, credentials AWS refuses."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError, NoCredentialsError, ParamValidationError

from scanner.models import Secret
from scanner.respond.awsclient import error_outcome
from scanner.respond.model import ActionKind, Credential, Outcome, ProviderResult
from scanner.respond.providers import make_provider
from scanner.respond.providers.aws_iam import Progress
from scanner.respond.providers.base import MissingCredential, ProviderContext, Sink
from scanner.respond.sinks import make_sink
from scanner.transport import HttpClient, HttpSettings
from tests.httpserver import Reply, ServerFactory
from tests.tokens import TokenFactory

WEBHOOK_KEY = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"  # a test key, not a credential anywhere


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_moto(env: Mapping[str, str] | None = None) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    moto = Path(sys.executable).with_name("moto_server")
    process = subprocess.Popen(
        [str(moto), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, **(env or {})},
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return process, f"http://127.0.0.1:{port}"
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("moto_server did not start")


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:  # pragma: no cover
        process.kill()


@pytest.fixture(scope="session")
def moto() -> Iterator[str]:
    process, endpoint = start_moto()
    yield endpoint
    stop(process)


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


@dataclass
class Aws:
    """A user with one access key (the leaked one) in moto, our credentials, and a way to make the provider."""

    endpoint: str
    ours: dict[str, str]
    iam: Any
    user: str
    key_id: str
    key_secret: str
    clock: Clock

    def credential(self, progress: str = "", with_secret: bool = False) -> Credential:
        related = {"aws-secret-access-key": Secret(self.key_secret)} if with_secret else {}
        return Credential("aws-access-key-id", "s" + self.key_id[-8:], Secret(self.key_id), related, "f.env", progress)

    def provider(self, sink: Sink | None = None, **settings: Any) -> Any:
        settings = {"endpoint_url": self.endpoint, **settings}
        context = ProviderContext("aws-iam", HttpClient(), self.ours, settings, self.clock, sink)
        return make_provider(context)

    def keys(self) -> dict[str, str]:
        return {
            k["AccessKeyId"]: k["Status"] for k in self.iam.list_access_keys(UserName=self.user)["AccessKeyMetadata"]
        }

    def sink(self, name: str = "leakstop/{user}") -> Sink:
        settings = {"type": "secrets-manager", "secret_id": name, "endpoint_url": self.endpoint}
        return make_sink(settings, self.ours, HttpClient())

    def stored(self, name: str) -> dict[str, str]:
        sm = boto3.client("secretsmanager", endpoint_url=self.endpoint, region_name="us-east-1", **self.keyword())
        return dict(json.loads(sm.get_secret_value(SecretId=name)["SecretString"]))

    def keyword(self) -> dict[str, str]:
        return {
            "aws_access_key_id": self.ours["AWS_ACCESS_KEY_ID"],
            "aws_secret_access_key": self.ours["AWS_SECRET_ACCESS_KEY"],
        }


def our_credentials(tokens: TokenFactory) -> dict[str, str]:
    return {"AWS_ACCESS_KEY_ID": tokens.aws_key_id(), "AWS_SECRET_ACCESS_KEY": tokens.aws_secret()}


@pytest.fixture
def aws(moto: str, tokens: TokenFactory) -> Aws:
    ours = our_credentials(tokens)
    iam = boto3.client(
        "iam",
        endpoint_url=moto,
        region_name="us-east-1",
        aws_access_key_id=ours["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=ours["AWS_SECRET_ACCESS_KEY"],
    )
    user = f"deploy-{uuid.uuid4().hex[:8]}"
    iam.create_user(UserName=user)
    made = iam.create_access_key(UserName=user)["AccessKey"]
    return Aws(moto, ours, iam, user, made["AccessKeyId"], made["SecretAccessKey"], Clock())


def one(provider: Any, kind: ActionKind, credential: Credential) -> ProviderResult:
    [result] = provider.act(kind, [credential])
    assert credential.secret.reveal() not in result.detail + result.progress + result.reference
    return result


# --- identify and revoke ---


def test_revoke_finds_the_user_with_our_credentials_and_deactivates_the_key(aws: Aws) -> None:
    result = one(aws.provider(), ActionKind.REVOKE, aws.credential(with_secret=True))
    assert result.outcome is Outcome.DONE
    assert "iam:GetAccessKeyLastUsed" in result.detail and aws.user in result.detail
    assert "reversible" in result.detail and "sessions" in result.detail
    assert aws.keys() == {aws.key_id: "Inactive"}


def test_revoke_can_identify_the_key_by_signing_with_it(aws: Aws) -> None:
    result = one(aws.provider(identify="caller-identity"), ActionKind.REVOKE, aws.credential(with_secret=True))
    assert result.outcome is Outcome.DONE and "sts:GetCallerIdentity with the found key" in result.detail
    assert aws.keys() == {aws.key_id: "Inactive"}


def test_caller_identity_without_the_secret_key_looks_the_key_up(aws: Aws) -> None:
    result = one(aws.provider(identify="caller-identity"), ActionKind.REVOKE, aws.credential())
    assert result.outcome is Outcome.DONE and "iam:GetAccessKeyLastUsed" in result.detail


def test_a_key_already_inactive_or_deleted_is_already_done(aws: Aws) -> None:
    aws.iam.update_access_key(UserName=aws.user, AccessKeyId=aws.key_id, Status="Inactive")
    result = one(aws.provider(), ActionKind.REVOKE, aws.credential())
    assert (result.outcome, result.detail) == (Outcome.ALREADY_DONE, "aws-iam: key already inactive; nothing to revoke")
    aws.iam.delete_access_key(UserName=aws.user, AccessKeyId=aws.key_id)
    result = one(aws.provider(), ActionKind.REVOKE, aws.credential())
    assert result.outcome is Outcome.ALREADY_DONE and "already deleted" in result.detail


def test_revoke_sessions_denies_tokens_issued_before_now(aws: Aws) -> None:
    result = one(aws.provider(revoke_sessions=True), ActionKind.REVOKE, aws.credential())
    assert result.outcome is Outcome.DONE and "LeakstopRevokeOlderSessions" in result.detail
    policy = aws.iam.get_user_policy(UserName=aws.user, PolicyName="LeakstopRevokeOlderSessions")["PolicyDocument"]
    issued = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(aws.clock.now))
    assert policy["Statement"] == [
        {
            "Effect": "Deny",
            "Action": "*",
            "Resource": "*",
            "Condition": {"DateLessThan": {"aws:TokenIssueTime": issued}},
        }
    ]


# --- rotate ---


def rotate_until_overlap(aws: Aws, provider: Any) -> tuple[ProviderResult, ProviderResult]:
    first = one(provider, ActionKind.ROTATE, aws.credential())
    assert first.outcome is Outcome.RETRY and first.retry_after == 0
    assert first.progress == f"identified:{aws.user}:" and aws.keys() == {aws.key_id: "Active"}
    second = one(provider, ActionKind.ROTATE, aws.credential(first.progress))
    return first, second


def test_rotate_creates_hands_over_deactivates_then_deletes_after_the_overlap(aws: Aws) -> None:
    provider = aws.provider(aws.sink(), overlap_hours=2)
    _, handed = rotate_until_overlap(aws, provider)
    new_id = handed.reference
    assert handed.outcome is Outcome.RETRY and handed.retry_after == 7200
    assert handed.progress == f"deactivated:{aws.user}:{new_id}:{aws.clock.now + 7200:.0f}"
    assert aws.keys() == {aws.key_id: "Inactive", new_id: "Active"}
    stored = aws.stored(f"leakstop/{aws.user}")
    assert stored["AccessKeyId"] == new_id and len(stored["SecretAccessKey"]) == 40
    assert "arn:aws:secretsmanager:" in handed.detail and stored["SecretAccessKey"] not in handed.detail

    aws.clock.now += 3600  # an early attempt waits for the rest of the window
    early = one(provider, ActionKind.ROTATE, aws.credential(handed.progress))
    assert (early.outcome, early.progress) == (Outcome.RETRY, handed.progress)
    assert early.retry_after == pytest.approx(3600, abs=1)
    assert aws.keys() == {aws.key_id: "Inactive", new_id: "Active"}

    aws.clock.now += 3601
    done = one(provider, ActionKind.ROTATE, aws.credential(handed.progress))
    assert (done.outcome, done.reference) == (Outcome.DONE, new_id)
    assert aws.keys() == {new_id: "Active"}
    again = one(provider, ActionKind.ROTATE, aws.credential(handed.progress))  # deleted already: still done
    assert again.outcome is Outcome.DONE


def test_a_resume_after_a_crash_never_leaves_a_second_replacement(aws: Aws) -> None:
    provider = aws.provider(aws.sink())
    first, lost = rotate_until_overlap(aws, provider)  # the process dies before ``lost`` is recorded
    resumed = one(provider, ActionKind.ROTATE, aws.credential(first.progress))
    assert resumed.outcome is Outcome.RETRY and resumed.reference == lost.reference  # adopted, not made again
    assert resumed.progress.startswith(f"deactivated:{aws.user}:{lost.reference}:")
    assert aws.keys() == {aws.key_id: "Inactive", lost.reference: "Active"}
    assert aws.stored(f"leakstop/{aws.user}")["AccessKeyId"] == lost.reference
    # The recorded step resumes where it was: nothing new is made.
    later = one(provider, ActionKind.ROTATE, aws.credential(resumed.progress))
    assert later.outcome is Outcome.RETRY and aws.keys() == {aws.key_id: "Inactive", resumed.reference: "Active"}


def test_a_replacement_made_by_an_attempt_that_died_before_the_hand_over_is_replaced(aws: Aws) -> None:
    provider = aws.provider(aws.sink())
    first = one(provider, ActionKind.ROTATE, aws.credential())
    orphan = aws.iam.create_access_key(UserName=aws.user)["AccessKey"]["AccessKeyId"]  # then the process died
    resumed = one(provider, ActionKind.ROTATE, aws.credential(first.progress))
    assert resumed.outcome is Outcome.RETRY and resumed.reference not in ("", orphan)
    assert aws.keys() == {aws.key_id: "Inactive", resumed.reference: "Active"}
    assert aws.stored(f"leakstop/{aws.user}")["AccessKeyId"] == resumed.reference


def test_a_deactivation_that_failed_after_the_hand_over_resumes_without_a_new_key(aws: Aws) -> None:
    new = aws.iam.create_access_key(UserName=aws.user)["AccessKey"]["AccessKeyId"]
    result = one(aws.provider(aws.sink()), ActionKind.ROTATE, aws.credential(f"delivered:{aws.user}:{new}"))
    assert result.outcome is Outcome.RETRY and result.progress.startswith(f"deactivated:{aws.user}:{new}:")
    assert aws.keys() == {aws.key_id: "Inactive", new: "Active"}


def test_a_key_reactivated_during_the_overlap_is_not_deleted(aws: Aws) -> None:
    provider = aws.provider(aws.sink(), overlap_hours=1)
    _, handed = rotate_until_overlap(aws, provider)
    aws.iam.update_access_key(UserName=aws.user, AccessKeyId=aws.key_id, Status="Active")
    aws.clock.now += 3601
    result = one(provider, ActionKind.ROTATE, aws.credential(handed.progress))
    assert result.outcome is Outcome.FAILED and "reactivated" in result.detail
    assert aws.keys()[aws.key_id] == "Active"


def test_a_user_with_two_keys_cannot_get_a_third(aws: Aws) -> None:
    other = aws.iam.create_access_key(UserName=aws.user)["AccessKey"]["AccessKeyId"]
    provider = aws.provider(aws.sink())
    first = one(provider, ActionKind.ROTATE, aws.credential())
    assert first.progress == f"identified:{aws.user}:{other}"
    result = one(provider, ActionKind.ROTATE, aws.credential(first.progress))
    assert result.outcome is Outcome.FAILED and "two access keys" in result.detail and "delete" in result.detail
    assert aws.keys() == {aws.key_id: "Active", other: "Active"}


def test_rotate_without_a_sink_creates_nothing(aws: Aws) -> None:
    result = one(aws.provider(), ActionKind.ROTATE, aws.credential())
    assert result.outcome is Outcome.FAILED and "sink" in result.detail
    assert aws.keys() == {aws.key_id: "Active"}


def test_a_replacement_the_sink_refused_is_deleted(aws: Aws, http_server: ServerFactory) -> None:
    receiver = http_server()
    receiver.route("POST", "/hook", Reply(503, headers={"Retry-After": "30"}))
    sink = make_sink(
        {"type": "webhook", "url": receiver.url("/hook")}, {"LEAKSTOP_WEBHOOK_SECRET": WEBHOOK_KEY}, HttpClient()
    )
    first, result = rotate_until_overlap(aws, aws.provider(sink))
    assert result.outcome is Outcome.RETRY and "not handed over" in result.detail
    assert result.progress == first.progress and aws.keys() == {aws.key_id: "Active"}
    assert len(receiver.requests) == 1


def test_a_sink_template_naming_an_unknown_field_fails(aws: Aws) -> None:
    _, result = rotate_until_overlap(aws, aws.provider(aws.sink("leakstop/{team}")))
    assert result.outcome is Outcome.FAILED and "no field 'team'" in result.detail
    assert aws.keys() == {aws.key_id: "Active"}


def test_the_sink_makes_no_second_version_for_a_retried_delivery(aws: Aws) -> None:
    sink = aws.sink("leakstop/retried/{user}")
    credential, metadata = aws.credential(), {"user": aws.user, "access_key_id": "AKIA1"}
    first = sink.deliver(credential, {"k": Secret("v1")}, metadata)
    assert sink.deliver(credential, {"k": Secret("v1")}, metadata) == first
    second = sink.deliver(credential, {"k": Secret("v2")}, {**metadata, "access_key_id": "AKIA2"})
    assert second != first and second.split(" version ")[0] == first.split(" version ")[0]


# --- bad input and failures ---


def test_missing_credentials_name_the_variables(moto: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in [n for n in os.environ if n.startswith("AWS_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    context = ProviderContext("aws-iam", HttpClient(), {}, {"endpoint_url": moto})
    with pytest.raises(MissingCredential, match="set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"):
        make_provider(context)
    with pytest.raises(MissingCredential, match="AWS_PROFILE"):
        make_provider(ProviderContext("aws-iam", HttpClient(), {"AWS_PROFILE": "nope"}, {"endpoint_url": moto}))
    with pytest.raises(MissingCredential, match="sink 'secrets-manager'"):
        make_sink({"type": "secrets-manager"}, {}, HttpClient())


def test_aws_down_is_retry(aws: Aws) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{sock.getsockname()[1]}"
    http = HttpClient(HttpSettings(connect_timeout=2, read_timeout=2))
    context = ProviderContext("aws-iam", http, aws.ours, {"endpoint_url": closed})
    result = one(make_provider(context), ActionKind.REVOKE, aws.credential())
    assert result.outcome is Outcome.RETRY and "not reachable" in result.detail
    sink = make_sink({"type": "secrets-manager", "endpoint_url": closed}, aws.ours, http)
    with pytest.raises(Exception, match="not reachable") as caught:
        sink.deliver(aws.credential(), {"k": Secret("v")}, {})
    assert getattr(caught.value, "retryable", None) is True


@dataclass
class Checked:
    """A second moto server that checks every request after its first three (an admin allowed everything)."""

    endpoint: str
    admin: Any

    def user_with_key(self, name: str, deny: tuple[str, ...] = ("*",)) -> dict[str, str]:
        """A user whose policy allows everything but ``deny``; its key as our environment."""
        self.admin.create_user(UserName=name)
        statements = [{"Effect": "Allow", "Action": "*", "Resource": "*"}]
        statements.append({"Effect": "Deny", "Action": list(deny), "Resource": "*"})
        document = json.dumps({"Version": "2012-10-17", "Statement": statements})
        self.admin.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=document)
        made = self.admin.create_access_key(UserName=name)["AccessKey"]
        return {"AWS_ACCESS_KEY_ID": made["AccessKeyId"], "AWS_SECRET_ACCESS_KEY": made["SecretAccessKey"]}

    def provider(self, env: Mapping[str, str], sink: Sink | None = None, **settings: Any) -> Any:
        context = ProviderContext("aws-iam", HttpClient(), env, {"endpoint_url": self.endpoint, **settings}, sink=sink)
        return make_provider(context)

    def keys(self, user: str) -> dict[str, str]:
        return {k["AccessKeyId"]: k["Status"] for k in self.admin.list_access_keys(UserName=user)["AccessKeyMetadata"]}


@pytest.fixture(scope="module")
def checked() -> Iterator[Checked]:
    process, endpoint = start_moto({"INITIAL_NO_AUTH_ACTION_COUNT": "3"})
    try:
        iam = boto3.client("iam", endpoint_url=endpoint, region_name="us-east-1", **our_keywords(TokenFactory()))
        iam.create_user(UserName="admin")
        allow = {"Effect": "Allow", "Action": "*", "Resource": "*"}
        document = json.dumps({"Version": "2012-10-17", "Statement": [allow]})
        iam.put_user_policy(UserName="admin", PolicyName="all", PolicyDocument=document)
        made = iam.create_access_key(UserName="admin")["AccessKey"]
        keywords = {"aws_access_key_id": made["AccessKeyId"], "aws_secret_access_key": made["SecretAccessKey"]}
        yield Checked(endpoint, boto3.client("iam", endpoint_url=endpoint, region_name="us-east-1", **keywords))
    finally:
        stop(process)


def our_keywords(tokens: TokenFactory) -> dict[str, str]:
    ours = our_credentials(tokens)
    return {"aws_access_key_id": ours["AWS_ACCESS_KEY_ID"], "aws_secret_access_key": ours["AWS_SECRET_ACCESS_KEY"]}


def leaked_key(checked: Checked) -> tuple[str, Credential]:
    user = f"leaky-{uuid.uuid4().hex[:8]}"
    checked.admin.create_user(UserName=user)
    made = checked.admin.create_access_key(UserName=user)["AccessKey"]
    related = {"aws-secret-access-key": Secret(made["SecretAccessKey"])}
    return user, Credential("aws-access-key-id", "sid", Secret(made["AccessKeyId"]), related)


def test_credentials_aws_refuses_are_failed(checked: Checked) -> None:
    ours = checked.user_with_key(f"nobody-{uuid.uuid4().hex[:8]}")  # may do nothing
    _, leaked = leaked_key(checked)
    result = one(checked.provider(ours), ActionKind.REVOKE, leaked)
    assert result.outcome is Outcome.FAILED and "AccessDenied: our credentials were refused" in result.detail


def test_a_deleted_key_refused_by_sts_is_looked_up_instead(checked: Checked) -> None:
    ours = checked.user_with_key(f"responder-{uuid.uuid4().hex[:8]}", ("iam:CreateUser",))
    user, leaked = leaked_key(checked)
    checked.admin.delete_access_key(UserName=user, AccessKeyId=leaked.secret.reveal())
    result = one(checked.provider(ours, identify="caller-identity"), ActionKind.REVOKE, leaked)
    assert result.outcome is Outcome.ALREADY_DONE and "GetAccessKeyLastUsed" in result.detail


def test_a_deactivation_refused_after_the_hand_over_says_what_is_left(
    checked: Checked, http_server: ServerFactory
) -> None:
    ours = checked.user_with_key(f"responder-{uuid.uuid4().hex[:8]}", ("iam:UpdateAccessKey",))
    user, leaked = leaked_key(checked)
    receiver = http_server()
    receiver.route("POST", "/hook", Reply(200))
    sink = make_sink(
        {"type": "webhook", "url": receiver.url("/hook")}, {"LEAKSTOP_WEBHOOK_SECRET": WEBHOOK_KEY}, HttpClient()
    )
    provider = checked.provider(ours, sink)
    first = one(provider, ActionKind.ROTATE, leaked)
    result = one(provider, ActionKind.ROTATE, Credential(leaked.rule_id, "sid", leaked.secret, progress=first.progress))
    assert result.outcome is Outcome.FAILED and "handed over, leaked key still active" in result.detail
    assert result.progress == f"delivered:{user}:{result.reference}" and len(receiver.requests) == 1
    assert checked.keys(user) == {leaked.secret.reveal(): "Active", result.reference: "Active"}


@pytest.mark.parametrize(
    ("denied", "words"),
    [
        ("iam:CreateAccessKey", "CreateAccessKey: AWS AccessDenied"),
        ("iam:DeleteAccessKey", "DeleteAccessKey: AWS AccessDenied"),
    ],
)
def test_refused_create_and_delete_are_failed(checked: Checked, denied: str, words: str) -> None:
    ours = checked.user_with_key(f"responder-{uuid.uuid4().hex[:8]}", (denied,))
    user, leaked = leaked_key(checked)
    if denied == "iam:DeleteAccessKey":  # an unrecorded replacement that cannot be retired
        checked.admin.create_access_key(UserName=user)
    sink = make_sink({"type": "secrets-manager", "endpoint_url": checked.endpoint}, ours, HttpClient())
    progress = f"identified:{user}:"
    result = one(
        checked.provider(ours, sink),
        ActionKind.ROTATE,
        Credential(leaked.rule_id, "sid", leaked.secret, progress=progress),
    )
    assert result.outcome is Outcome.FAILED and words in result.detail


def test_a_refused_session_deny_is_reported_not_fatal(checked: Checked) -> None:
    ours = checked.user_with_key(f"responder-{uuid.uuid4().hex[:8]}", ("iam:PutUserPolicy",))
    _, leaked = leaked_key(checked)
    result = one(checked.provider(ours, revoke_sessions=True), ActionKind.REVOKE, leaked)
    assert result.outcome is Outcome.DONE and "denying them failed" in result.detail


def test_a_role_session_key_is_not_a_user_key(aws: Aws) -> None:
    trust = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}],
    }
    role = aws.iam.create_role(RoleName=f"r-{uuid.uuid4().hex[:8]}", AssumeRolePolicyDocument=json.dumps(trust))["Role"]
    sts = boto3.client("sts", endpoint_url=aws.endpoint, region_name="us-east-1", **aws.keyword())
    session = sts.assume_role(RoleArn=role["Arn"], RoleSessionName="leak-test")["Credentials"]
    related = {"aws-secret-access-key": Secret(session["SecretAccessKey"])}
    leaked = Credential("aws-access-key-id", "sid", Secret(session["AccessKeyId"]), related)
    result = one(aws.provider(identify="caller-identity"), ActionKind.REVOKE, leaked)
    assert result.outcome is Outcome.FAILED and "not an IAM user's key" in result.detail


def test_our_credentials_can_come_from_a_profile(aws: Aws, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    shared = tmp_path / "credentials"
    shared.write_text(
        f"[responder]\naws_access_key_id = {aws.ours['AWS_ACCESS_KEY_ID']}\n"
        f"aws_secret_access_key = {aws.ours['AWS_SECRET_ACCESS_KEY']}\n"
    )
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(shared))
    context = ProviderContext("aws-iam", HttpClient(), {"AWS_PROFILE": "responder"}, {"endpoint_url": aws.endpoint})
    assert one(make_provider(context), ActionKind.REVOKE, aws.credential()).outcome is Outcome.DONE


@pytest.mark.parametrize(
    ("code", "status", "outcome"),
    [
        ("Throttling", 400, Outcome.RETRY),
        ("ServiceUnavailable", 503, Outcome.RETRY),
        ("Whatever", 500, Outcome.RETRY),
        ("InvalidClientTokenId", 403, Outcome.FAILED),
        ("MalformedPolicyDocument", 400, Outcome.FAILED),
    ],
)
def test_aws_error_codes_map_to_outcomes(code: str, status: int, outcome: Outcome) -> None:
    error = ClientError({"Error": {"Code": code, "Message": "m"}, "ResponseMetadata": {"HTTPStatusCode": status}}, "Op")
    assert error_outcome(error, "x").outcome is outcome


def test_other_botocore_errors_are_failed() -> None:
    assert "no AWS credentials of ours" in error_outcome(NoCredentialsError(), "x").detail
    assert error_outcome(ParamValidationError(report="r"), "x") == ProviderResult(
        Outcome.FAILED, "x: ParamValidationError"
    )


def test_unsupported_rules_kinds_and_progress(aws: Aws) -> None:
    provider = aws.provider()
    assert not provider.supports(ActionKind.NOTIFY, "aws-access-key-id")
    assert not provider.supports(ActionKind.REVOKE, "github-pat")
    [result] = provider.act(ActionKind.REVOKE, [Credential("github-pat", "sid", Secret("x"))])
    assert result.outcome is Outcome.FAILED and "cannot revoke a github-pat" in result.detail
    bad = ("bogus:user:", "identified::", "deactivated:u:k:1:2", "deactivated:u:k", "delivered:u:", "identified:u:k:1")
    for progress in bad:
        assert one(provider, ActionKind.ROTATE, aws.credential(progress)).outcome is Outcome.FAILED
    assert Progress.parse(Progress("deactivated", "u", ("K",), 12.0).text()) == Progress(
        "deactivated", "u", ("K",), 12.0
    )
