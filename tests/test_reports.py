"""Reporters: the JSON structure, SARIF validity and contents, the text report, and golden files for all.

The golden files come from a fixed tree built with ``TokenFactory(seed=1234)`` and a ruleset defined here, so
they change only when a reporter changes. Regenerate them on purpose with ``UPDATE_GOLDEN=1 pytest
tests/test_reports.py``; they hold redacted values only (checked below).
"""

from __future__ import annotations

import base64
import json
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from helpers import RunCli, write_files
from tokens import TokenFactory

import scanner

TESTS = Path(__file__).resolve().parent
GOLDEN = TESTS / "golden"
SARIF_SCHEMA = json.loads((TESTS / "data" / "sarif-schema-2.1.0.json").read_text(encoding="utf-8"))
REDACTED = re.compile(r"^.{0,4}…\(\d+\)$")
ANSI = "\x1b["

_TOKEN_RULE: dict[str, Any] = {
    "regex": "\\b(PREFIX[0-9A-Za-z]{36})\\b",
    "checksum": "github-crc32",
    "min_entropy": 3.5,
    "confidence": "high",
}
RULES: list[dict[str, Any]] = [
    {
        **_TOKEN_RULE,
        "id": "test-pat",
        "name": "Test personal access token",
        "description": "A token in the classic GitHub format, found by a rule defined in the test.",
        "regex": _TOKEN_RULE["regex"].replace("PREFIX", "ghp_"),
        "keywords": ["ghp_"],
        "severity": "critical",
        "provider": "github",
        "tags": ["vcs", "token"],
        "references": ["https://example.invalid/docs/tokens"],
    },
    {
        **_TOKEN_RULE,
        "id": "test-installation-token",
        "name": "Test installation token",
        "regex": _TOKEN_RULE["regex"].replace("PREFIX", "ghs_"),
        "keywords": ["ghs_"],
        "severity": "high",
    },
    {
        **_TOKEN_RULE,
        "id": "test-refresh-token",
        "name": "Test refresh token (informational)",
        "regex": _TOKEN_RULE["regex"].replace("PREFIX", "ghr_"),
        "keywords": ["ghr_"],
        "severity": "info",
        "confidence": "medium",
    },
]


class Tree:
    """The fixed tree every report test scans, and the tokens in it."""

    def __init__(self, root: Path, seed: int | None) -> None:
        factory = TokenFactory(seed)
        self.root = root
        self.pat = factory.github_clean("ghp_")
        self.installation = factory.github_clean("ghs_")
        self.refresh = factory.github_clean("ghr_")
        self.allowed = factory.github_clean("ghp_")
        self.encoded = base64.b64encode(f"token={self.installation}".encode()).decode()
        files: dict[str, str | bytes] = {
            "tree/app/.env": f"DEBUG=1\nGITHUB_TOKEN={self.pat}\n",
            "tree/k8s/secret.yaml": f"apiVersion: v1\nkind: Secret\ndata:\n  token: {self.encoded}\n",
            "tree/ci/refresh.ini": f"[auth]\nrefresh = {self.refresh}\n",
            "tree/tests/fixtures/sample.env": f"GITHUB_TOKEN={self.allowed}\n",
            "tree/assets/logo.bin": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
            "tree/logs/big.log": "line\n" * 500,
            "tree/README.md": "# demo\n",
            "config/leakstop.yaml": yaml.safe_dump(
                {"extend": "none", "rules": RULES, "allowlist": {"paths": ["fixtures/"]}}, sort_keys=False
            ),
        }
        write_files(root, files)

    @property
    def secrets(self) -> list[str]:
        return [self.pat, self.installation, self.refresh, self.allowed]


@pytest.fixture
def tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Tree:
    monkeypatch.chdir(tmp_path)  # relative paths in the reports
    return Tree(tmp_path, seed=1234)


def report(run_cli: RunCli, fmt: str, *extra: str) -> tuple[int, str]:
    code, out, err = run_cli(
        "scan", "tree", "--config", "config/leakstop.yaml", "--max-file-size", "2k", "--format", fmt, *extra
    )
    assert err == ""
    return code, out


def normalise(text: str, tmp_path: Path) -> str:
    text = text.replace(str(tmp_path), "<tmp>")
    text = re.sub(r'"duration_s": [0-9.]+', '"duration_s": 0.0', text)
    text = re.sub(r'"ruleset": "[0-9a-f]+"', '"ruleset": "<ruleset-hash>"', text)
    text = re.sub(r'"(start|end)_time": "[0-9T:-]+"', r'"\1_time": "<time>"', text)
    return re.sub(r" in [0-9.]+s ·", " in <duration> ·", text)


# --- JSON ---


def test_json_structure(tree: Tree, run_cli: RunCli) -> None:
    code, out = report(run_cli, "json")
    assert code == 1
    data = json.loads(out)
    assert data["version"] == 1
    assert data["tool"]["name"] == "leakstop"
    assert data["target"] == "files"
    assert re.fullmatch(r"[0-9a-f]{16}", data["ruleset"])
    summary = data["summary"]
    assert summary["findings"] == len(data["findings"]) == 4
    assert (summary["block"], summary["warn"], summary["allow"]) == (2, 1, 1)
    assert summary["blocked"] is True
    assert summary["items_scanned"] == 5
    assert summary["skipped"] == {"binary": 1, "too-large": 1}
    assert summary["bytes_scanned"] == sum(
        p.stat().st_size for p in (tree.root / "tree").rglob("*") if p.is_file() and p.suffix not in (".bin", ".log")
    )
    assert isinstance(summary["duration_s"], float)

    by_rule = {f["rule"]["id"]: f for f in data["findings"] if f["verdict"] != "allow"}
    pat = by_rule["test-pat"]
    assert set(pat) == {
        "id",
        "secret_id",
        "rule",
        "location",
        "secret_redacted",
        "snippet",
        "entropy",
        "decoded",
        "verdict",
        "reason",
    }
    assert pat["rule"] == {
        "id": "test-pat",
        "name": "Test personal access token",
        "severity": "critical",
        "confidence": "high",
        "provider": "github",
        "tags": ["vcs", "token"],
    }
    assert pat["location"] == {
        "kind": "file",
        "path": "tree/app/.env",
        "line": 2,
        "column": 14,
        "end_line": 2,
        "end_column": 54,
    }
    assert pat["secret_redacted"] == "ghp_…(40)"
    assert pat["snippet"] == "GITHUB_TOKEN=ghp_…(40)"
    assert pat["decoded"] == [] and pat["verdict"] == "block" and pat["reason"] == ""
    assert re.fullmatch(r"[0-9a-f]{40}", pat["id"]) and re.fullmatch(r"[0-9a-f]{40}", pat["secret_id"])
    assert 4.0 < pat["entropy"] <= 5.33

    encoded = by_rule["test-installation-token"]
    assert encoded["decoded"] == ["base64"]
    assert (encoded["location"]["path"], encoded["location"]["line"]) == ("tree/k8s/secret.yaml", 4)
    assert by_rule["test-refresh-token"]["verdict"] == "warn"
    [allowed] = [f for f in data["findings"] if f["verdict"] == "allow"]
    assert (allowed["location"]["path"], allowed["reason"]) == (
        "tree/tests/fixtures/sample.env",
        "allowlist:paths",
    )

    assert data["issues"] == [
        {
            "path": "tree/assets/logo.bin",
            "reason": "binary",
            "message": "binary file (NUL or control bytes in the first 8000 bytes, not UTF-8 text)",
        },
        {
            "path": "tree/logs/big.log",
            "reason": "too-large",
            "message": "2500 bytes is over the 2048-byte cap (--max-file-size)",
        },
    ]
    assert "secret" not in pat


def test_json_validates_against_its_published_schema(tree: Tree, run_cli: RunCli) -> None:
    schema = json.loads((Path(scanner.__file__).parent / "report" / "report.schema.json").read_text())
    validator = jsonschema.Draft202012Validator(schema)
    for args in ((), ("--show-secrets",)):
        _, out = report(run_cli, "json", *args)
        doc = json.loads(out)
        assert [e.message for e in validator.iter_errors(doc)] == []
    doc["findings"][0]["verdict"] = "maybe"
    assert list(validator.iter_errors(doc))


def test_json_ids_are_stable_and_do_not_depend_on_the_line(tree: Tree, run_cli: RunCli) -> None:
    _, first = report(run_cli, "json")
    env = tree.root / "tree" / "app" / ".env"
    env.write_text("# moved down\n\n\n" + env.read_text())
    _, second = report(run_cli, "json")
    a = {f["location"]["path"]: f for f in json.loads(first)["findings"]}["tree/app/.env"]
    b = {f["location"]["path"]: f for f in json.loads(second)["findings"]}["tree/app/.env"]
    assert b["location"]["line"] == a["location"]["line"] + 3
    assert (a["id"], a["secret_id"]) == (b["id"], b["secret_id"])


def test_json_show_secrets(tree: Tree, run_cli: RunCli) -> None:
    _, out = report(run_cli, "json", "--show-secrets")
    findings = json.loads(out)["findings"]
    assert sorted(f["secret"] for f in findings) == sorted(tree.secrets)


# --- SARIF ---


def sarif_validator() -> Any:
    cls = jsonschema.validators.validator_for(SARIF_SCHEMA)
    cls.check_schema(SARIF_SCHEMA)
    return cls(SARIF_SCHEMA)


def test_sarif_validates_against_the_schema(tree: Tree, run_cli: RunCli) -> None:
    code, out = report(run_cli, "sarif")
    assert code == 1
    errors = sorted(sarif_validator().iter_errors(json.loads(out)), key=lambda e: list(e.absolute_path))
    assert [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors] == []


def test_the_schema_check_can_fail(tree: Tree, run_cli: RunCli) -> None:
    """The validation above is real: a broken document is rejected."""
    _, out = report(run_cli, "sarif")
    doc = json.loads(out)
    doc["runs"][0]["results"][0]["level"] = "catastrophic"
    del doc["version"]
    assert len(list(sarif_validator().iter_errors(doc))) >= 2


def test_sarif_contents(tree: Tree, run_cli: RunCli) -> None:
    _, out = report(run_cli, "sarif")
    doc = json.loads(out)
    assert doc["version"] == "2.1.0"
    [run] = doc["runs"]
    rules = run["tool"]["driver"]["rules"]
    assert [r["id"] for r in rules] == sorted(r["id"] for r in rules)
    for rule in rules:
        severity = rule["properties"]["security-severity"]
        assert isinstance(severity, str)
        assert 0.0 <= float(severity) <= 10.0
    by_id = {r["id"]: r for r in rules}
    assert by_id["test-pat"]["properties"]["security-severity"] == "9.5"
    assert by_id["test-installation-token"]["properties"]["security-severity"] == "8.0"
    assert "https://example.invalid/docs/tokens" in by_id["test-pat"]["help"]["markdown"]

    results = run["results"]
    assert len(results) == 4
    for result in results:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
        fingerprints = result["partialFingerprints"]
        assert re.fullmatch(r"[0-9a-f]{40}", fingerprints["leakstop/v1"])
        assert re.fullmatch(r"[0-9a-f]{40}", fingerprints["secretId/v1"])
        region = result["locations"][0]["physicalLocation"]["region"]
        assert REDACTED.match(result["properties"]["redacted"])
        assert (
            result["properties"]["redacted"] in region["snippet"]["text"]
            or "encoded secret" in region["snippet"]["text"]
        )
        assert "secret" not in result["properties"]
    by_path = {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]: r for r in results}
    pat = by_path["tree/app/.env"]
    assert pat["locations"][0]["physicalLocation"]["region"] == {
        "startLine": 2,
        "startColumn": 14,
        "endLine": 2,
        "endColumn": 54,
        "snippet": {"text": "GITHUB_TOKEN=ghp_…(40)"},
    }
    assert pat["level"] == "error" and "suppressions" not in pat
    assert by_path["tree/ci/refresh.ini"]["level"] == "warning"
    assert by_path["tree/tests/fixtures/sample.env"]["suppressions"] == [
        {"kind": "external", "justification": "allowlist:paths"}
    ]
    assert by_path["tree/k8s/secret.yaml"]["properties"]["decoded"] == ["base64"]
    notifications = run["invocations"][0]["toolExecutionNotifications"]
    assert [n["message"]["text"] for n in notifications] == [
        "incomplete: 1 not read (1 too-large) (policy incomplete: warn)",
        "tree/logs/big.log: too-large: 2500 bytes is over the 2048-byte cap (--max-file-size)",
    ]


def test_sarif_fingerprints_are_stable_across_runs(tree: Tree, run_cli: RunCli) -> None:
    _, first = report(run_cli, "sarif")
    _, second = report(run_cli, "sarif")
    prints = [[r["partialFingerprints"] for r in json.loads(doc)["runs"][0]["results"]] for doc in (first, second)]
    assert prints[0] == prints[1]
    assert len({p["leakstop/v1"] for p in prints[0]}) == 4


def test_sarif_for_a_clean_tree_validates(tmp_path: Path, run_cli: RunCli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "config.yaml").write_text(yaml.safe_dump({"extend": "none", "rules": RULES[:1]}))
    (tmp_path / "a.txt").write_text("hello\n")
    code, out, _ = run_cli("scan", "a.txt", "--config", "config.yaml", "-f", "sarif")
    assert code == 0
    doc = json.loads(out)
    assert list(sarif_validator().iter_errors(doc)) == []
    assert doc["runs"][0]["results"] == [] and doc["runs"][0]["tool"]["driver"]["rules"] == []


# --- text ---


def test_text_without_colour(tree: Tree, run_cli: RunCli) -> None:
    code, out = report(run_cli, "text", "--color", "never")
    assert code == 1
    assert ANSI not in out
    assert "BLOCK  test-pat  Test personal access token  [critical]" in out
    assert "tree/app/.env:2:14" in out
    assert "GITHUB_TOKEN=ghp_…(40)" in out
    assert "secret ghp_…(40)" in out
    assert "decoded from base64" in out
    assert "not scanned: tree/logs/big.log: too-large" in out
    assert "BLOCKED: 2 findings block this scan" in out.splitlines()
    assert out.splitlines()[-1].startswith("  `leakstop baseline update`")  # the advice closes the report


def test_text_with_colour_is_still_redacted(tree: Tree, run_cli: RunCli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FORCE_COLOR", "1")  # see the xfail below: --color always alone does not force it
    monkeypatch.setenv("TERM", "xterm-256color")
    _, out = report(run_cli, "text", "--color", "always")
    assert ANSI in out
    assert "ghp_…(40)" in out
    assert not any(s in out for s in tree.secrets)


def test_color_always_forces_colour(tree: Tree, run_cli: RunCli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm-256color")
    _, out = report(run_cli, "text", "--color", "always")
    assert ANSI in out


def test_text_verbose_lists_binary_skips(tree: Tree, run_cli: RunCli) -> None:
    _, quiet = report(run_cli, "text", "--color", "never")
    _, verbose = report(run_cli, "text", "--color", "never", "--verbose")
    assert "tree/assets/logo.bin" not in quiet
    assert "not scanned: tree/assets/logo.bin: binary" in verbose


# --- golden files ---


GOLDEN_FILES = {
    "json": "report.json",
    "sarif": "report.sarif",
    "text": "report.txt",
    "gitlab": "gl-secret-detection-report.json",
    "codequality": "gl-code-quality-report.json",
}


def test_every_format_has_a_golden_file() -> None:
    from scanner.report import REPORTERS

    # The job summary's golden file is checked in test_report_markdown_sarif.py (it is never printed by `scan`).
    assert set(GOLDEN_FILES) | {"markdown"} == set(REPORTERS)


@pytest.mark.parametrize(("fmt", "name"), GOLDEN_FILES.items())
def test_golden(tree: Tree, run_cli: RunCli, fmt: str, name: str) -> None:
    extra = ("--color", "never") if fmt == "text" else ()
    _, out = report(run_cli, fmt, *extra)
    actual = normalise(out, tree.root)
    golden = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN") == "1":
        golden.parent.mkdir(exist_ok=True)
        golden.write_text(actual, encoding="utf-8")
    assert golden.is_file(), f"{golden} is missing: run UPDATE_GOLDEN=1 pytest {__file__}"
    assert actual == golden.read_text(encoding="utf-8")


@pytest.mark.parametrize("name", GOLDEN_FILES.values())
def test_golden_files_hold_only_redacted_values(name: str, tmp_path: Path) -> None:
    text = (GOLDEN / name).read_text(encoding="utf-8")
    tree = Tree(tmp_path, seed=1234)  # the same tokens the golden files were made from
    for value in [*tree.secrets, tree.encoded]:
        assert value not in text
        assert value[4:20] not in text  # no long piece of one either
    assert "ghp_…(40)" in text
    assert str(tmp_path) not in text and "/tmp/" not in text
    if name in REDACTED_VALUES:
        values = REDACTED_VALUES[name](json.loads(text))
        assert len(values) == (3 if name.startswith("gl-") else 4)  # GitLab's reports leave allowed findings out
        assert all(REDACTED.match(v) for v in values)


REDACTED_VALUES: dict[str, Callable[[Any], list[str]]] = {
    "report.json": lambda doc: [f["secret_redacted"] for f in doc["findings"]],
    "report.sarif": lambda doc: [r["properties"]["redacted"] for r in doc["runs"][0]["results"]],
    "gl-secret-detection-report.json": lambda doc: [v["details"]["secret"]["value"] for v in doc["vulnerabilities"]],
    "gl-code-quality-report.json": lambda doc: [
        i["description"].split(": ")[1].split(" ")[0] for i in doc if i["check_name"] != "leakstop-incomplete"
    ],
}
