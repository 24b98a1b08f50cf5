"""The ReDoS check (``scanner/ruleset/redos.py``): what it refuses, what it accepts, that it never crashes, that a
refused pattern really is slow in ``re``, and that a config holding one is refused at load with a clear error."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
import yaml
from helpers import RunCli, builtin_rule
from hypothesis import given
from hypothesis import strategies as st

from scanner.errors import ConfigError
from scanner.policy.config import load_config
from scanner.ruleset import load_ruleset
from scanner.ruleset.redos import check

REFUSED = [
    # nested quantifiers whose bodies can match the same text
    (r"(a+)+$", "nested-quantifier", "(a+)+"),
    (r"(\w+\s?)*$", "nested-quantifier", r"(\w+\s?)*"),
    (r"^(\w+\s?)+$", "nested-quantifier", r"(\w+\s?)+"),
    (r"(.*a){10}", "nested-quantifier", "(.*a){10}"),
    (r"(.*,){12}x", "nested-quantifier", "(.*,){12}"),
    (r"(a*)*b", "nested-quantifier", "(a*)*"),
    (r"((a+){2})+b", "nested-quantifier", "((a+){2})+"),
    (r"(?:[a-z0-9]+[-.]?)+@", "nested-quantifier", r"(?:[a-z0-9]+[\-\.]?)+"),
    (r"(?i)(?:K+)+!", "nested-quantifier", "(?:K+)+"),
    (r"(中+)+$", "nested-quantifier", "(中+)+"),
    (r"(?=(a+)+b)", "nested-quantifier", "(a+)+"),  # inside a lookahead too
    # quantified alternations with overlapping branches (Python takes the common prefix out: ``a(?:|)``)
    (r"(a|a)*$", "overlapping-alternatives", "(a(?:|))*"),
    (r"(ab|ab)*$", "overlapping-alternatives", "(ab(?:|))*"),
    (r"(?:a|aa)+$", "nested-quantifier", "(?:a(?:|a))+"),
    (r"(?:\d\w|\w\d)+$", "overlapping-alternatives", r"(?:\d\w|\w\d)+"),
    # adjacent overlapping unbounded quantifiers inside a repeated group
    (r"(a*a*b)*$", "adjacent-quantifiers", "a*a*"),
    (r"(?:x+y?x+z)+$", "adjacent-quantifiers", "x+y?x+"),
    (r"(?:\s*\w*\s*=)+$", "adjacent-quantifiers", r"\s*\w*\s*"),
]

ACCEPTED = [
    r"(\d+\.){3}\d+",
    r"[a-z0-9]+(?:-[a-z0-9]+)*",
    r'"(?:\\.|[^"\\])*"',
    r"(?>a+)+",  # atomic: never gives back
    r"(a++)+",  # possessive
    r"^\s*(?:#.*)?$",
    r"(https?|ftp)://[^\s/$.?#].[^\s]*",
    r"[\w.+-]+@[\w-]+\.[\w.-]+",
    r"(?i)(?:key|token)\s*[:=]\s*['\"]?([a-z0-9]{32})",
    r"(\w+\.)+\w+",
    r"(?:a|b|c)+",
    r"(\w|\d)+$",  # single characters: Python compiles the alternation into one character class
    r"EXAMPLE|TEST|DUMMY",
    r"(x|y)*(?=z)",
    r"(?:[_.-]?(?:key|v?[0-9]{1,2})){0,3}",  # bounded: at most 8 ways to split
    r"\s*\s*",  # adjacent, but not inside a repeated group: quadratic at worst
    r"AKIA[0-9A-Z]{16}",
    r"(?P<user>[a-z]+):(?P=user)",
    r"(a)?(?(1)b|c)+",
]


@pytest.mark.parametrize(("pattern", "kind", "part"), REFUSED)
def test_refused(pattern: str, kind: str, part: str) -> None:
    hazard = check(pattern)
    assert hazard is not None
    assert (hazard.kind, hazard.part) == (kind, part)
    assert hazard.message().startswith("may backtrack catastrophically: ") and hazard.message().endswith(part)


@pytest.mark.parametrize("pattern", ACCEPTED)
def test_accepted(pattern: str) -> None:
    assert check(pattern) is None


def test_every_built_in_rule_is_accepted() -> None:
    rules = load_ruleset().rules
    assert len(rules) >= 252
    flagged = {r.id: check(r.spec.regex) for r in rules}
    assert {rule_id: h for rule_id, h in flagged.items() if h is not None} == {}
    for rule in rules:
        for rx in (*rule.spec.allow_regexes, *rule.spec.allow_paths):
            assert check(rx) is None, (rule.id, rx)


def _time_match(pattern: re.Pattern[str], text: str) -> float:
    started = time.perf_counter()
    pattern.match(text)
    return time.perf_counter() - started


@pytest.mark.parametrize(("pattern", "unit"), [(r"(a+)+$", "a"), (r"(\w+\s?)*$", "a"), (r"(ab|ab)*$", "ab")])
def test_a_refused_pattern_really_is_slow_in_re(pattern: str, unit: str) -> None:
    """Not a vacuous check: six more characters make ``re`` take far longer (2^6 = 64 times in theory)."""
    assert check(pattern) is not None
    compiled = re.compile(pattern)
    small = min(_time_match(compiled, unit * 14 + "!") for _ in range(3))
    large = _time_match(compiled, unit * 20 + "!")
    assert large > 10 * small and large > 0.005, (small, large)
    safe = re.compile(r"(\w+\.)+\w+$")  # accepted: the same input lengths stay fast
    assert check(safe.pattern) is None and _time_match(safe, "a" * 20 + "!") < 0.005


_PIECES = [
    "a", "b", "ab", ".", r"\d", r"\w", r"\s", r"\W", "[a-c]", "[^x]", r"[\w.-]", "中", "(", ")", "(?:", "(?>",
    "(?=", "(?!", "(?<=a)", "|", "*", "+", "?", "*?", "++", "{2}", "{1,3}", "{3,}", "^", "$", r"\b", "(?i)",
    "(?s:", r"\1", "(?P<g>", "(?P=g)", "(?(1)a|b)",
]  # fmt: skip


@given(st.lists(st.sampled_from(_PIECES), max_size=14).map("".join) | st.text(max_size=30))
def test_the_check_never_crashes_on_a_compilable_pattern(pattern: str) -> None:
    try:
        re.compile(pattern)
    except (re.error, OverflowError, RecursionError):
        return
    hazard = check(pattern)
    assert hazard is None or hazard.part


# --- at config load ---


def write_config(root: Path, doc: dict[str, object]) -> Path:
    path = root / ".leakstop.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return path


def custom_rule(regex: str, **extra: object) -> dict[str, object]:
    return {
        "id": "team-token",
        "name": "Team token",
        "regex": regex,
        "keywords": ["team"],
        "severity": "high",
        "confidence": "high",
        **extra,
    }


@pytest.mark.parametrize(
    ("doc", "where", "part"),
    [
        ({"rules": [custom_rule(r"team_((?:[a-z]+_?)+)\b")]}, "rules/0 (rule team-token): regex", "(?:[a-z]+_?)+"),
        (
            {"rules": [custom_rule(r"team_[a-z]{20}", allowlist={"regexes": [r"^(x+x+)+y$"]})]},
            "rules/0 (rule team-token): allowlist/regexes/0",
            "x+x+",
        ),
        ({"allowlist": {"regexes": ["EXAMPLE", r"(\w+\s?)*$"]}}, "allowlist/regexes/1", r"(\w+\s?)*"),
        (
            {"allowlist": [{"paths": ["docs/"]}, {"name": "vendored", "path_regexes": [r"^(a+)+/"]}]},
            "allowlist/1/path_regexes/0",
            "(a+)+",
        ),
        (
            {"rules": [custom_rule(r"team_[a-z]{20}", allowlists=[{"regexes": [r"(x+x+)+y"], "condition": "any"}])]},
            "rules/0 (rule team-token): allowlists/0/regexes/0",
            "x+x+",
        ),
    ],
)
def test_a_config_with_a_catastrophic_regex_is_refused_at_load(
    tmp_path: Path, run_cli: RunCli, doc: dict[str, object], where: str, part: str
) -> None:
    path = write_config(tmp_path, doc)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert message.startswith(f"{path}: {where}: may backtrack catastrophically: ") and message.endswith(part)
    code, out, err = run_cli("scan", tmp_path)
    assert (code, out) == (2, "")
    assert err.strip().splitlines() == [f"leakstop: error: {message}"]


def test_typical_user_regexes_load(tmp_path: Path) -> None:
    rule = custom_rule(r"\bteam_([a-zA-Z0-9]{32})\b", allowlist={"regexes": [r"^team_0+$"], "paths": [r"\.md$"]})
    path = write_config(tmp_path, {"rules": [rule, builtin_rule("github-pat")], "allowlist": {"regexes": ["^x+$"]}})
    assert [r.id for r in load_config(path).rules] == ["team-token", "github-pat"]
