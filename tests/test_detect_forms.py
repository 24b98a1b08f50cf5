"""Credential forms of providers we have rules for, and the long-tail generic family (issue #13, items 2 and 3),
with values generated here: each form is found by the rule meant for it, and its look-alikes are not."""

from __future__ import annotations

import base64
import uuid

import pytest
from tokens import ALNUM, HEX, TokenFactory

from scanner.detect.engine import Detector
from scanner.detect.heuristics import HEX_MIN_ENTROPY, entropy_floor, generic_reason, placeholder_reason
from scanner.ruleset.load import load_ruleset


@pytest.fixture(scope="module")
def detector() -> Detector:
    return Detector(load_ruleset(), engine="python")


def found(detector: Detector, text: str) -> list[str]:
    return [m.rule_id for m in detector.detect(text.encode())]


def storage_key(tokens: TokenFactory) -> str:
    return base64.b64encode(tokens.rng.randbytes(64)).decode()


def sas_sig(tokens: TokenFactory) -> str:
    return base64.b64encode(tokens.rng.randbytes(32)).decode().replace("+", "%2B").replace("/", "%2F")


def test_provider_forms(detector: Detector, tokens: TokenFactory) -> None:
    ident = uuid.UUID(int=tokens.rng.getrandbits(128), version=4)
    ids = [uuid.UUID(int=tokens.rng.getrandbits(128), version=4) for _ in range(3)]
    secret = tokens.clean_chars(ALNUM, 16) + "7#"
    cases = {
        f"RUN curl -fsS \\\n    --user 'ci:{secret}' \\\n    https://nexus.acme.io/x\n": "curl-user-credentials",
        f'{{"AccountName": "acme", "AccountKey": "{storage_key(tokens)}"}}': "azure-storage-account-key",
        f'primary_access_key = "{storage_key(tokens)}"': "azure-storage-account-key",
        f"https://a.blob.core.windows.net/c/f?sig={sas_sig(tokens)}&se=2026-01-01&sv=2022-11-02": (
            "azure-sas-token-reordered"
        ),
        f"TEAMS=https://outlook.office.com/webhook/{ids[0]}@{ids[1]}/IncomingWebhook/{tokens.hex(32)}/{ids[2]}": (
            "microsoft-teams-incoming-webhook"
        ),
        f"      - uses: codecov/codecov-action@v4\n        with:\n          token: {ident}\n": "codecov-upload-token",
        f'<add key="ClearTextPassword" value="{secret}" />': "nuget-config-cleartext-password",
        f'cs = "DSN=sales;UID=report;PWD={secret};"': "connection-string-password",
        f"https://files.acme.io/x.csv?exp=1&sig={tokens.clean_chars(ALNUM, 43)}": "url-query-signature",
    }
    for text, rule_id in cases.items():
        assert found(detector, text) == [rule_id], text


def test_forms_that_are_not_credentials(detector: Detector, tokens: TokenFactory) -> None:
    key = storage_key(tokens)
    # One character off the documented 88: not an account key (the generic key rule may still report a random
    # value under a key name, as a low-confidence generic finding).
    for text in (f"AccountKey={key}x", f"AccountKey={key[:-3]}=="):
        assert "azure-storage-account-key" not in found(detector, text), text
    quiet = [
        f"request_id = {uuid.UUID(int=tokens.rng.getrandbits(128), version=4)}",  # a UUID, no Codecov near it
        "CODECOV_TOKEN: ${{ secrets.CODECOV_TOKEN }}",
        '<add key="ClearTextPassword" value="%NUGET_PAT%" />',
        "https://img.acme.io/a.png?w=300&sig=abc123",
        f"commit_sha = '{tokens.hex(40)}'",
    ]
    for text in quiet:
        assert found(detector, text) == [], text


@pytest.mark.parametrize(
    "template",
    [
        "SHIPPO_KEY={v}",
        'const bannerbearKey = "{v}";',
        '{{"brandfetch_key": "{v}"}}',
        "config:\n  smartsheet_api_token: {v}\n",
        '<add key="ScrapingBeeKey" value="{v}" />',
        "<browshotKey>{v}</browshotKey>",
        "tool --apify-key {v} --run",
        "export AYRSHARE_SECRET_KEY={v}",
    ],
)
@pytest.mark.parametrize("alphabet", ["hex", "alnum"])
def test_the_long_tail_next_to_a_provider_name(
    detector: Detector, tokens: TokenFactory, template: str, alphabet: str
) -> None:
    value = tokens.clean_chars(HEX if alphabet == "hex" else ALNUM, 32)
    rules = found(detector, template.format(v=value))
    # One finding: the provider's own rule where the ruleset has one (rules/tail-*.yaml), else a generic one.
    assert len(rules) == 1 and (rules[0].startswith("generic-") or rules[0].split("-")[0] in template.lower()), rules


def test_generic_heuristics() -> None:
    value = "eReeR2Gj-em586FBW-1wypMxmmf5Q4"
    assert generic_reason(value, "ayrshare_api_key=") is None  # 'sha' inside a word is not a hash name
    assert generic_reason(value, "commitSha = ") == "non-secret-name"
    assert generic_reason(value, "file_sha256: ") == "non-secret-name"
    assert generic_reason("/yvfw8LY4XZRxRDE7A9Nbgf7nKl7XjikPMKdl5m5CyB=", "KEY=") is None  # base64, not a path
    assert generic_reason("/etc/acme/secrets/api.key", "KEY=") == "path"
    assert generic_reason("application/vnd.acme+json", "<apiKeyType>") == "media-type"
    assert placeholder_reason("{password}") == "template-or-reference"  # str.format / f-string field
    assert placeholder_reason("{Xk9#q2}") is None
    assert entropy_floor(3.5, "0" * 32, generic=True) == HEX_MIN_ENTROPY
    assert entropy_floor(3.5, "0" * 32, generic=False) == 3.5
    assert entropy_floor(3.5, "0" * 31, generic=True) == 3.5
    assert entropy_floor(3.5, "g" * 32, generic=True) == 3.5


def test_stateless_github_installation_tokens(detector: Detector, tokens: TokenFactory) -> None:
    def b64url(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).decode().rstrip("=")

    app = tokens.rng.randrange(10**5, 10**7)
    header = b64url(b'{"alg":"ES256","typ":"JWT","kid":"' + tokens.hex(16).encode() + b'"}')
    payload = b64url(b'{"iss":"github","aid":%d,"scope":"' % app + tokens.chars(ALNUM, 300).encode() + b'"}')
    token = f"ghs_{app}_{header}.{payload}.{b64url(tokens.rng.randbytes(64))}"
    assert found(detector, f"GH_TOKEN={token}\n") == ["github-app-installation-token-stateless"]
    # the header alone is not an installation token (generic-secret may still see a random value under TOKEN)
    assert "github-app-installation-token-stateless" not in found(detector, f"GH_TOKEN=ghs_{app}_{header}\n")


def test_basic_authorization_must_decode_to_a_credential_pair(detector: Detector, tokens: TokenFactory) -> None:
    def header(pair: str) -> str:
        return f'curl -H "Authorization: Basic {base64.b64encode(pair.encode()).decode()}" https://api.acme.io\n'

    assert found(detector, header(f"deploy-bot:{tokens.clean_chars(ALNUM, 18)}")) == ["http-basic-auth-header"]
    assert found(detector, header("release.manager@acme.io:changeme")) == []  # a stand-in password
    assert found(detector, header(tokens.clean_chars(ALNUM, 30))) == []  # no user:password pair inside
    assert found(detector, header(f"{tokens.clean_chars(ALNUM, 12)}:")) == []  # no password


def test_basic_auth_pair_validator(tokens: TokenFactory) -> None:
    from scanner.ruleset.checksums import basic_auth_pair

    def b64(data: bytes) -> str:
        return base64.b64encode(data).decode()

    assert basic_auth_pair(b64(f"svc:{tokens.clean_chars(ALNUM, 12)}".encode()))
    assert not basic_auth_pair(b64(b"\xff\xfe:" + tokens.rng.randbytes(12)))  # not UTF-8
    assert not basic_auth_pair("not*base64")
    assert not basic_auth_pair(b64(b"admin:admin"))  # the user id again
    assert not basic_auth_pair(b64(b"svc:pass\nword"))  # not printable
