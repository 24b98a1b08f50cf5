"""SARIF 2.1.0 for GitHub code scanning and other viewers (integrations.md 2.3).

Snippets are redacted like every other output. ``partialFingerprints`` carries our own stable ids, because
upload-sarif cannot compute ``primaryLocationLineHash`` for files that are not in the checkout (history,
image layers, state files) and would otherwise open duplicate alerts: ours is the keyed finding id (rule, secret,
path: no line, no author) and the occurrence of that id, in GitHub's ``<hash>:<n>`` shape.

A run stays within what GitHub accepts per upload (``SarifLimits``): at most 25,000 results and 10 MB gzipped.
Past either limit the least severe results are left out, and the run's invocation says so in a notification.
"""

from __future__ import annotations

import gzip
import json
import os
from collections import Counter
from dataclasses import dataclass
from typing import Any, TextIO
from urllib.parse import quote

import scanner
from scanner import completeness
from scanner.location import location_uri
from scanner.models import SEVERITY_RANK, Finding, GitOrigin, RuleInfo, ScanResult
from scanner.report.common import (
    TOOL_URL,
    ReportOptions,
    bypass_fields,
    describe,
    justification,
    origin_fields,
    validation_fields,
)

SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"
SECURITY_SEVERITY = {"critical": "9.5", "high": "8.0", "medium": "5.5", "low": "3.0", "info": "0.0"}
LEVEL = {"critical": "error", "high": "error", "medium": "warning", "low": "note", "info": "note"}
PRECISION = {"high": "very-high", "medium": "high", "low": "medium"}
VERDICT_RANK = {"block": 0, "warn": 1, "allow": 2}
MAX_NOTIFICATIONS = 1000

# An org scan's change since the last run (``Finding.change``) as SARIF's ``baselineState``.
BASELINE_STATE = {"new": "new", "still-present": "unchanged", "gone": "absent"}


@dataclass(frozen=True)
class SarifLimits:
    """GitHub's limits for one upload (integrations.md 2.3)."""

    results: int = 25_000
    gzip_bytes: int = 10_000_000


def _rule_descriptor(rule: RuleInfo) -> dict[str, Any]:
    help_md = f"**{rule.name}**\n\n{rule.description}\n\nRevoke or rotate the credential, then remove it from the code."
    if rule.references:
        help_md += "\n\n" + "\n".join(f"- <{ref}>" for ref in rule.references)
    return {
        "id": rule.id,
        "name": "".join(part.capitalize() for part in rule.id.split("-")),
        "shortDescription": {"text": rule.name[:1024]},
        # GitHub refuses an empty text: a custom rule may have no description.
        "fullDescription": {"text": (rule.description or rule.name)[:1024]},
        "help": {"text": (rule.description or rule.name)[:1024], "markdown": help_md},
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


def _result(finding: Finding, rule_index: int, occurrence: int, show_secrets: bool, scan: ScanResult) -> dict[str, Any]:
    """With a baseline file compared against (``scan.baseline``), every result gets a ``baselineState``."""
    m = finding.match
    region: dict[str, Any] = {
        "startLine": m.line,
        "startColumn": m.column,
        "endLine": m.end_line,
        "endColumn": m.end_column,
        "snippet": {"text": m.snippet},
    }
    fingerprints = {
        "primaryLocationLineHash": f"{finding.finding_id[:16]}:{occurrence}",
        "leakstop/v1": finding.finding_id,
        "secretId/v1": finding.secret_id,
    }
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
    if finding.validation is not None:
        properties["validation"] = validation_fields(finding.validation)
    live = finding.validation is not None and finding.validation.state == "live"
    if show_secrets:
        properties["secret"] = m.secret.reveal()
    result: dict[str, Any] = {
        "ruleId": finding.rule.id,
        "ruleIndex": rule_index,
        "level": "error" if live else LEVEL[finding.rule.severity] if finding.verdict != "warn" else "warning",
        "message": {"text": f"{describe(finding)}. Revoke or rotate it, then remove it."},
        "locations": [
            {"physicalLocation": {"artifactLocation": {"uri": _uri(location_uri(finding.origin))}, "region": region}}
        ],
        "partialFingerprints": fingerprints,
        "properties": properties,
    }
    if finding.change:  # an org scan: SARIF's own word for the finding against the last run
        result["baselineState"] = BASELINE_STATE[finding.change]
    if finding.verdict == "allow":
        # An inline comment is a suppression in the source; the baseline, allowlists, bypasses and policy live
        # outside it.
        kind = "inSource" if finding.reason == "inline" else "external"
        result["suppressions"] = [{"kind": kind, "justification": justification(finding, scan)}]
    if scan.baseline:
        result["baselineState"] = "unchanged" if finding.reason == "baseline" else "new"
    return result


def sarif_dict(result: ScanResult, options: ReportOptions, limits: SarifLimits | None = None) -> dict[str, Any]:
    limits = limits or SarifLimits()
    findings = result.findings
    notes = []
    if len(findings) > limits.results:
        notes.append(_left_out(len(findings) - limits.results, f"a run holds at most {limits.results} results"))
        findings = _most_severe(findings, limits.results)
    doc = _document(result, findings, options, notes)
    dropped = 0
    while findings and _gzipped_size(doc) > limits.gzip_bytes:
        keep = len(findings) * 9 // 10  # the least severe tenth out, until it fits
        dropped += len(findings) - keep
        findings = _most_severe(findings, keep)
        why = f"the gzipped SARIF file would exceed {limits.gzip_bytes} bytes"
        doc = _document(result, findings, options, [*notes, _left_out(dropped, why)])
    return doc


def _gzipped_size(doc: dict[str, Any]) -> int:
    return len(gzip.compress(json.dumps(doc, indent=2, ensure_ascii=False).encode("utf-8"), 6))


def _most_severe(findings: list[Finding], keep: int) -> list[Finding]:
    """The ``keep`` findings that matter most (blocking first, then by severity), in their reported order."""
    ranked = sorted(
        range(len(findings)),
        key=lambda i: (VERDICT_RANK[findings[i].verdict], -SEVERITY_RANK[findings[i].rule.severity], i),
    )
    kept = sorted(ranked[:keep])
    return [findings[i] for i in kept]


def _left_out(count: int, why: str) -> dict[str, Any]:
    text = f"{count} results left out, the least severe first: {why} (the JSON report lists every finding)"
    return {"level": "warning", "message": {"text": text}}


def _document(
    result: ScanResult, findings: list[Finding], options: ReportOptions, notes: list[dict[str, Any]]
) -> dict[str, Any]:
    rule_ids = sorted({f.rule.id for f in findings})
    index = {rule_id: i for i, rule_id in enumerate(rule_ids)}
    rules = [_rule_descriptor(result.rule_infos[rule_id]) for rule_id in rule_ids]
    issues = [i for i in result.issues if i.reason not in ("binary",)]
    notifications = [
        *notes,
        *_incomplete_notes(result),  # before the issues: never among the notifications cut for room
        *({"level": "warning", "message": {"text": f"{i.path}: {i.reason}: {i.message}"}} for i in issues),
    ]
    if len(notifications) > MAX_NOTIFICATIONS:
        more = len(notifications) - MAX_NOTIFICATIONS + 1
        notifications = notifications[: MAX_NOTIFICATIONS - 1]
        notifications.append({"level": "note", "message": {"text": f"{more} more issues: the JSON report lists them"}})
    occurrences: Counter[str] = Counter()
    results = []
    for finding in findings:
        occurrences[finding.finding_id] += 1
        occurrence = occurrences[finding.finding_id]
        results.append(_result(finding, index[finding.rule.id], occurrence, options.show_secrets, result))
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
                "invocations": [
                    {
                        "executionSuccessful": True,
                        "toolExecutionNotifications": notifications,
                        "properties": {
                            "complete": completeness.is_complete(result),
                            "incompletePolicy": result.incomplete_policy,
                            "notRead": completeness.reasons(result),
                        },
                    }
                ],
                "results": results,
            }
        ],
    }


def _incomplete_notes(result: ScanResult) -> list[dict[str, Any]]:
    """The run did not read everything: said whatever ``policy.incomplete`` is (an error when it blocks)."""
    if completeness.is_complete(result):
        return []
    level = "error" if completeness.fails(result) else "warning"
    text = f"{completeness.describe(result)} (policy incomplete: {result.incomplete_policy})"
    return [{"level": level, "descriptor": {"id": "leakstop-incomplete"}, "message": {"text": text}}]


def write_sarif(result: ScanResult, out: TextIO, options: ReportOptions) -> None:
    json.dump(sarif_dict(result, options), out, indent=2, ensure_ascii=False)
    out.write("\n")
