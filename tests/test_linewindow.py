"""Whole-content rules searched on their keywords' lines (``detect.linewindow``): the same matches as a search of
the whole content, for the built-in rules that qualify, on text made of their own examples and of lines that
bring a keyword next to a newline (a separator, a line of its own, CRLF, the content's first and last bytes)."""

from __future__ import annotations

import string

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scanner.detect import linewindow
from scanner.detect.engine import LINE_SEARCH_FROM, rule_matches
from scanner.detect.prefilter import KeywordHits
from scanner.ruleset.load import load_ruleset
from scanner.ruleset.model import CompiledRule

QUALIFYING = {"generic-password", "generic-secret-named-key", "generic-cli-flag-secret"}


def _rules() -> dict[str, CompiledRule]:
    return {r.id: r for r in load_ruleset().rules}


def test_the_generic_assignment_rules_qualify_and_a_multiline_rule_does_not() -> None:
    rules = _rules()
    assert {rule_id for rule_id, r in rules.items() if r.spec.window == 0 and linewindow.newline_led(r)} >= QUALIFYING
    assert not linewindow.newline_led(rules["private-key-rsa"])  # its body spans lines
    assert not linewindow.newline_led(rules["github-pat"])  # a windowed rule is not asked


def _spans(rule: CompiledRule, content: bytes) -> list[tuple[int, int]]:
    lowered = content.lower()
    return [m.span() for m in rule_matches(rule, content, lowered, KeywordHits(lowered))]


_SECRET = st.text(string.ascii_letters + string.digits, min_size=20, max_size=30)
_PIECES = [
    "password = ",
    "\npass=",
    "\npwd: ",
    "dbPass = '",
    "--api-key ",
    " --token ",
    "API_KEY=",
    "myKey: ",
    '<add key="SmtpPassword" value="',
    "'\n",
    "\r\n",
    "\n",
    " ",
    "x",
    '"',
]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(st.sampled_from(_PIECES), _SECRET), min_size=1, max_size=60), st.booleans())
def test_keyword_lines_give_the_matches_of_a_whole_search(parts: list[str], pad: bool) -> None:
    rules = _rules()
    text = "".join(parts)
    # Padding past LINE_SEARCH_FROM on either side (or none: a small chunk is searched whole anyway).
    filler = ("y" * 70 + "\n") * (LINE_SEARCH_FROM // 70 + 1) if pad else ""
    content = (filler + text + filler).encode()
    for rule_id in QUALIFYING:
        rule = rules[rule_id]
        assert _spans(rule, content) == [m.span() for m in rule.pattern.finditer(content)], rule_id


@pytest.mark.parametrize("rule_id", sorted(QUALIFYING))
def test_examples_in_a_large_text_are_found_as_a_whole_search_finds_them(rule_id: str) -> None:
    rule = _rules()[rule_id]
    filler = b"z = 1\n" * (LINE_SEARCH_FROM // 6 + 1)
    content = filler + b"\n".join(e.encode() for e in rule.spec.examples) + b"\n" + filler
    found = _spans(rule, content)
    assert found == [m.span() for m in rule.pattern.finditer(content)]
    assert len(found) >= len(rule.spec.examples)
