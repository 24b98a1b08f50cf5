"""The validators' edges: the other half of an AWS pair, keys that cannot sign, values that cannot travel in a
header, answers of the wrong shape; each against a loopback server where a request is made."""

from __future__ import annotations

import base64

from httpserver import Reply, ServerFactory
from tokens import ALNUM, UPPER_DIGITS, TokenFactory
from validate_fakes import STS_LIVE, aws_accepts

from scanner.httpsettings import HttpSettings
from scanner.models import Validation
from scanner.ruleset.validator import Condition, HttpCheck
from scanner.transport import HttpClient
from scanner.validate.base import Caller, Candidate, json_at, shown_identity, unknown_for
from scanner.validate.gcp import GcpServiceAccount
from scanner.validate.httpcheck import HttpValidator
from scanner.validate.signed import AwsSts, AzureStorage

SETTINGS = HttpSettings(connect_timeout=5, read_timeout=5, retries=0, max_redirects=0)


def caller(routes: dict[str, str]) -> Caller:
    return Caller(HttpClient(SETTINGS), routes)


def test_aws_from_the_secret_key_side(http_server: ServerFactory, tokens: TokenFactory) -> None:
    key_id, secret = "AKIA" + tokens.chars(UPPER_DIGITS, 16), tokens.chars(ALNUM + "+/", 40)
    other = tokens.chars(ALNUM + "+/", 40)
    server = http_server()
    pair = Candidate(key_id, "", {"aws-secret-access-key": (secret,)})
    server.route("POST", "/", lambda r: Reply(200, STS_LIVE.encode()) if aws_accepts(r, pair) else Reply(403, b"<x/>"))
    found = Candidate(secret, "", {"aws-access-key-id": ("AKIA" + tokens.chars(UPPER_DIGITS, 16), key_id)})
    answer = AwsSts().check(found, caller({"https://sts.amazonaws.com": server.base}))
    assert answer.state == "live" and answer.identity.startswith("arn:aws:iam::")
    assert len(server.requests) == 2  # the first key id did not sign it; the second did
    wrong = Candidate(other, "", {"aws-access-key-id": (key_id,)})
    assert AwsSts().check(wrong, caller({"https://sts.amazonaws.com": server.base})).state == "unknown"


def test_keys_that_cannot_sign_are_invalid_without_a_request(tokens: TokenFactory) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    nowhere = caller({})
    azure = AzureStorage().check(Candidate("not base64!" + tokens.chars(ALNUM, 20), "AccountName=acme;"), nowhere)
    assert azure == Validation("invalid", "the account key is not base64")
    email = '"client_email": "a@p.iam.gserviceaccount.com"'
    ec_pem = (
        ec.generate_private_key(ec.SECP256R1())
        .private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        .decode()
    )
    for pem in (ec_pem, tokens.private_key_pem()):
        answer = GcpServiceAccount().check(Candidate(pem, email), nowhere)
        assert answer == Validation("invalid", "not a usable RSA private key")


def test_a_secret_with_a_line_break_is_not_sent(http_server: ServerFactory, tokens: TokenFactory) -> None:
    server = http_server()
    check = HttpCheck("https://api.example.test/me", headers=(("X-Key", "{secret}"),))
    answer = HttpValidator("x", "x", check).check(
        Candidate(tokens.chars(ALNUM, 20) + "\r\nX-Evil: 1"), caller({"https://api.example.test": server.base})
    )
    assert answer.state == "unknown" and "line break" in answer.reason
    assert server.requests == []


def test_a_text_condition_must_hold(http_server: ServerFactory, tokens: TokenFactory) -> None:
    """PyPI's 403 is invalid only with its authentication message; another 403 (a WAF page) is unknown."""
    server = http_server()
    server.route("POST", "/legacy/", Reply(403, b"<html>Request blocked</html>"))
    check = HttpCheck(
        "https://upload.example.test/legacy/",
        method="POST",
        basic="__token__:{secret}",
        live=Condition((400,)),
        invalid=Condition((403,), text=("Invalid or non-existent authentication",)),
        reply="text",
    )
    answer = HttpValidator("pypi", "pypi", check).check(
        Candidate(tokens.chars(ALNUM, 40)), caller({"https://upload.example.test": server.base})
    )
    assert answer == Validation("unknown", "upload.example.test: unexpected answer (HTTP 403)")
    sent = server.requests[0].headers["authorization"]
    assert base64.b64decode(sent.removeprefix("Basic ")).decode().startswith("__token__:")


def test_helpers() -> None:
    assert repr(Candidate("s3cr3t-value")) == "Candidate(<12 characters>)"
    assert unknown_for(ValueError("x"), "h") == Validation("unknown", "h: the request could not be made (ValueError)")
    assert json_at({"a": [{"b": 1}]}, "a.0.b") == 1 and json_at({"a": []}, "a.3") is None and json_at(1, "a") is None
    assert shown_identity([None, {"x": 1}, "", ["api", "read"], "Jane <jane.doe@example.org>"]) == (
        "api+read, Jane <j…@example.org>"
    )


def test_a_request_the_url_layer_refuses_is_unknown(tokens: TokenFactory) -> None:
    """A routed base that is no http(s) URL: the transport's refusal is the answer's reason, one line."""
    answer = AwsSts().check(
        Candidate("AKIA" + tokens.chars(UPPER_DIGITS, 16), "", {"aws-secret-access-key": (tokens.chars(ALNUM, 40),)}),
        caller({"https://sts.amazonaws.com": "ftp://127.0.0.1:9"}),
    )
    assert answer.state == "unknown" and "not an http(s) URL" in answer.reason


def test_the_gate_reads_the_answer() -> None:
    """Overrides first, then ``block.validation``, the thresholds, then ``warn.validation``."""
    from scanner.models import FileOrigin, Finding, Match, RuleInfo, Secret
    from scanner.policy.gate import Facts, Override, Policy, Threshold, decide

    rule = RuleInfo("team-token", "Team token", "", "low", "low")
    match = Match("team-token", Secret("x" * 20), 0, 20, 1, 1, 1, 21, "T=xxxx…(20)", 4.0)

    def verdict(state: str, policy: Policy) -> tuple[str, str]:
        validation = Validation(state, "said so") if state else None  # type: ignore[arg-type]
        finding = Finding(rule, match, FileOrigin("a.env"), "fid", "sid", validation=validation)
        return decide(finding, policy, Facts(path="a.env"))

    high = Threshold("critical", "high")
    policy = Policy(block=Threshold("critical", "high", ("live",)), warn=Threshold("critical", "high", ("unknown",)))
    assert verdict("live", policy) == ("block", "validation:live")
    assert verdict("unknown", policy) == ("warn", "validation:unknown")
    assert verdict("invalid", policy) == ("allow", "below-threshold")
    assert verdict("", policy) == ("allow", "below-threshold")  # not validated: no state to act on
    overridden = Policy(block=policy.block, warn=high, overrides=(Override.build("allow", validation=("live",)),))
    assert verdict("live", overridden) == ("allow", "override:0")
    assert verdict("unknown", overridden) == ("allow", "below-threshold")
