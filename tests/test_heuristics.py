"""False-positive heuristics (scanner/detect/heuristics.py) and how the detector applies them."""

from __future__ import annotations

import hashlib
import string
from pathlib import Path

import pytest
from helpers import rule_file
from hypothesis import given
from hypothesis import strategies as st
from tokens import ALNUM, TokenFactory

from scanner.detect.engine import Detector
from scanner.detect.heuristics import generic_reason, is_lockfile, placeholder_reason
from scanner.models import Chunk, FileOrigin, ScanResult
from scanner.pipeline.collect import Collector, Hooks
from scanner.pipeline.request import ScanRequest
from scanner.ruleset import load_ruleset
from scanner.ruleset.checksums import crc32_base62
from scanner.ruleset.model import Ruleset


@pytest.mark.parametrize(
    "value",
    [
        "xxxxxxxxxxxxxxxxxxxx",
        "XXXX-XXXX-XXXX",
        "****************",
        "•••••••",
        "your_api_key",
        "YOUR-SECRET-KEY",
        "yourpassword",
        "your_access_token",
        "changeme",
        "Change_Me",
        "replace-me",
        "REPLACEME",
        "placeholder",
        "<your-token-here>",
        "<API KEY>",
        "TODO",
        "fixme123",
        "not_a_real_key",
        "fake-token-1",
        "foobar123",
        "dummy",
        "example-key",
        "sample_secret",
        "redacted",
        "insert_key_here",
    ],
)
def test_placeholders_are_rejected(value: str) -> None:
    assert placeholder_reason(value) == "placeholder"


@pytest.mark.parametrize(
    "value",
    [
        "${GITHUB_TOKEN}",
        "{{ secrets.DEPLOY_KEY }}",
        "$(cat /run/secrets/db)",
        "%(password)s",
        "{% raw %}",
        "#{api_token}",
        "os.environ['TOKEN']",
        "os.getenv('TOKEN')",
        "process.env.API_KEY",
        "secrets.NPM_TOKEN",
        "vars.TOKEN",
        "env.TOKEN",
        "$TOKEN",
        "%APPDATA%",
        "ENC[AES256_GCM,data:abc,iv:def]",
        "$ANSIBLE_VAULT;1.1;AES256",
        "vault:secret/data/db#password",
        "ref+vault://secret/db#/password",
        "arn:aws:secretsmanager:us-east-1:123456789012:secret:db",
    ],
)
def test_templates_and_references_are_rejected(value: str) -> None:
    assert placeholder_reason(value) == "template-or-reference"


@pytest.mark.parametrize("value", ["Qz7aaaaaa9Lk", "Q0000009Lk2m", "k2------mQ9z", "ZZZZZZZZZZZZ"])
def test_six_repeated_characters_are_rejected(value: str) -> None:
    assert placeholder_reason(value) == "repeated-characters"


def test_five_repeated_characters_are_not_enough() -> None:
    assert placeholder_reason("Qz7aaaaa9Lk2") is None


@pytest.mark.parametrize(
    "value", ["Qz12345678Lk", "Qzabcdefghk9", "Q9QWERTYUIk2", "k9asdfghjklQ", "Q2zyxwvutsK9", "k2ABCDEFGH9q"]
)
def test_sequences_of_eight_are_rejected(value: str) -> None:
    assert placeholder_reason(value) == "sequential-characters"


def test_sequences_of_seven_are_not_enough() -> None:
    """Seven in a row is not the eight-character rule; five counting triples still mark a hand-made filler."""
    assert placeholder_reason("Qz1234567Lk9") == "counting-sequence"
    assert placeholder_reason("Qzabcdefg9Lk") == "counting-sequence"
    assert placeholder_reason("Qz1357924Lk9") is None


def test_counting_fillers_are_rejected() -> None:
    assert placeholder_reason("abcd1234defg5678") == "counting-sequence"
    assert placeholder_reason("a1b2c3d4567890ab") == "counting-sequence"


@pytest.mark.parametrize("seed", range(150))
def test_random_tokens_are_not_placeholders(seed: int) -> None:
    factory = TokenFactory(seed)
    for value in (
        factory.github(),
        factory.npm(),
        factory.aws_key_id(),
        factory.aws_secret(),
        factory.slack_bot(),
        factory.stripe_live(),
        factory.password(),
        factory.hex(40),
    ):
        assert placeholder_reason(value) is None, value


@pytest.mark.parametrize("seed", range(150))
def test_random_passwords_and_hex_keys_pass_the_generic_checks(seed: int) -> None:
    factory = TokenFactory(seed)
    for value in (factory.password(), factory.hex(40), factory.hex(64), factory.chars(ALNUM, 32)):
        assert generic_reason(value, "password = ") is None, value


# --- generic-only shape checks ---


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("550e8400-e29b-41d4-a716-446655440000", "uuid"),
        ("550E8400-E29B-41D4-A716-446655440000", "uuid"),
        ("sha256:" + "ab" * 32, "digest"),
        ("sha512-" + "Zm9vYmFy" * 8, "digest"),
        ("md5:d41d8cd98f00b204e9800998ecf8427e", "digest"),
        ("h1:2WpV3xXHbzwdqlXyV1VqHdLpmSxcQPUKfY8mKbZvq1c=", "digest"),
        ("3f2c1ab", "short-hex"),
        ("3f2c1ab9", "short-hex"),
        ("3f2c1ab9d0e4", "short-hex"),
        ("1234567890123", "number"),
        ("2024-01-01", "number"),
        ("database_password", "identifier"),
        ("my-secret-value", "identifier"),
        ("config.db.password", "identifier"),
        ("dbPassword", "identifier"),
        ("getSecret(name)", "code"),
        ("self.api_token2", "code"),
        ("ctx.secret_v2", "code"),
        ("conn->password", "code"),
        ("Secrets::Token", "code"),
        ("/etc/ssl/private/server.key", "path"),
        ("./secrets/dev.env", "path"),
        ("~/.aws/credentials", "path"),
        ("C:\\Users\\me\\token.txt", "path"),
        ("config/prod/db.yaml", "path"),
        ("https://vault.internal.io/v1/kv", "url"),
    ],
)
def test_generic_shapes_are_rejected(value: str, reason: str) -> None:
    assert generic_reason(value, "password = ") == reason


def test_base64_secret_with_a_slash_is_not_a_path() -> None:
    factory = TokenFactory(21)
    secret = factory.clean_chars(ALNUM, 20) + "/" + factory.clean_chars(ALNUM, 19)
    assert generic_reason(secret, "secret_key = ") is None


@pytest.mark.parametrize("seed", range(100))
def test_base64_secrets_pass_the_generic_checks(seed: int) -> None:
    """A quarter of random 40-character base64 secrets hold a '/' but no '+': none of them is a path."""
    value = TokenFactory(seed).aws_secret()
    assert generic_reason(value, "secret_access_key = ") is None


@pytest.mark.parametrize(
    "name",
    [
        "sha256 = ",
        "commit_sha: ",
        "integrity=",
        "client_id = ",
        "tenantId: ",
        "public_key = ",
        "uuid=",
        "nonce: ",
        "cache_key = ",
        "fingerprint: ",
        "etag=",
    ],
)
def test_non_secret_names_are_rejected(name: str) -> None:
    value = TokenFactory(11).chars(ALNUM, 32)
    assert generic_reason(value, name) == "non-secret-name"


def test_a_secret_name_is_not_a_reason() -> None:
    value = TokenFactory(12).chars(ALNUM, 32)
    for name in ("password = ", "api_secret: ", "DB_PASS=", "token = "):
        assert generic_reason(value, name) is None


@given(st.uuids())
def test_every_uuid_is_rejected(value: object) -> None:
    assert generic_reason(str(value), "secret = ") == "uuid"


@given(st.binary(), st.sampled_from(["sha1", "sha256", "sha512", "md5"]), st.sampled_from([":", "-"]))
def test_every_prefixed_digest_is_rejected(data: bytes, algorithm: str, separator: str) -> None:
    digest = f"{algorithm}{separator}{hashlib.new(algorithm, data).hexdigest()}"
    assert generic_reason(digest, "token = ") == "digest"


@pytest.mark.parametrize(
    "path",
    [
        "package-lock.json",
        "web/yarn.lock",
        "poetry.lock",
        "go.sum",
        "a/b/Cargo.lock",
        "SHA256SUMS",
        "x/app.sha256",
        "pnpm-lock.yaml",
        "uv.lock",
    ],
)
def test_lockfiles(path: str) -> None:
    assert is_lockfile(path)


@pytest.mark.parametrize("path", ["package.json", "lock.py", "yarn.lock.bak", "src/go.summary", "locks/x"])
def test_not_lockfiles(path: str) -> None:
    assert not is_lockfile(path)


# --- through the detector ---

GENERIC_RULE = {
    "id": "test-generic-password",
    "name": "Password assignment",
    "regex": "(?i)\\bpassword\\s*[:=]\\s*[\"']?([^\\s\"']{8,})",
    "keywords": ["password"],
    "generic": True,
    "severity": "medium",
    "confidence": "low",
}
SPECIFIC_RULE = {
    "id": "test-token",
    "name": "Test token",
    "regex": "\\b(tst_[A-Za-z0-9]{32})\\b",
    "keywords": ["tst_"],
    "min_entropy": 3.0,
    "severity": "high",
    "confidence": "high",
}


@pytest.fixture
def test_ruleset(tmp_path: Path) -> Ruleset:
    return load_ruleset([rule_file(tmp_path / "rules" / "test.yaml", GENERIC_RULE, SPECIFIC_RULE)])


def test_detector_keeps_real_values_and_drops_the_rest(test_ruleset: Ruleset) -> None:
    factory = TokenFactory()
    real_password = factory.password()
    real_token = "tst_" + factory.clean_chars(ALNUM, 32)
    content = "\n".join(
        [
            f'password = "{real_password}"',
            'password = "550e8400-e29b-41d4-a716-446655440000"',
            'password = "${DB_PASSWORD}"',
            'password = "changeme123"',
            "password: os.environ['DB_PASSWORD']",
            "password = database_password",
            "password = /run/secrets/db_password",
            f"token = {real_token}",
            "token = tst_" + "x" * 32,
            "token = tst_" + string.ascii_letters[:32],
        ]
    )
    matches = Detector(test_ruleset).detect(content.encode())
    assert [(m.rule_id, m.secret.reveal(), m.line) for m in matches] == [
        ("test-generic-password", real_password, 1),
        ("test-token", real_token, 8),
    ]


def test_generic_rules_skip_lockfiles_but_specific_rules_do_not(test_ruleset: Ruleset) -> None:
    factory = TokenFactory()
    content = f'password = "{factory.password()}"\ntoken = tst_{factory.clean_chars(ALNUM, 32)}\n'.encode()
    detector = Detector(test_ruleset)
    result = ScanResult(target="files")
    hooks = Hooks(resolve=lambda origin: origin, requested_bypass=lambda origin: None, looks_secret=lambda text: False)
    collector = Collector(test_ruleset, ScanRequest("paths"), "", hooks, result)
    for chunk in (
        Chunk(content, FileOrigin("web/package-lock.json"), "a"),
        Chunk(content, FileOrigin("web/app.cfg"), "b"),
    ):
        collector.add(chunk.origin, detector.detect(chunk.content))
    found = sorted((f.path, f.rule.id) for f in result.findings)
    assert found == [
        ("web/app.cfg", "test-generic-password"),
        ("web/app.cfg", "test-token"),
        ("web/package-lock.json", "test-token"),
    ]


# --- known bugs ---


def test_checksum_valid_token_with_a_placeholder_word_is_still_found(github_detector: Detector) -> None:
    body = TokenFactory().clean_chars(ALNUM, 26) + "ToDo"
    token = "ghp_" + body + crc32_base62(body)
    matches = github_detector.detect(f"GITHUB_TOKEN={token}\n".encode())
    assert [m.secret.reveal() for m in matches] == [token]
