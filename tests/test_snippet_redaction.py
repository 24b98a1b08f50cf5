"""Issue #18 item 8: a credential beside a detected one, or in a bypass reason, is never printed whole.

An AWS secret key on the line of the key id the rule finds, a password in the same line as a token: every
format's snippet masks them too. A bypass reason holding a password no rule finds shows it masked.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import RunCli, config_doc, write_files
from tokens import TokenFactory

from scanner.redact import mask, redact

FORMATS = ["text", "json", "sarif", "gitlab", "codequality", "markdown"]


def _config(root: Path, rule_ids: tuple[str, ...], **extra: object) -> Path:
    import yaml

    path = root / ".leakstop.yaml"
    path.write_text(yaml.safe_dump(config_doc(rule_ids, **extra), sort_keys=False), encoding="utf-8")
    return path


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_secret_key_beside_its_detected_key_id_is_masked(
    tmp_path: Path, run_cli: RunCli, tokens: TokenFactory, fmt: str
) -> None:
    key_id, secret = tokens.aws_key_id(), tokens.clean_chars("abcdefghijklmnopqrstuvwxyz0123456789ABCDEF/+", 40)
    password = tokens.password()
    write_files(
        tmp_path / "tree",
        {
            "creds.csv": f"user,{key_id},{secret}\n",
            "deploy.sh": f"aws configure set aws_access_key_id {key_id} && export DB_PASSWORD={password}\n",
        },
    )
    _config(tmp_path / "tree", ("aws-access-key-id",))
    code, out, err = run_cli("scan", "--no-progress", "--format", fmt, tmp_path / "tree")
    assert code == 1, err
    assert key_id not in out
    assert secret not in out and secret[4:20] not in out
    assert password not in out


def test_the_snippet_keeps_its_context_and_masks_each_credential(
    tmp_path: Path, run_cli: RunCli, tokens: TokenFactory
) -> None:
    key_id, password = tokens.aws_key_id(), tokens.password()
    write_files(tmp_path / "tree", {"app.ini": f"id={key_id} password={password} region=eu-west-1\n"})
    _config(tmp_path / "tree", ("aws-access-key-id",))
    code, out, _ = run_cli("scan", "--no-progress", "--format", "json", tmp_path / "tree")
    assert code == 1
    (finding,) = json.loads(out)["findings"]
    assert finding["snippet"] == f"id={key_id[:4]}…(20) password={mask(password)} region=eu-west-1"


def test_a_bypass_reason_holding_a_password_is_masked(
    tmp_path: Path, run_cli: RunCli, tokens: TokenFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_files(tmp_path / "tree", {"a.py": f"t = '{tokens.github_clean()}'\n"})
    _config(tmp_path / "tree", ("github-pat",), policy={"bypass": {"enabled": True, "channels": ["env"]}})
    password = tokens.password()
    monkeypatch.setenv("LEAKSTOP_BYPASS", f"test fixture; the staging db password: {password} is rotated")
    for fmt in FORMATS:
        code, out, err = run_cli("scan", "--no-progress", "--format", fmt, tmp_path / "tree")
        assert code == 0, (fmt, err)
        assert password not in out, fmt
        assert password not in err, fmt
    code, out, _ = run_cli("scan", "--no-progress", "--verbose", "--format", "json", tmp_path / "tree")
    (bypass,) = json.loads(out)["bypasses"]
    assert bypass["reason"] == f"test fixture; the staging db password: {mask(password)} is rotated"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("password=hunter22 # prod", "password=hu…(8) # prod"),
        ('"client_secret": "abcd1234efgh",', '"client_secret": "abc…(12)",'),
        ("mysql --password hunter22 --user x", "mysql --password hu…(8) --user x"),
        ("token = ${TOKEN}", "token = ${TOKEN}"),
        ("auth: true", "auth: true"),
        ("GITHUB_TOKEN=ghp_…(40)", "GITHUB_TOKEN=ghp_…(40)"),
        ("# password reset link", "# password reset link"),
        ("def get_token(config):", "def get_token(config):"),
        ("x = CorrectHorseBatteryStaple", "x = CorrectHorseBatteryStaple"),
        ("x = QmTzwLpRkVbHdNcXsYfGjA", "x = QmTzwLpRkVbHdNcXsYfGjA"),
        ("x = QmTzwLpRkVbHdNcXsYfGjAuEoIw", "x = QmTz…(27)"),
        ("sha256:9f86d081884c7d659a2feaa0c55ad015a3", "sha256:9f86…(34)"),
        ("region=eu-west-1 build=release_2024_final", "region=eu-west-1 build=release_2024_final"),
        ("key: dGhpcyBpcyBhIHRlc3Qga2V5IQ==", "key: dGhp…(28)"),
    ],
)
def test_redact_masks_credential_shapes_only(text: str, expected: str) -> None:
    assert redact(text) == expected
    assert redact(expected) == expected  # a mask is not masked again


def test_redact_masks_a_url_password(tokens: TokenFactory) -> None:
    password = tokens.password()
    assert redact(f"postgres://app:{password}@db/x") == f"postgres://app:{mask(password)}@db/x"
