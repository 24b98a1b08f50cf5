"""``policy.incomplete`` (issue #18 item 4): a scan that did not read everything says so in the summary line and
every report; ``warn`` (default) keeps the exit code, ``block`` exits 1, ``pass`` is silent but in JSON and SARIF.

Through the CLI on real trees (a file over the size cap is the input not read), and each reporter on results
that carry every kind of issue, validated against the published schemas.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from helpers import MakeConfig, RunCli
from tokens import TokenFactory

import scanner
from scanner import completeness
from scanner.cli.ci import FAIL_ON
from scanner.models import ScanIssue, ScanResult
from scanner.report import REPORTERS, ReportOptions
from scanner.report.gitlab import SCHEMA_VERSION
from tests.test_reports import sarif_validator

TESTS = Path(__file__).parent
JSON_SCHEMA = json.loads((Path(scanner.__file__).parent / "report" / "report.schema.json").read_text("utf-8"))
GITLAB_SCHEMA = json.loads(
    (TESTS / "data" / "gitlab" / SCHEMA_VERSION / "secret-detection-report-format.json").read_text("utf-8")
)


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """One readable file, one binary file (a choice, not unread) and one over the 1000-byte cap."""
    root = tmp_path / "tree"
    root.mkdir()
    (root / "ok.txt").write_text("nothing here\n")
    (root / "logo.bin").write_bytes(b"\x89PNG\0\0\0\x0d" + bytes(range(256)))
    (root / "big.log").write_text("#" * 5000 + "\n")
    return root


def scan(run_cli: RunCli, config: Path, root: Path, *argv: str) -> tuple[int, str, str]:
    return run_cli("scan", "-c", config, "--max-file-size", "1000", *argv, root)


def test_warn_by_default_says_it_and_keeps_the_exit_code(tree: Path, make_config: MakeConfig, run_cli: RunCli) -> None:
    code, out, _ = scan(run_cli, make_config(), tree)
    assert code == 0
    summary, verdict = out.splitlines()[-2:]
    assert summary.endswith("· incomplete: 1 not read (1 too-large)")
    assert verdict == "PASSED, but incomplete: 1 not read (1 too-large) (policy incomplete: warn)"
    assert "not scanned: big.log: too-large" in out.replace(str(tree) + "/", "")


def test_block_fails_the_scan(tree: Path, make_config: MakeConfig, run_cli: RunCli) -> None:
    code, out, _ = scan(run_cli, make_config(policy={"incomplete": "block"}), tree)
    assert code == 1
    assert (
        out.splitlines()[-1] == "BLOCKED: the scan is incomplete: 1 not read (1 too-large) (policy incomplete: block)"
    )


def test_pass_is_silent_but_in_json_and_sarif(tree: Path, make_config: MakeConfig, run_cli: RunCli) -> None:
    config = make_config(policy={"incomplete": "pass"})
    code, out, _ = scan(run_cli, config, tree)
    assert code == 0 and "incomplete" not in out and out.splitlines()[-1] == "PASSED"
    _, out, _ = scan(run_cli, config, tree, "-f", "json")
    summary = json.loads(out)["summary"]
    assert (summary["complete"], summary["incomplete_policy"], summary["not_read"]) == (False, "pass", {"too-large": 1})
    _, out, _ = scan(run_cli, config, tree, "-f", "sarif")
    invocation = json.loads(out)["runs"][0]["invocations"][0]
    assert invocation["properties"] == {"complete": False, "incompletePolicy": "pass", "notRead": {"too-large": 1}}
    assert invocation["toolExecutionNotifications"][0]["descriptor"] == {"id": "leakstop-incomplete"}


def test_binary_files_do_not_make_a_scan_incomplete(
    tree: Path, make_config: MakeConfig, run_cli: RunCli, tokens: TokenFactory
) -> None:
    (tree / "big.log").unlink()
    (tree / "ok.txt").write_text(f"GITHUB_TOKEN={tokens.github_clean()}\n")
    code, out, _ = scan(run_cli, make_config(policy={"incomplete": "block"}), tree, "-f", "json")
    summary = json.loads(out)["summary"]
    assert code == 1 and summary["block"] == 1  # the finding blocks; nothing was left unread
    assert (summary["complete"], summary["not_read"], summary["skipped"]) == (True, {}, {"binary": 1})


def test_the_line_on_stderr_says_it_when_the_report_goes_to_a_file(
    tree: Path, tmp_path: Path, make_config: MakeConfig, run_cli: RunCli
) -> None:
    code, _, err = scan(run_cli, make_config(), tree, "-f", "json", "-o", str(tmp_path / "r.json"))
    assert code == 0 and "; incomplete: 1 not read (1 too-large); report written to" in err


def test_a_bad_setting_is_a_config_error(tree: Path, make_config: MakeConfig, run_cli: RunCli) -> None:
    config = make_config(policy={"incomplete": "maybe"})
    code, _, err = scan(run_cli, config, tree)
    assert code == 2 and str(config) in err and "incomplete" in err and len(err.strip().splitlines()) == 1


# --- every report, on results built here ---

ISSUES = [
    ScanIssue("app/big.bin", "too-large", "over the cap"),
    ScanIssue("img!sha256:ab!etc", "limit", "layer stopped at the member cap"),
    ScanIssue("logo.png", "binary", "binary file"),
]


def render(fmt: str, result: ScanResult) -> str:
    out = io.StringIO()
    REPORTERS[fmt](result, out, ReportOptions())
    return out.getvalue()


@pytest.mark.parametrize("policy", ["pass", "warn", "block"])
def test_every_report_says_it(policy: Any) -> None:
    result = ScanResult(target="files", issues=list(ISSUES), incomplete_policy=policy)
    said = policy != "pass"
    phrase = "incomplete: 2 not read (1 limit, 1 too-large)"
    assert (phrase in render("text", result).splitlines()[-2]) is said
    assert ("**Incomplete\\: 2 not read \\(1 limit\\, 1 too\\-large\\)**" in render("markdown", result)) is said
    doc = json.loads(render("json", result))
    assert not list(jsonschema.Draft202012Validator(JSON_SCHEMA).iter_errors(doc))
    assert doc["summary"]["not_read"] == {"limit": 1, "too-large": 1}
    sarif = json.loads(render("sarif", result))
    sarif_validator().validate(sarif)
    first = sarif["runs"][0]["invocations"][0]["toolExecutionNotifications"][0]
    assert first["message"]["text"] == f"{phrase} (policy incomplete: {policy})"
    assert first["level"] == ("error" if policy == "block" else "warning")
    gitlab = json.loads(render("gitlab", result))
    jsonschema.Draft7Validator(GITLAB_SCHEMA).validate(gitlab)
    levels = {m["level"] for m in gitlab["scan"]["messages"] if m["value"].startswith(phrase)}
    assert levels == ({"fatal"} if policy == "block" else {"warn"} if said else set())
    quality = json.loads(render("codequality", result))
    assert [(i["check_name"], i["location"]["path"]) for i in quality] == (
        [("leakstop-incomplete", "app/big.bin")] if said else []
    )


def test_a_deadline_without_an_issue_counts_once() -> None:
    result = ScanResult(target="git", incomplete="the deadline passed: 3 blobs found but not scanned")
    assert not completeness.is_complete(result)
    assert completeness.describe(result) == "incomplete: 1 not read (1 deadline)"
    quality = json.loads(render("codequality", result))
    assert quality[0]["location"]["path"] == "git"
    assert completeness.describe(ScanResult(target="git", issues=[ISSUES[2]])) == ""


@pytest.mark.parametrize(
    ("policy", "fail_on", "fails"),
    [
        ("warn", "block", False),
        ("block", "block", True),
        ("warn", "warn", True),
        ("pass", "warn", False),
        ("block", "never", False),
    ],
)
def test_leakstop_ci_fails_on_it_as_documented(policy: Any, fail_on: str, fails: bool) -> None:
    result = ScanResult(target="git", issues=[ISSUES[0]], incomplete_policy=policy)
    assert FAIL_ON[fail_on](result) is fails
    assert FAIL_ON[fail_on](ScanResult(target="git", incomplete_policy=policy)) is False
