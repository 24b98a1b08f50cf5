"""Issue #13, breadth: a token one character off its documented format is no finding of any rule (the generic
family leaves prefixed values to their provider's rule), base64 of ordinary text is no secret, and the held-out
corpus generator and scorer in bench/heldout run end to end on a real scan."""

from __future__ import annotations

import base64
import json
import os
import string
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest
from tokens import ALNUM, TokenFactory

from scanner.detect.engine import Detector
from scanner.detect.heuristics import base64_of_text, generic_reason
from scanner.ruleset import load_ruleset

ROOT = Path(__file__).resolve().parent.parent


@cache
def detector() -> Detector:
    return Detector(load_ruleset(), engine="python")


def rules_on(text: str) -> dict[str, str]:
    return {m.rule_id: m.secret.reveal() for m in detector().detect(text.encode())}


@pytest.mark.parametrize(
    "text",
    ["hello world", "user@example.com", "configuration", "Configuration", "CONFIGURATION", "release notes for 2.4.1"],
)
def test_base64_of_ordinary_text_is_no_secret(text: str) -> None:
    encoded = base64.b64encode(text.encode()).decode()
    assert base64_of_text(encoded)
    assert generic_reason(encoded, "API_KEY=") == "base64-text"


def test_base64_of_key_material_or_credentials_stays_a_secret() -> None:
    tokens = TokenFactory()
    letters = "Q" + tokens.chars(string.ascii_lowercase, 14) + "Z" + tokens.chars(string.ascii_letters, 14)
    for raw in (os.urandom(24), f"deploy:{tokens.password()}".encode(), tokens.chars(ALNUM, 30), letters):
        assert not base64_of_text(base64.b64encode(raw if isinstance(raw, bytes) else raw.encode()).decode())
    assert not base64_of_text("abc")  # not base64 at all
    assert not base64_of_text("////////////////////")  # decodes to bytes that are not text


def test_base64_of_text_in_a_secret_named_variable_is_not_reported() -> None:
    encoded = base64.b64encode(b"the quick brown fox jumps over the lazy dog").decode()
    assert rules_on(f'APP_CLIENT_SECRET = "{encoded}"\n') == {}


@pytest.mark.parametrize("change", ["short", "long", "alphabet"])
def test_token_one_character_off_its_format_is_no_finding(change: str) -> None:
    tokens = TokenFactory()
    token = tokens.github()
    assert rules_on(f"GITHUB_TOKEN={token}\n") == {"github-pat": token}
    bad = {"short": token[:-1], "long": token + "x", "alphabet": token[:20] + "~" + token[21:]}[change]
    assert rules_on(f"GITHUB_TOKEN={bad}\n") == {}


def test_unprefixed_random_value_in_a_secret_variable_is_still_generic() -> None:
    value = TokenFactory().chars(ALNUM, 32)
    assert rules_on(f'ACME_API_KEY = "{value}"\n') == {"generic-secret": value}


def test_prefixed_value_whose_rule_needs_context_is_still_found_by_the_generic_family() -> None:
    # whsec_ is Stripe's, but its rule wants "stripe" nearby: outside that, the generic rule still reports it
    value = "whsec_" + TokenFactory().chars(ALNUM, 32)
    assert rules_on(f"WEBHOOK_SECRET={value}\n") == {"generic-secret": value}


def test_new_prefixed_rules_find_generated_tokens() -> None:
    tokens = TokenFactory()
    hexa = "0123456789abcdef"
    cases = {
        "brevo-api-key": f"xkeysib-{tokens.chars(hexa, 64)}-{tokens.chars(ALNUM, 16)}",
        "nvidia-api-key": "nvapi-" + tokens.chars(ALNUM + "_-", 64),
        "ramp-client-secret": "ramp_sec_" + tokens.chars(ALNUM, 48),
    }
    for rule, value in cases.items():
        assert rules_on(f"export SERVICE_KEY={value}\n").get(rule) == value


def test_duo_secret_key_in_a_duo_unix_config() -> None:
    tokens = TokenFactory()
    skey = tokens.chars(ALNUM, 40)
    config = f"[duo]\nikey = DI{tokens.chars(ALNUM.upper(), 18)}\nskey = {skey}\nhost = api-1a2b3c4d.duosecurity.com\n"
    assert rules_on(config).get("duo-secret-key") == skey
    assert "duo-secret-key" not in rules_on(f"skey = {skey[:-1]}\n")


def test_heldout_corpus_generates_and_scores(tmp_path: Path) -> None:
    corpus = tmp_path / "heldout"
    names = tmp_path / "names.txt"
    names.write_text("accuweather\nzonkapi\n")
    gen = [sys.executable, str(ROOT / "bench/heldout/generate.py"), str(corpus), "--names", str(names)]
    gen += ["--rules", "github-*"]
    assert "positives" in subprocess.run(gen, capture_output=True, text=True, check=True).stdout
    labels = [json.loads(line) for line in (corpus / "labels.jsonl").read_text().splitlines()]
    kinds = {label["kind"] for label in labels}
    assert {"env", "bare", "curl", "off-by-one-short", "placeholder", "env-read", "lockfile", "tail-env"} <= kinds
    leakstop = Path(sys.executable).with_name("leakstop")
    score = [sys.executable, str(ROOT / "bench/heldout/score.py"), str(corpus), "--leakstop", str(leakstop)]
    score += ["--json", str(tmp_path / "figures.json"), "--misses", "3"]
    out = subprocess.run(score, capture_output=True, text=True, check=True).stdout
    assert "recall overall" in out
    figures = json.loads((tmp_path / "figures.json").read_text())["figures"]
    found, total = figures["pos"]
    assert total == sum(1 for label in labels if label["label"] == "pos") and found / total > 0.8
    assert figures["neg:env-read"][0] == 0 and figures["neg:placeholder"][0] == 0
