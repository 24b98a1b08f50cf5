"""SARIF 2.1.0 for GitHub code scanning and other viewers (integrations.md 2.3).

Snippets are redacted like every other output. ``partialFingerprints`` carries our own stable ids, because
upload-sarif cannot compute ``primaryLocationLineHash`` for files that are not in the checkout (history,
image layers, state files) and would otherwise open duplicate alerts.
"""

from __future__ import annotations

import json
import os
from typing import Any, TextIO
from urllib.parse import quote

import scanner
from scanner.location import location_uri
from scanner.models import Finding, GitOrigin, RuleInfo, ScanResult
from scanner.report.common import TOOL_URL, ReportOptions, bypass_fields, describe, justification, origin_fields

SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"
SECURITY_SEVERITY = {"critical": "9.5", "high": "8.0", "medium": "5.5", "low": "3.0", "info": "0.0"}
LEVEL = {"critical": "error", "high": "error", "medium": "warning", "low": "note", "info": "note"}
PRECISION = {"high": "very-high", "medium": "high", "low": "medium"}


def _rule_descriptor(rule: RuleInfo) -> dict[str, Any]:
    help_md = f"**{rule.name}**\n\n{rule.description}\n\nRevoke or rotate the credential, then remove it from the code."
    if rule.references:
        help_md += "\n\n" + "\n".join(f"- <{ref}>" for ref in rule.references)
    return {
        "id": rule.id,
        "name": "".join(part.capitalize() for part in rule.id.split("-")),
        "shortDescription": {"text": rule.name[:1024]},
        "fullDescription": {"text": rule.description[:1024]},
        "help": {"text": rule.description[:1024], "markdown": help_md},
        "defaultConfiguration": {"level": LEVEL[rule.severity]},
        "properties": {
            "tags": ["security", "secret", *rule.tags][:20],
            "precision": PRECISION[rule.confidence],
            "security-severity": SECURITY_SEVERITY[rule.severity],
            "problem.severity": "error" if rule.severity in ("critical", "high") else "warning",
        },
    }


def _uri(path: str) -> str:
    if os.path.isabs(path):
        return "file://" + quote(path)
    return quote(path, safe="/!:@")


def _result(finding: Finding, rule_index: int, show_secrets: bool, scan: ScanResult) -> dict[str, Any]:
    """With a baseline file compared against (``scan.baseline``), every result gets a ``baselineState``."""
    m = finding.match
    region: dict[str, Any] = {
        "startLine": m.line,
        "startColumn": m.column,
        "endLine": m.end_line,
        "endColumn": m.end_column,
        "snippet": {"text": m.snippet},
    }
    fingerprints = {"leakstop/v1": finding.finding_id, "secretId/v1": finding.secret_id}
    if isinstance(finding.origin, GitOrigin):
        fingerprints["commitSha"] = finding.origin.commit
    properties: dict[str, Any] = {
        "verdict": finding.verdict,
        "severity": finding.rule.severity,
        "confidence": finding.rule.confidence,
        "redacted": m.secret.redacted(),
        **origin_fields(finding.origin),
    }
    if finding.reason:
        properties["reason"] = finding.reason
    if m.decoded:
        properties["decoded"] = list(m.decoded)
    if finding.bypass is not None:
        properties["bypass"] = bypass_fields(finding.bypass)
    if finding.audit:
        properties["audit"] = finding.audit
    if show_secrets:
        properties["secret"] = m.secret.reveal()
    result: dict[str, Any] = {
        "ruleId": finding.rule.id,
        "ruleIndex": rule_index,
        "level": LEVEL[finding.rule.severity] if finding.verdict != "warn" else "warning",
        "message": {"text": f"{describe(finding)}. Revoke or rotate it, then remove it."},
        "locations": [
            {"physicalLocation": {"artifactLocation": {"uri": _uri(location_uri(finding.origin))}, "region": region}}
        ],
        "partialFingerprints": fingerprints,
        "properties": properties,
    }
    if finding.verdict == "allow":
        # An inline comment is a suppression in the source; the baseline, allowlists, bypasses and policy live
        # outside it.
        kind = "inSource" if finding.reason == "inline" else "external"
        result["suppressions"] = [{"kind": kind, "justification": justification(finding, scan)}]
    if scan.baseline:
        result["baselineState"] = "unchanged" if finding.reason == "baseline" else "new"
    return result


def sarif_dict(result: ScanResult, options: ReportOptions) -> dict[str, Any]:
    rule_ids = sorted({f.rule.id for f in result.findings})
    index = {rule_id: i for i, rule_id in enumerate(rule_ids)}
    rules = [_rule_descriptor(result.rule_infos[rule_id]) for rule_id in rule_ids]
    notifications = [
        {"level": "warning", "message": {"text": f"{issue.path}: {issue.reason}: {issue.message}"}}
        for issue in result.issues
        if issue.reason not in ("binary",)
    ][:1000]
    return {
        "$schema": SCHEMA_URI,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "leakstop",
                        "semanticVersion": scanner.__version__,
                        "informationUri": TOOL_URL,
                        "rules": rules,
                    }
                },
                "automationDetails": {"id": f"leakstop/{result.target}/"},
                "invocations": [{"executionSuccessful": True, "toolExecutionNotifications": notifications}],
                "results": [_result(f, index[f.rule.id], options.show_secrets, result) for f in result.findings],
            }
        ],
    }


def write_sarif(result: ScanResult, out: TextIO, options: ReportOptions) -> None:
    json.dump(sarif_dict(result, options), out, indent=2, ensure_ascii=False)
    out.write("\n")
