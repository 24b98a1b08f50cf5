"""JSON report, format version 1 (documented in docs/json-report.md; schema in scanner/report/report.schema.json)."""

from __future__ import annotations

import json
from typing import Any, TextIO

import scanner
from scanner import completeness
from scanner.location import location_uri
from scanner.models import Finding, ScanResult
from scanner.report.common import ReportOptions, bypass_fields, ordered_bypasses, origin_fields, validation_fields

FORMAT_VERSION = 1


def finding_dict(finding: Finding, show_secrets: bool) -> dict[str, Any]:
    m = finding.match
    data: dict[str, Any] = {
        "id": finding.finding_id,
        "secret_id": finding.secret_id,
        "rule": {
            "id": finding.rule.id,
            "name": finding.rule.name,
            "severity": finding.rule.severity,
            "confidence": finding.rule.confidence,
            "provider": finding.rule.provider,
            "tags": list(finding.rule.tags),
        },
        "location": {
            "kind": finding.origin.kind,
            "path": location_uri(finding.origin),
            "line": m.line,
            "column": m.column,
            "end_line": m.end_line,
            "end_column": m.end_column,
            **origin_fields(finding.origin),
        },
        "secret_redacted": m.secret.redacted(),
        "snippet": m.snippet,
        "entropy": m.entropy,
        "decoded": list(m.decoded),
        "verdict": finding.verdict,
        "reason": finding.reason,
    }
    if finding.bypass is not None:
        data["bypass"] = bypass_fields(finding.bypass)
    if finding.audit:
        data["audit"] = finding.audit
    if finding.validation is not None:
        data["validation"] = validation_fields(finding.validation)
    if finding.change:
        data["change"] = finding.change
    if show_secrets:
        data["secret"] = m.secret.reveal()
    return data


def result_dict(result: ScanResult, options: ReportOptions) -> dict[str, Any]:
    verdicts = {"block": 0, "warn": 0, "allow": 0}
    for f in result.findings:
        verdicts[f.verdict] += 1
    context: dict[str, Any] = {}
    if result.branch:
        context["branch"] = result.branch
    if result.bypasses:
        context["bypasses"] = [bypass_fields(b) for b in ordered_bypasses(result)]
    return {
        "version": FORMAT_VERSION,
        "tool": {"name": "leakstop", "version": scanner.__version__},
        "target": result.target,
        "target_detail": result.target_detail,
        "ruleset": result.ruleset_hash[:16],
        **context,
        "summary": {
            "findings": len(result.findings),
            **verdicts,
            "blocked": result.blocked,
            "items_scanned": result.stats.items_scanned,
            "bytes_scanned": result.stats.bytes_scanned,
            "skipped": dict(sorted(result.stats.skipped.items())),
            "duration_s": round(result.stats.duration_s, 3),
            # Whatever ``policy.incomplete`` says (pass too): whether everything was read, and what was not.
            "complete": completeness.is_complete(result),
            "incomplete_policy": result.incomplete_policy,
            "not_read": completeness.reasons(result),
            **_changes(result),
        },
        "findings": [finding_dict(f, options.show_secrets) for f in result.findings],
        "issues": [{"path": i.path, "reason": i.reason, "message": i.message} for i in result.issues],
    }


def _changes(result: ScanResult) -> dict[str, Any]:
    """An org scan's counts against its store (nothing for other scans)."""
    if not any(f.change for f in result.findings):
        return {}
    counts = {"new": 0, "still-present": 0, "gone": 0}
    for f in result.findings:
        if f.change in counts:
            counts[f.change] += 1
    return {"changes": counts}


def write_json(result: ScanResult, out: TextIO, options: ReportOptions) -> None:
    json.dump(result_dict(result, options), out, indent=2, ensure_ascii=False)
    out.write("\n")
