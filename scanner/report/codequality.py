"""GitLab's Code Quality report (``artifacts:reports:codequality``, integrations.md 3.4): a JSON array, one issue
per finding that blocks or warns, shown in merge requests on every GitLab tier.

As in the secret-detection report, allowed findings are left out and the secret is never written (the
description holds its redacted form). The fingerprint is the finding id (unique in the report: a repeat gets a
derived key), so GitLab matches an issue across pipelines even when its line moves.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, TextIO

from scanner import completeness
from scanner.location import location_uri
from scanner.models import Finding, ScanResult
from scanner.report.common import ReportOptions, describe, keyed_findings

SEVERITY = {"critical": "blocker", "high": "critical", "medium": "major", "low": "minor", "info": "info"}


def _issue(finding: Finding, key: str) -> dict[str, Any]:
    return {
        "description": f"{describe(finding)} ({finding.verdict}). Revoke or rotate it, then remove it.",
        "check_name": finding.rule.id,
        "fingerprint": key,
        "severity": SEVERITY[finding.rule.severity],
        "location": {"path": location_uri(finding.origin), "lines": {"begin": finding.match.line}},
    }


def codequality_list(result: ScanResult) -> list[dict[str, Any]]:
    issues = [_issue(f, key) for f, key in keyed_findings(result)]
    if completeness.said(result):
        issues.append(_incomplete(result))
    return issues


def _incomplete(result: ScanResult) -> dict[str, Any]:
    """The scan did not read everything: one issue at the first input not read (GitLab needs a location)."""
    unread = completeness.not_read(result)
    path = unread[0].path if unread else result.target
    text = f"leakstop: the scan is {completeness.describe(result)} (policy incomplete: {result.incomplete_policy})"
    return {
        "description": text,
        "check_name": "leakstop-incomplete",
        "fingerprint": hashlib.sha256(f"leakstop-incomplete/{path}".encode()).hexdigest()[:32],
        "severity": "major" if completeness.fails(result) else "minor",
        "location": {"path": path, "lines": {"begin": 1}},
    }


def write_codequality(result: ScanResult, out: TextIO, options: ReportOptions) -> None:
    """``options.show_secrets`` is ignored: the report is a stored artifact."""
    json.dump(codequality_list(result), out, indent=2, ensure_ascii=False)
    out.write("\n")
