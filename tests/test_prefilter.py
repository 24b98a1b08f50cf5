"""The prefilter contract (scanner/detect/prefilter.py): never too few candidates; the Hyperscan database is
compiled once and then loaded from the cache."""

from __future__ import annotations

from pathlib import Path

import pytest
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


def test_engine_can_be_forced(github_ruleset: Ruleset, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEAKSTOP_ENGINE", "python")
    assert prefilter.make_prefilter(github_ruleset.rules, github_ruleset.hash).name == "python"


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
