"""GitLab's Code Quality report (``artifacts:reports:codequality``, integrations.md 3.4): a JSON array, one issue
per finding that blocks or warns, shown in merge requests on every GitLab tier.

As in the secret-detection report, allowed findings are left out and the secret is never written (the
description holds its redacted form). The fingerprint is the finding id (unique in the report: a repeat gets a
derived key), so GitLab matches an issue across pipelines even when its line moves.
"""

from __future__ import annotations

import json
from typing import Any, TextIO

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
    return [_issue(f, key) for f, key in keyed_findings(result)]


def write_codequality(result: ScanResult, out: TextIO, options: ReportOptions) -> None:
    """``options.show_secrets`` is ignored: the report is a stored artifact."""
    json.dump(codequality_list(result), out, indent=2, ensure_ascii=False)
    out.write("\n")
