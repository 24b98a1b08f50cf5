"""The prefilter contract (scanner/detect/prefilter.py): never too few candidates; the Hyperscan database is
compiled once and then loaded from the cache."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tokens import TokenFactory

from scanner.detect import prefilter
from scanner.ruleset.model import Ruleset


def _content(factory: TokenFactory) -> bytes:
    return f"A={factory.github_clean('ghp_')}\nB={factory.github_clean('ghs_')}\n".encode()


def test_both_prefilters_name_the_matching_rules(github_ruleset: Ruleset) -> None:
    pytest.importorskip("hyperscan")
    content = _content(TokenFactory())
    wanted = {i for i, r in enumerate(github_ruleset.rules) if r.id in ("github-pat", "github-app-installation-token")}
    python = prefilter.KeywordPrefilter(github_ruleset.rules)
    hyper = prefilter.HyperscanPrefilter(github_ruleset.rules, github_ruleset.hash)
    assert wanted <= set(python.scan(content).candidates)
    assert wanted <= set(hyper.scan(content).candidates)
    assert list(hyper.scan(b"nothing to see").candidates) == []


def test_engine_can_be_forced(github_ruleset: Ruleset) -> None:
    assert prefilter.make_prefilter(github_ruleset.rules, github_ruleset.hash, "python").name == "python"


def test_hyperscan_database_is_loaded_from_the_cache(
    github_ruleset: Ruleset, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("hyperscan")
    monkeypatch.setenv("LEAKSTOP_CACHE_DIR", str(tmp_path))
    prefilter.HyperscanPrefilter(github_ruleset.rules, github_ruleset.hash)
    assert len(list(tmp_path.glob("hs3-*.db"))) == 1

    def compile_again(self: object, rules: object) -> None:
        raise AssertionError("compiled again although the database is in the cache")

    monkeypatch.setattr(prefilter.HyperscanPrefilter, "_compile", compile_again)
    cached = prefilter.HyperscanPrefilter(github_ruleset.rules, github_ruleset.hash)
    content = _content(TokenFactory())
    pat = next(i for i, r in enumerate(github_ruleset.rules) if r.id == "github-pat")
    assert pat in cached.scan(content).candidates


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.sampled_from(["ghp_", "GHP_", "token", "x", " ", "\n", "gho_", "tok"]), max_size=40))
def test_keyword_positions_from_hyperscan_equal_a_plain_search(github_ruleset: Ruleset, parts: list[str]) -> None:
    """Every keyword, present or absent, gets the offsets ``bytes.find`` gives on the lower-cased content."""
    pytest.importorskip("hyperscan")
    hyper = prefilter.HyperscanPrefilter(github_ruleset.rules, github_ruleset.hash)  # from the disk cache
    content = ("".join(parts) + _content(TokenFactory()).decode()).encode()  # a token: a candidate rule
    scanned = hyper.scan(content)
    assert scanned.candidates
    for keyword in sorted({k for rule in github_ruleset.rules for k in rule.keywords}):
        assert scanned.hits.positions(keyword) == prefilter._find_all(content.lower(), keyword), keyword
