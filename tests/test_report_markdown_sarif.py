"""The Markdown summary reporter (golden file, escaping, the size limit) and SARIF within GitHub's upload limits,
on the fixed tree of ``test_reports.py``."""

from __future__ import annotations

import gzip
import io
import json
import os
import re
from pathlib import Path

import jsonschema
import pytest
from test_reports import GOLDEN, SARIF_SCHEMA, Tree, normalise

import scanner
from scanner.cli import build_parser
from scanner.cli.scan import scan_request
from scanner.models import ScanResult
from scanner.pipeline import run
from scanner.report import REPORTERS, ReportOptions
from scanner.report.markdown import render_markdown
from scanner.report.sarif import SarifLimits, sarif_dict


def scan(*argv: str) -> ScanResult:
    args = build_parser().parse_args(["scan", *argv])
    return run(scan_request(args, os.environ))


@pytest.fixture
def tree_result(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Tree, ScanResult]:
    monkeypatch.chdir(tmp_path)
    tree = Tree(tmp_path, seed=1234)
    return tree, scan("tree", "--config", "config/leakstop.yaml", "--max-file-size", "2k")


def markdown(result: ScanResult, show_secrets: bool = False) -> str:
    out = io.StringIO()
    REPORTERS["markdown"](result, out, ReportOptions(show_secrets=show_secrets))
    return out.getvalue()


def test_markdown_golden(tree_result: tuple[Tree, ScanResult]) -> None:
    tree, result = tree_result
    actual = re.sub(r"in [0-9\\.]+ s", "in <duration> s", normalise(markdown(result), tree.root))
    golden = GOLDEN / "report.md"
    if os.environ.get("UPDATE_GOLDEN") == "1":
        golden.write_text(actual, encoding="utf-8")
    assert actual == golden.read_text(encoding="utf-8")
    assert not any(value[4:20] in actual for value in [*tree.secrets, tree.encoded])


def test_markdown_is_redacted_even_when_secrets_are_shown(tree_result: tuple[Tree, ScanResult]) -> None:
    tree, result = tree_result
    text = markdown(result, show_secrets=True)
    for value in [*tree.secrets, tree.encoded]:
        assert value not in text and value[4:20] not in text
    assert text.count("ghp\\_…\\(40\\)") == 1  # the blocking one; the allowed one is folded away, without it
    assert "<details><summary>1 allowed finding</summary>" in text


def test_markdown_escapes_what_it_quotes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A file name can hold table pipes, HTML, a mention, backticks and a line break: none may take effect."""
    monkeypatch.chdir(tmp_path)
    tree = Tree(tmp_path, seed=7)
    name = "a|b <img src=x> @octocat `x` [l](e) \nnext.env"
    (tmp_path / "tree" / name).write_text(f"T={tree.pat}\n", encoding="utf-8")
    text = markdown(scan("tree", "--config", "config/leakstop.yaml", "--max-file-size", "2k"))
    row = next(line for line in text.splitlines() if "octocat" in line)
    assert len(re.findall(r"(?<!\\)\|", row)) == 6  # the table's own separators only
    for raw in ("<img", "@octocat", "`x", "[l]"):  # each only with its first character escaped
        assert not re.search(r"(?<!\\)" + re.escape(raw), row)
    assert "a\\|b \\<img src\\=x\\> \\@octocat \\`x\\` \\[l\\]\\(e\\) next\\.env\\:1" in row


def test_markdown_stays_within_max_bytes(tree_result: tuple[Tree, ScanResult]) -> None:
    _, result = tree_result
    full = render_markdown(result)
    for limit in (len(full.encode()) - 1, 1000, 700):
        text = render_markdown(result, ["what was scanned"], max_bytes=limit)
        assert len(text.encode()) <= limit
        left_out = int(re.search(r"\*\*(\d+) more rows not shown:\*\*", text)[1])  # type: ignore[index]
        rows = text.count("\n| ") - text.count("\n| Verdict") - text.count("\n| Rule") - text.count("\n| ---")
        items = text.count("\n- ")
        assert rows + items + left_out == 2 + 2 + len([i for i in result.issues if i.reason != "binary"])
    assert "more rows not shown" not in render_markdown(result, max_bytes=len(full.encode()) + 500)


# --- SARIF within GitHub's limits ---


def validate(doc: dict[str, object]) -> None:
    assert list(jsonschema.Draft7Validator(SARIF_SCHEMA).iter_errors(doc)) == []


def test_sarif_keeps_the_most_severe_results_within_the_count(tree_result: tuple[Tree, ScanResult]) -> None:
    _, result = tree_result
    doc = sarif_dict(result, ReportOptions(), SarifLimits(results=2))
    validate(doc)
    run_ = doc["runs"][0]
    assert [r["properties"]["verdict"] for r in run_["results"]] == ["block", "block"]
    assert {r["ruleId"] for r in run_["results"]} == {"test-pat", "test-installation-token"}
    assert [rule["id"] for rule in run_["tool"]["driver"]["rules"]] == ["test-installation-token", "test-pat"]
    notes = run_["invocations"][0]["toolExecutionNotifications"]
    assert notes[0]["message"]["text"].startswith("2 results left out, the least severe first: a run holds at most 2")


def test_sarif_fits_the_gzip_limit(tree_result: tuple[Tree, ScanResult]) -> None:
    _, result = tree_result
    full = sarif_dict(result, ReportOptions())
    size = len(gzip.compress(json.dumps(full, indent=2, ensure_ascii=False).encode(), 6))
    doc = sarif_dict(result, ReportOptions(), SarifLimits(gzip_bytes=size - 1))
    validate(doc)
    assert len(gzip.compress(json.dumps(doc, indent=2, ensure_ascii=False).encode(), 6)) <= size - 1
    kept = doc["runs"][0]["results"]
    assert 0 < len(kept) < len(full["runs"][0]["results"])
    [note] = [
        n for n in doc["runs"][0]["invocations"][0]["toolExecutionNotifications"] if "left out" in n["message"]["text"]
    ]
    assert note["message"]["text"].startswith(f"{4 - len(kept)} results left out, the least severe first: the gzipped")
    assert sarif_dict(result, ReportOptions(), SarifLimits(gzip_bytes=10))["runs"][0]["results"] == []


def test_sarif_rules_carry_what_github_requires(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A custom rule without a description still gets non-empty descriptions and help."""
    monkeypatch.chdir(tmp_path)
    tree = Tree(tmp_path, seed=3)
    config = tmp_path / "config" / "leakstop.yaml"
    config.write_text(
        config.read_text(encoding="utf-8").replace(
            "  description: A token in the classic GitHub format, found by a rule defined in the test.\n", ""
        ),
        encoding="utf-8",
    )
    doc = sarif_dict(scan("tree", "--config", str(config)), ReportOptions())
    validate(doc)
    assert tree.pat
    for rule in doc["runs"][0]["tool"]["driver"]["rules"]:
        assert rule["shortDescription"]["text"] and rule["fullDescription"]["text"] and rule["help"]["text"]
        assert isinstance(rule["properties"]["security-severity"], str)
        assert "security" in rule["properties"]["tags"]
    assert doc["runs"][0]["automationDetails"]["id"] == "leakstop/files/"


def test_many_issues_are_summarised_in_one_notification(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    for n in range(1005):
        (tmp_path / f"big{n}.txt").write_text("x" * 20, encoding="utf-8")
    doc = sarif_dict(scan(".", "--max-file-size", "10", "--no-config"), ReportOptions())
    notes = doc["runs"][0]["invocations"][0]["toolExecutionNotifications"]
    assert len(notes) == 1000
    assert notes[0]["message"]["text"] == "incomplete: 1005 not read (1005 too-large) (policy incomplete: warn)"
    assert notes[-1]["message"]["text"] == "7 more issues: the JSON report lists them"  # the incomplete note first


def test_markdown_headings_bypasses_and_context(tree_result: tuple[Tree, ScanResult]) -> None:
    import dataclasses

    from scanner.models import Bypass

    _, result = tree_result
    assert render_markdown(ScanResult(target="git")).startswith("### ✅ leakstop: no secrets found\n")
    warned = ScanResult(
        target="git",
        findings=[dataclasses.replace(f, verdict="warn") for f in result.findings[:2]],
        branch="release/1",
        baseline="ci/baseline.json",
        bypasses=[Bypass("env", "revoked test key", who="octocat", when="2026-05-04T10:00:00+00:00")],
    )
    text = render_markdown(warned)
    assert text.startswith("### ⚠️ leakstop: 2 warnings, nothing blocks\n")
    assert "#### Not scanned" not in text
    assert "#### Bypasses\n\n- bypass via env by octocat\\: \\'revoked test key\\'\n" in text
    assert text.rstrip().endswith(
        f"· branch release\\/1 · baseline ci\\/baseline\\.json · leakstop {scanner.__version__}"
    )
