"""GitLab's secret-detection report (``artifacts:reports:secret_detection``), schema 15.0.7 (integrations.md 3.2).

Decisions, documented in README.md ("Reports"):

* Only findings that block or warn are vulnerabilities. Allowed ones (baseline, allowlists, inline comments,
  exceptions, bypasses) were decided on already; GitLab would open them as new vulnerabilities, so they are left
  out and counted in an ``info`` message instead.
* The secret is never written, not even with ``--show-secrets``: the report is stored as a job artifact and shown
  to everyone who can read the project's vulnerabilities. ``raw_source_code_extract`` is the redacted snippet.
* ``id`` is the finding id (a keyed fingerprint, stable across runs) written as a version 8 UUID, so its first 12
  hex digits are the id the text report shows; a repeat of the same id in one report gets a derived one.
* ``location.commit`` names the commit that introduced the secret in git modes (sha, author, date; the message
  is not read), and ``"0000000"`` otherwise, as GitLab's own analyzer writes when it does not scan history.
  Image and state findings keep the location string every report shows as ``file``.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any, TextIO

import scanner
from scanner import completeness
from scanner.location import location_uri
from scanner.models import Finding, GitOrigin, ScanResult
from scanner.report.common import (
    TOOL_URL,
    ReportOptions,
    allow_reasons,
    describe_bypass,
    describe_validation,
    keyed_findings,
    origin_fields,
)

SCHEMA_VERSION = "15.0.7"
SCHEMA_URI = (
    "https://gitlab.com/gitlab-org/security-products/security-report-schemas/-/raw/"
    f"v{SCHEMA_VERSION}/dist/secret-detection-report-format.json"
)
NO_COMMIT = "0000000"
SEVERITY = {"critical": "Critical", "high": "High", "medium": "Medium", "low": "Low", "info": "Info"}
MAX_MESSAGES = 1000
_IN_LOCATION = ("commit", "author", "email", "date")
_TOOL = {
    "id": "leakstop",
    "name": "leakstop",
    "version": scanner.__version__,
    "vendor": {"name": "leakstop"},
    "url": TOOL_URL,
}
_SOLUTION = {
    "git": "Rewrite the commit that added the secret (git commit --amend for the last commit, git rebase -i for an "
    "older one), then revoke and rotate the credential: history that was pushed must be treated as leaked.",
    "image": "Rebuild the image without the secret (a file deleted in a later layer is still in the image; pass "
    "build secrets with RUN --mount=type=secret, not ARG or ENV), then revoke and rotate the credential.",
    "tfstate": "Terraform state keeps values in plaintext: restrict and encrypt the state backend, and revoke and "
    "rotate the credential if the state was ever readable by others.",
}
_SOLUTION_FILES = (
    "Remove the secret from the file (read it from the environment or a secret store instead), then revoke and "
    "rotate the credential if it was ever committed or shared."
)


def as_uuid(key: str) -> str:
    """A 40-hex-digit fingerprint as a version 8 (custom) UUID: its first 12 digits are kept as they are."""
    value = int(key[:32], 16)
    value = (value & ~(0xF << 76)) | (0x8 << 76)  # version 8
    value = (value & ~(0x3 << 62)) | (0x2 << 62)  # RFC 9562 variant
    text = f"{value:032x}"
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


def _timestamp(moment: datetime) -> str:
    """GitLab's form: UTC, ``YYYY-MM-DDTHH:MM:SS``, no zone, no fraction."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")


def _location(finding: Finding) -> dict[str, Any]:
    origin, m = finding.origin, finding.match
    commit: dict[str, Any] = {"sha": NO_COMMIT}
    if isinstance(origin, GitOrigin) and origin.commit:
        commit = {"sha": origin.commit}
        if origin.author or origin.email:
            commit["author"] = f"{origin.author} <{origin.email}>" if origin.email else origin.author
        if origin.date:
            commit["date"] = origin.date
    return {"file": location_uri(origin), "start_line": m.line, "end_line": m.end_line, "commit": commit}


def _details(finding: Finding) -> dict[str, Any]:
    """A named list of text fields: the verdict, the redacted secret, the ids and the provenance beyond the path."""
    verdict = f"{finding.verdict} ({finding.reason})" if finding.reason else finding.verdict
    fields: dict[str, tuple[str, Any]] = {
        "verdict": ("Policy verdict", verdict),
        "secret": ("Secret (redacted)", finding.match.secret.redacted()),
        "finding_id": ("Finding id", finding.finding_id),
        "secret_id": ("Secret id", finding.secret_id),
    }
    if finding.match.decoded:
        fields["decoded"] = ("Decoded from", "+".join(finding.match.decoded))
    if finding.validation is not None:
        fields["validation"] = ("Live validation", describe_validation(finding.validation))
    if finding.change:
        fields["change"] = ("Since the last org scan", finding.change)
    for key, value in origin_fields(finding.origin).items():
        # The commit is in ``location``; ``where`` says more than "blob" only for a message.
        if key not in _IN_LOCATION and value not in ("", None, -1, "blob"):
            fields[key] = (key.replace("_", " ").capitalize(), str(value))
    return {key: {"name": name, "type": "text", "value": str(value)} for key, (name, value) in fields.items()}


def _vulnerability(finding: Finding, key: str) -> dict[str, Any]:
    rule, m = finding.rule, finding.match
    identifier = {"type": "leakstop_rule_id", "name": f"leakstop rule {rule.id}", "value": rule.id}
    url = next((ref for ref in rule.references if ref.startswith(("https://", "http://"))), "")
    if url:
        identifier["url"] = url
    description = f"{rule.description}\n\nSecret: `{m.secret.redacted()}` (policy verdict: **{finding.verdict}**)."
    if finding.validation is not None:
        description += f" Live validation: **{finding.validation.state}**."
    target = "git" if isinstance(finding.origin, GitOrigin) else finding.origin.kind
    return {
        "id": as_uuid(key),
        "name": rule.name[:255],
        "description": description,
        "severity": SEVERITY[rule.severity],
        "solution": _SOLUTION.get(target, _SOLUTION_FILES),
        "identifiers": [identifier],
        "location": _location(finding),
        "raw_source_code_extract": m.snippet,
        "details": _details(finding),
    }


def _messages(result: ScanResult) -> list[dict[str, str]]:
    """What GitLab shows about the scan itself: its extent, what was allowed, bypasses, and what was not scanned."""
    stats = result.stats
    detail = f" [{result.target_detail}]" if result.target_detail else ""
    summary = f"scanned {stats.items_scanned} items{detail}, {stats.bytes_scanned} bytes"
    skipped = [f"{n} {reason}" for reason, n in sorted(stats.skipped.items()) if n]
    if skipped:
        summary += "; skipped: " + ", ".join(skipped)
    messages = [{"level": "info", "value": summary}]
    if completeness.said(result):
        unread = f"{completeness.describe(result)} (policy incomplete: {result.incomplete_policy})"
        messages.append({"level": "fatal" if completeness.fails(result) else "warn", "value": unread})
    reasons = allow_reasons(result)
    if reasons:
        messages.append({"level": "info", "value": f"allowed findings, not listed: {reasons}"})
    for bypass in result.bypasses:
        messages.append({"level": "warn" if bypass.refused else "info", "value": describe_bypass(bypass)})
    issues = [i for i in result.issues if i.reason != "binary"]
    room = MAX_MESSAGES - len(messages) - 1
    for issue in issues[:room]:
        messages.append({"level": "warn", "value": f"not scanned: {issue.path}: {issue.reason}: {issue.message}"})
    if len(issues) > room:
        messages.append({"level": "warn", "value": f"… and {len(issues) - room} more not scanned"})
    return messages


def gitlab_dict(result: ScanResult) -> dict[str, Any]:
    started = result.started or datetime.now(timezone.utc) - timedelta(seconds=result.stats.duration_s)
    return {
        "version": SCHEMA_VERSION,
        "schema": SCHEMA_URI,
        "scan": {
            "analyzer": _TOOL,
            "scanner": _TOOL,
            "type": "secret_detection",
            "start_time": _timestamp(started),
            "end_time": _timestamp(started + timedelta(seconds=result.stats.duration_s)),
            "status": "success",
            "messages": _messages(result),
        },
        "vulnerabilities": [_vulnerability(f, key) for f, key in keyed_findings(result)],
    }


def write_gitlab(result: ScanResult, out: TextIO, options: ReportOptions) -> None:
    """``options.show_secrets`` is ignored on purpose (see the module's docstring)."""
    json.dump(gitlab_dict(result), out, indent=2, ensure_ascii=False)
    out.write("\n")
