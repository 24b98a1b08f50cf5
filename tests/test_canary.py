"""Canary: generated secrets of many kinds never show in full in any output unless ``--show-secrets`` asks.

The tree is scanned with rules copied by id from the built-in rule files, so every canary is known to be found
(a canary that is not detected proves nothing about redaction).
"""

from __future__ import annotations

import json
import pickle
from dataclasses import dataclass
from pathlib import Path

import pytest
from helpers import RunCli, config_text, write_files
from tokens import TokenFactory

from scanner.models import Secret


@dataclass(frozen=True)
class Canary:
    rule_id: str
    path: str
    template: str
    value: str

    @property
    def pieces(self) -> list[str]:
        """The value, and for multi-line values each long line: no part of a key may leak either."""
        lines = [line for line in self.value.splitlines() if len(line) >= 20 and not line.startswith("-----")]
        return [self.value, *lines]


def make_canaries(factory: TokenFactory) -> list[Canary]:
    return [
        Canary("github-pat", "app/.env", "DEBUG=0\nGITHUB_TOKEN={}\n", factory.github_clean("ghp_")),
        Canary(
            "github-oauth-token",
            "app/oauth.json",
            '{{\n  "access_token": "{}"\n}}\n',
            factory.github_clean("gho_"),
        ),
        Canary("github-user-to-server-token", "app/client.py", 'TOKEN = "{}"\n', factory.github_clean("ghu_")),
        Canary(
            "github-app-installation-token",
            "ci/deploy.sh",
            "curl -H 'Authorization: token {}' x\n",
            factory.github_clean("ghs_"),
        ),
        Canary("github-refresh-token", "ci/auth.ini", "[auth]\nrefresh_token={}\n", factory.github_clean("ghr_")),
        Canary("github-fine-grained-pat", "ci/env.sh", "export GH_TOKEN={}\n", factory.github_fine_grained()),
        Canary(
            "aws-access-key-id",
            "aws/credentials",
            "[default]\naws_access_key_id = {}\n",
            factory.aws_key_id(),
        ),
        Canary(
            "aws-secret-access-key",
            "aws/config",
            "[default]\naws_secret_access_key = {}\n",
            factory.aws_secret(),
        ),
        Canary("gcp-api-key", "web/maps.js", 'const key = "{}";\n', factory.gcp_api_key()),
        Canary("anthropic-api-key", "ml/.env", "ANTHROPIC_API_KEY={}\n", factory.anthropic()),
        Canary("huggingface-access-token", "ml/hf.env", "HF_TOKEN={}\n", factory.huggingface()),
        Canary("private-key-pkcs8", "keys/server.pem", "{}\n", factory.private_key_pem()),
    ]


@pytest.fixture
def canaries(tmp_path: Path) -> tuple[list[Canary], Path, Path]:
    canaries = make_canaries(TokenFactory())
    tree = write_files(tmp_path / "tree", {c.path: c.template.format(c.value) for c in canaries})
    write_files(tree, {"README.md": "# nothing here\n", "blob.bin": b"\x00\x01binary"})
    config = write_files(tmp_path / "config", {"leakstop.yaml": config_text([c.rule_id for c in canaries])})
    return canaries, tree, config / "leakstop.yaml"


def assert_no_leak(canaries: list[Canary], *texts: str) -> None:
    for canary in canaries:
        for piece in canary.pieces:
            for text in texts:
                assert piece not in text, f"{canary.rule_id} leaked"


@pytest.mark.shows_secrets
def test_every_canary_is_detected(canaries: tuple[list[Canary], Path, Path], run_cli: RunCli) -> None:
    items, tree, config = canaries
    code, out, _ = run_cli("scan", tree, "--config", config, "-f", "json", "--show-secrets")
    assert code == 1
    found = {(f["rule"]["id"], f["secret"]) for f in json.loads(out)["findings"]}
    assert {(c.rule_id, c.value) for c in items} <= found


@pytest.mark.parametrize("fmt", ["text", "json", "sarif"])
@pytest.mark.parametrize("verbose", [False, True], ids=["quiet", "verbose"])
def test_no_secret_in_stdout_or_stderr(
    canaries: tuple[list[Canary], Path, Path], run_cli: RunCli, fmt: str, verbose: bool
) -> None:
    items, tree, config = canaries
    code, out, err = run_cli("scan", tree, "--config", config, "-f", fmt, *(["--verbose"] if verbose else []))
    assert code == 1
    assert out  # a report was written
    assert_no_leak(items, out, err)


@pytest.mark.parametrize("fmt", ["text", "json", "sarif"])
def test_no_secret_in_report_files(
    canaries: tuple[list[Canary], Path, Path], run_cli: RunCli, tmp_path: Path, fmt: str
) -> None:
    items, tree, config = canaries
    report = tmp_path / f"report.{fmt}"
    code, out, err = run_cli("scan", tree, "--config", config, "-f", fmt, "-o", report, "--verbose")
    assert code == 1
    text = report.read_text(encoding="utf-8")
    assert len(text) > 100
    assert_no_leak(items, out, err, text)


@pytest.mark.shows_secrets
@pytest.mark.parametrize("fmt", ["text", "json", "sarif"])
def test_show_secrets_shows_them(canaries: tuple[list[Canary], Path, Path], run_cli: RunCli, fmt: str) -> None:
    items, tree, config = canaries
    _, out, _ = run_cli("scan", tree, "--config", config, "-f", fmt, "--show-secrets")
    if fmt == "text":
        shown = out
    else:
        # JSON escapes the newlines of a PEM block; compare decoded values.
        doc = json.loads(out)
        findings = doc["findings"] if fmt == "json" else doc["runs"][0]["results"]
        shown = "\n".join(f["secret"] if fmt == "json" else f["properties"]["secret"] for f in findings)
    for canary in items:
        assert canary.value in shown, canary.rule_id


# --- the Secret type ---


def test_secret_never_shows_itself(tokens: TokenFactory) -> None:
    value = tokens.github_clean()
    secret = Secret(value)
    for text in (
        repr(secret),
        str(secret),
        f"{secret}",
        f"{secret!r}",
        "%s" % (secret,),  # noqa: UP031 - the old formatting path too
        str([secret]),
        repr({"k": secret}),
        format(secret, ""),
    ):
        assert value not in text
        assert value[4:] not in text
        assert "ghp_…(40)" in text
    assert secret.reveal() == value
    assert len(secret) == 40


def test_secret_refuses_json(tokens: TokenFactory) -> None:
    secret = Secret(tokens.github_clean())
    with pytest.raises(TypeError):
        json.dumps(secret)
    with pytest.raises(TypeError):
        json.dumps({"token": [secret]})


def test_secret_in_an_exception_message_is_redacted(tokens: TokenFactory) -> None:
    value = tokens.github_clean()
    with pytest.raises(ValueError, match="bad") as exc:
        raise ValueError(f"bad {Secret(value)}")
    assert value not in str(exc.value)


def test_secret_pickles(tokens: TokenFactory) -> None:
    value = tokens.github_clean()
    secret = Secret(value)
    for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
        copy = pickle.loads(pickle.dumps(secret, protocol=protocol))
        assert isinstance(copy, Secret)
        assert copy == secret and hash(copy) == hash(secret)
        assert copy.reveal() == value
        assert value not in repr(copy)


def test_secret_equality_is_by_value(tokens: TokenFactory) -> None:
    a, b = tokens.github_clean(), tokens.github_clean()
    assert Secret(a) == Secret(a)
    assert Secret(a) != Secret(b)
    assert Secret(a) != a  # never equal to the bare string, so it cannot be looked up by it
    assert len({Secret(a), Secret(a), Secret(b)}) == 2


@pytest.mark.parametrize("length", [0, 1, 3, 4, 7, 8, 15, 16, 40, 100])
def test_redaction_shows_at_most_a_quarter(length: int) -> None:
    value = TokenFactory(length).chars("abcdefghijklmnopqrstuvwxyz0123456789", length)
    redacted = Secret(value).redacted()
    shown = redacted.split("…")[0]
    assert value.startswith(shown)
    assert len(shown) <= min(4, length // 4)
    assert redacted.endswith(f"({length})")


def test_pem_redaction_shows_only_the_header(tokens: TokenFactory) -> None:
    pem = tokens.private_key_pem()
    redacted = Secret(pem).redacted()
    assert redacted.startswith("-----BEGIN PRIVATE KEY-----")
    assert all(line not in redacted for line in pem.splitlines()[1:-1])
