"""Every built-in rule against its own examples: examples must produce a finding of that rule (through the whole
pipeline: keyword prefilter, regex, entropy, checksum, heuristics), negative examples must not."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import pytest

from scanner.detect.engine import Detector
from scanner.detect.rulecheck import check_rule
from scanner.ruleset import load_ruleset
from scanner.ruleset.model import Ruleset

RULESET = load_ruleset()


@cache
def detector(engine: str) -> Detector:
    return Detector(RULESET, engine=engine)


def test_ruleset_size_and_unique_ids() -> None:
    ids = [r.id for r in RULESET.rules]
    assert len(ids) == len(set(ids))
    assert len(ids) >= 450  # issue #13: at least 450 rules


@pytest.mark.parametrize("rule", RULESET.rules, ids=lambda r: r.id)
def test_rule_examples(rule: object) -> None:
    failures = check_rule(detector("hyperscan"), rule)  # type: ignore[arg-type]
    assert not failures, "\n".join(f.message() for f in failures)


@pytest.mark.parametrize("rule", RULESET.rules, ids=lambda r: r.id)
def test_rule_examples_pure_python(rule: object) -> None:
    failures = check_rule(detector("python"), rule)  # type: ignore[arg-type]
    assert not failures, "\n".join(f.message() for f in failures)


@pytest.mark.parametrize("rule", RULESET.rules, ids=lambda r: r.id)
def test_rule_is_portable(rule: object) -> None:
    """Regexes stay within what both Python re and Hyperscan accept; every example holds a keyword."""
    import hyperscan

    spec = rule.spec  # type: ignore[attr-defined]
    db = hyperscan.Database()
    db.compile(expressions=[spec.regex.encode()], ids=[0], flags=[hyperscan.HS_FLAG_SINGLEMATCH])
    re.compile(spec.regex)
    for example in spec.examples:
        assert any(k in example.lower() for k in spec.keywords), f"no keyword in example {example[:40]!r}"


def test_ruleset_hash_changes_with_rules(tmp_path: Path) -> None:
    src = next(p for p in sorted({r.spec.source for r in RULESET.rules}) if p.endswith("github.yaml"))
    text = Path(src).read_text()
    copy = tmp_path / "github.yaml"
    copy.write_text(text)
    first = load_ruleset([copy])
    copy.write_text(text.replace("severity: critical", "severity: high", 1))
    second = load_ruleset([copy])
    assert isinstance(first, Ruleset) and first.hash != second.hash
    assert first.rules[0].spec.severity == "critical" and second.rules[0].spec.severity == "high"
