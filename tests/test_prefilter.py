"""The prefilter contract (scanner/detect/prefilter.py): never too few candidates; the Hyperscan database is
compiled once and then loaded from the cache."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tokens import TokenFactory

from scanner.detect import prefilter, smallscan
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
    assert len(list(tmp_path.glob("hs6-*.db"))) == 1

    def compile_again(*args: object) -> None:
        raise AssertionError("compiled again although the database is in the cache")

    monkeypatch.setattr(prefilter, "compile_rules", compile_again)
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


@pytest.mark.parametrize(
    ("regex", "expected"),
    [
        (r"a[\w.-]{0,20}b", r"a[\w.-]*b"),
        (r"x{1,30}?y{0,3}", r"x{1,}?y{0,3}"),
        (r"[{0,20}]\{0,20\}", r"[{0,20}]\{0,20\}"),
        (r"[]{0,20}]z{2,50}", r"[]{0,20}]z{2,}"),
        (r"[^]x]{0,99}", r"[^]x]*"),
        (r"\\{0,20}", r"\\*"),
    ],
)
def test_relaxed_opens_long_bounded_repeats_outside_classes(regex: str, expected: str) -> None:
    assert prefilter.relaxed(regex) == expected


_PIECES = st.sampled_from(["a", "b", "[ab]", "[]a]", "[^b]", "\\{", "(?:ab)", "{", "}", ",", "[{]", "."])
_BOUNDS = st.tuples(st.integers(0, 3), st.integers(0, 14)).map(lambda b: f"{{{b[0]},{b[0] + b[1]}}}")


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.tuples(_PIECES, st.one_of(st.just(""), _BOUNDS)), min_size=1, max_size=6), st.text("ab{},", max_size=40)
)
def test_relaxed_matches_wherever_the_rule_matches(parts: list[tuple[str, str]], text: str) -> None:
    """The relaxed form is a superset: wherever the regex matches, so does the pattern Hyperscan gets."""
    regex = "".join(piece + bound for piece, bound in parts)
    try:
        exact = re.compile(regex)
    except re.error:
        return
    if exact.search(text):
        assert re.search(prefilter.relaxed(regex), text)


def test_relaxed_built_in_rules_still_find_their_examples() -> None:
    from scanner.ruleset.load import load_ruleset

    for rule in load_ruleset().rules:
        relaxed = re.compile(prefilter.relaxed(rule.spec.regex))
        for example in rule.spec.examples:
            assert relaxed.search(example), rule.spec.id


def test_a_rule_marked_prefilter_keywords_is_a_candidate_exactly_where_a_keyword_is(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``prefilter: keywords``: Hyperscan gets the keywords (caseless) instead of the regex, so its candidates
    are the keyword prefilter's; and the built-in rules so marked find their own examples on both engines."""
    pytest.importorskip("hyperscan")
    from scanner.detect.engine import Detector
    from scanner.ruleset import load_ruleset

    monkeypatch.setenv("LEAKSTOP_CACHE_DIR", str(tmp_path))
    ruleset = load_ruleset()
    marked = [r for r in ruleset.rules if r.spec.prefilter_keywords]
    assert len(marked) >= 10
    hyper = prefilter.HyperscanPrefilter(ruleset.rules, ruleset.hash)
    python = prefilter.KeywordPrefilter(ruleset.rules)
    index = {r.id: i for i, r in enumerate(ruleset.rules)}
    for rule in marked:
        for keyword in rule.keywords:
            text = b"prefix " + keyword.upper() + b" suffix"  # no regex match: the keyword alone
            assert index[rule.id] in hyper.scan(text).candidates
            assert index[rule.id] in python.scan(text).candidates
    assert not {index[r.id] for r in marked} & set(hyper.scan(b"nothing to see here").candidates)
    detectors = {name: Detector(ruleset, engine=name) for name in ("hyperscan", "python")}
    for rule in marked:
        for example in rule.spec.examples:
            found = {name: [(m.rule_id, m.secret) for m in d.detect(example.encode())] for name, d in detectors.items()}
            assert found["hyperscan"] == found["python"]
            assert rule.id in {rule_id for rule_id, _ in found["hyperscan"]}


def test_a_small_input_is_scanned_without_hyperscan_and_a_larger_one_with_it(tokens: TokenFactory) -> None:
    """``small_first``: the keyword prefilter while the scan's bytes stay within ``SMALL_INPUT``, Hyperscan from
    the chunk that passes it; the findings are those of the Hyperscan detector all along."""
    pytest.importorskip("hyperscan")
    from scanner.detect.engine import Detector
    from scanner.ruleset import load_ruleset

    ruleset = load_ruleset()
    small_first = Detector(ruleset, small_first=True)
    hyperscan = Detector(ruleset, engine="hyperscan")
    filler = b"VALUE = 1\n" * 10  # 100 bytes: with the first chunk's 88, one stays within SMALL_INPUT (256)
    chunks = [_content(tokens), filler, filler, _content(tokens) + filler]
    assert hyperscan.detect(chunks[0])  # the generated tokens are found
    engines = []
    for chunk in chunks:
        assert small_first.detect(chunk) == hyperscan.detect(chunk)
        engines.append(small_first.engine)
    assert engines == ["python", "python", "hyperscan", "hyperscan"]
    assert len(chunks[0]) + len(filler) <= smallscan.SMALL_INPUT < len(chunks[0]) + 2 * len(filler)
    assert Detector(ruleset).engine == "hyperscan"  # without small_first: Hyperscan from the start
