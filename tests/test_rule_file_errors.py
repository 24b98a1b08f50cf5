"""Bad rule files (issue #13, bad input): a duplicate id, an invalid or unportable regex and failing examples are
each reported as one line naming the file, the rule and the field, with exit code 2 (README: Exit codes)."""

from __future__ import annotations

from pathlib import Path

import yaml
from helpers import RunCli
from tokens import TokenFactory

BASE = {"name": "Test", "severity": "high", "confidence": "high"}


def write_rules(path: Path, *rules: dict[str, object]) -> Path:
    path.write_text(yaml.safe_dump({"rules": [{**BASE, **rule} for rule in rules]}), encoding="utf-8")
    return path


def rule(rule_id: str, token: str, **extra: object) -> dict[str, object]:
    return {
        "id": rule_id,
        "regex": r"\b(tok_[a-z]{12})\b",
        "keywords": ["tok_"],
        "examples": [f"t = {token}"],
        "negative_examples": ["t = tok_short"],
        **extra,
    }


def one_error_line(err: str) -> str:
    assert err.count("\n") == 1 and "Traceback" not in err, err
    return err.strip()


def test_a_duplicate_id_in_one_file(tmp_path: Path, run_cli: RunCli, tokens: TokenFactory) -> None:
    good = "tok_" + tokens.clean_chars("abcdefghijklmnopqrstuvwxyz", 12)
    path = write_rules(tmp_path / "dup.yaml", rule("test-tok", good), rule("test-tok", good))
    code, out, err = run_cli("rules", "check", path)
    assert (code, out) == (2, "")
    assert one_error_line(err) == f"leakstop: error: {path}: rule test-tok: id: duplicate (first defined in {path})"


def test_a_duplicate_id_across_files_and_with_a_built_in_rule(
    tmp_path: Path, run_cli: RunCli, tokens: TokenFactory
) -> None:
    good = "tok_" + tokens.clean_chars("abcdefghijklmnopqrstuvwxyz", 12)
    first = write_rules(tmp_path / "a.yaml", rule("test-tok", good))
    second = write_rules(tmp_path / "b.yaml", rule("test-tok", good))
    code, _, err = run_cli("rules", "check", first, second)
    assert code == 2
    assert one_error_line(err) == f"leakstop: error: {second}: rule test-tok: id: duplicate (first defined in {first})"

    config = tmp_path / "leakstop.yaml"
    config.write_text(yaml.safe_dump({"version": 1, "rules": [{**BASE, **rule("github-pat", good)}]}), encoding="utf-8")
    code, _, err = run_cli("scan", "--config", config, first)
    assert code == 2
    line = one_error_line(err)
    assert line.startswith(f"leakstop: error: {config}: rule github-pat: id: duplicate (first defined in ")
    assert line.endswith("github.yaml)")


def test_unportable_and_invalid_regexes_name_file_rule_and_field(
    tmp_path: Path, run_cli: RunCli, tokens: TokenFactory
) -> None:
    good = "tok_" + tokens.clean_chars("abcdefghijklmnopqrstuvwxyz", 12)
    cases = {
        "lookbehind.yaml": (r"(?<=t = )(tok_[a-z]{12})", "regex: uses lookaround"),
        "backref.yaml": (r"(tok_)([a-z]{12})\1", "regex: uses lookaround, a backreference"),
        "invalid.yaml": (r"(tok_[a-z]{12}", "regex: invalid: missing ), unterminated subpattern"),
    }
    for name, (regex, message) in cases.items():
        path = write_rules(tmp_path / name, rule("test-tok", good, regex=regex))
        code, out, err = run_cli("rules", "check", path)
        assert (code, out) == (2, ""), name
        assert one_error_line(err).startswith(f"leakstop: error: {path}: rule test-tok: {message}"), err


def test_failing_examples_name_file_rule_field_and_index(tmp_path: Path, run_cli: RunCli, tokens: TokenFactory) -> None:
    good = "tok_" + tokens.clean_chars("abcdefghijklmnopqrstuvwxyz", 12)
    path = write_rules(
        tmp_path / "fail.yaml",
        rule("test-tok", good, examples=[f"t = {good}", "t = tok_short"], negative_examples=["x", f"t = {good}"]),
    )
    code, out, err = run_cli("rules", "check", path)
    assert (code, err) == (2, "")
    assert out.splitlines() == [
        f"{path}: rule test-tok: examples/1: does not produce a finding: 't = tok_short'",
        f"{path}: rule test-tok: negative_examples/1: produces a finding: 't = {good}'",
        "1 rules, 4 examples checked, 2 failures (hyperscan)",
    ]
