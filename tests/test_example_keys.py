"""Published example credentials are recognised by digest and never reported (issue #13, item 4); Vault-style
``s.`` names are not tokens. The Google keys are read from the vendored gitleaks config, which allowlists 16 sample
Firebase web API keys, so no key is written out here; our list holds the 12 of them found in Google's own
firebase/firebase-android-sdk repository (the other 4 could not be traced to a Google publication)."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest
from tokens import TokenFactory

from scanner.detect.engine import Detector
from scanner.detect.examplekeys import DATA_FILE, example_digests, is_published_example
from scanner.ruleset.load import load_ruleset

GITLEAKS_TOML = Path(__file__).parent / "data" / "gitleaks" / "gitleaks.toml"


@pytest.fixture(scope="module")
def detector() -> Detector:
    return Detector(load_ruleset(), engine="python")


def published_google_keys() -> list[str]:
    text = GITLEAKS_TOML.read_text(encoding="utf-8")
    block = text[text.index('id = "gcp-api-key"') :]
    block = block[: block.index("[[rules]]")]
    return re.findall(r"'''(AIza[\w-]{35})'''", block)


def rule_ids(detector: Detector, text: str) -> list[str]:
    return [m.rule_id for m in detector.detect(text.encode())]


def test_the_list_holds_digests_only() -> None:
    entries = [line.split()[0] for line in DATA_FILE.read_text(encoding="utf-8").splitlines() if line[:1].isalnum()]
    assert len(entries) == len(set(entries)) == len(example_digests()) >= 18
    assert all(re.fullmatch(r"[0-9a-f]{64}", e) for e in entries)


def test_published_google_sample_keys_are_not_reported(detector: Detector, tokens: TokenFactory) -> None:
    keys = [key for key in published_google_keys() if is_published_example(key)]
    assert len(keys) == 12
    for key in keys:
        assert rule_ids(detector, f'FIREBASE_API_KEY="{key}"\n') == []
    fresh = tokens.gcp_api_key()  # same shape, not published: reported
    assert not is_published_example(fresh)
    assert rule_ids(detector, f'FIREBASE_API_KEY="{fresh}"\n') == ["gcp-api-key"]


def test_a_digest_match_is_exact(tokens: TokenFactory) -> None:
    key = next(key for key in published_google_keys() if is_published_example(key))
    assert hashlib.sha256(key.encode()).hexdigest() in example_digests()
    assert not is_published_example(key[:-1] + ("A" if key[-1] != "A" else "B"))
    assert not is_published_example(key + "x")


def test_public_constants_shaped_like_keys_are_not_reported(detector: Detector, tokens: TokenFactory) -> None:
    # Pulumi marks an encrypted value in stack state with this constant key (and value): not a secret.
    assert rule_ids(detector, 'SECRET_SIG_KEY = "4dabf18193072939515e22adb298388d"\n') == []
    other = tokens.clean_chars("0123456789abcdef", 32)  # same shape, not the constant: reported
    assert rule_ids(detector, f'SIG_KEY = "{other}"\n') == ["generic-secret-named-key"]


@pytest.mark.parametrize("word", ["ApplicationTokenRenewals", "rootvaulttokenfordevmode", "VAULTTOKENFORDEVMODEXXXY"])
def test_vault_style_names_are_not_tokens(detector: Detector, tokens: TokenFactory, word: str) -> None:
    assert len(word) == 24
    assert "vault-token-legacy" not in rule_ids(detector, f"export VAULT_TOKEN=s.{word}\n")
    real = "s." + tokens.chars("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", 22) + "7Q"
    assert "vault-token-legacy" in rule_ids(detector, f"export VAULT_TOKEN={real}\n")
