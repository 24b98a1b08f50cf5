"""The generic family defers to a provider's rule on values that carry that provider's documented prefix (the
prefix allowlist of rules/generic.yaml): a value one character off the provider's format must not come back as a
generic finding. So every prefix-only rule needs its prefix in that list.

Enforced for the prefixed long-tail files (rules/tail-prefixed-*.yaml), where every rule whose regex opens on a
literal (``\\b(prefix...``) is such a rule. Older files predate the list: literal starts there include ``https``,
``-----BEGIN`` and short words (``pat``, ``api_``, ``key-``) that must not silence the generic family, so they are
judged one by one rather than by this test."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from scanner.ruleset import load_ruleset

RULESET = load_ruleset()
GENERIC_FAMILY = [r for r in RULESET.rules if r.spec.generic and r.id in ("generic-secret", "generic-secret-named-key")]
PREFIXED = [
    r
    for r in RULESET.rules
    if Path(r.spec.source).name.startswith("tail-prefixed-") and re.match(r"\\b\([A-Za-z]", r.spec.regex)
]


def prefix_allowlist(rule_id: str) -> re.Pattern[str]:
    rule = next(r for r in GENERIC_FAMILY if r.id == rule_id)
    # the allowlist entry that names the providers' prefixes (it starts with the age key prefix)
    pattern = next(p for p in rule.spec.allow_regexes if p.startswith("^(?:AGE-SECRET-KEY-|"))
    return re.compile(pattern)


def test_generic_family_lists_agree() -> None:
    assert len(GENERIC_FAMILY) == 2
    assert prefix_allowlist("generic-secret").pattern == prefix_allowlist("generic-secret-named-key").pattern


def test_some_prefixed_rules_are_checked() -> None:
    assert len(PREFIXED) >= 10


@pytest.mark.parametrize("rule", PREFIXED, ids=lambda r: r.id)
def test_prefix_is_in_generic_allowlist(rule: object) -> None:
    allow = prefix_allowlist("generic-secret")
    spec = rule.spec  # type: ignore[attr-defined]
    pattern = rule.pattern  # type: ignore[attr-defined]
    group = rule.secret_group  # type: ignore[attr-defined]
    checked = 0
    for example in spec.examples:
        match = pattern.search(example.encode())
        assert match, f"example does not match: {example[:40]!r}"
        secret = match.group(group).decode()
        # the value one character short: what the generic family sees when the provider's rule does not match
        assert allow.match(secret[:-1]), f"{spec.id}: add its prefix ({secret[:6]}…) to rules/generic.yaml's list"
        checked += 1
    assert checked
