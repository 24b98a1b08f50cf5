"""The audit records a scan's decisions call for: bypasses applied or refused (any channel: commit trailer,
``LEAKSTOP_BYPASS``, push option) and policy exceptions that applied or have expired (their findings block again).
Finding fingerprints and rule ids only. ``leakstop scan`` and ``leakstop ci`` append them to the policy's
``audit_log``; the pre-receive hook writes its own bypass and rejection records and takes the exception records
from here.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from scanner.models import Bypass, Finding, PolicyException, ScanResult
from scanner.respond.audit_log import AuditFinding, AuditRecord

EXCEPTION_ACTIONS = ("exception", "exception-expired")


def _findings(findings: Iterable[Finding]) -> tuple[AuditFinding, ...]:
    return tuple(AuditFinding(f.rule.id, f.finding_id) for f in findings)


def _commits(findings: Iterable[Finding]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(c for f in findings if (c := getattr(f.origin, "commit", ""))))


def bypass_reason(bypass: Bypass, actor: str) -> str:
    """``<reason> (through <channel>[, asked by <who>])``, as the hook has always written it."""
    by = f", asked by {bypass.who}" if bypass.who and bypass.who != actor else ""
    return f"{bypass.reason} (through {bypass.channel}{by})"


def bypass_records(result: ScanResult, actor: str, repository: str) -> list[AuditRecord]:
    """One record a bypass request: ``bypass`` with the findings it let through, ``bypass-refused`` with the ones
    it failed to (and why, in ``detail``)."""
    records = []
    for bypass in dict.fromkeys(f.bypass for f in result.findings if f.bypass is not None):
        findings = [f for f in result.findings if f.bypass == bypass]
        records.append(
            AuditRecord(
                action="bypass-refused" if bypass.refused else "bypass",
                actor=actor,
                repository=repository,
                reason=bypass_reason(bypass, actor),
                commits=_commits(findings),
                findings=_findings(findings),
                detail=bypass.refused,
            )
        )
    return records


def exception_records(
    result: ScanResult, exceptions: Sequence[PolicyException], actor: str, repository: str
) -> list[AuditRecord]:
    """One record an exception that applied (``exception``, with its expiry) or that has expired while its
    findings still block or warn (``exception-expired``); subject: the exception's id."""
    records = []
    for exception in exceptions:
        for action in EXCEPTION_ACTIONS:
            findings = [f for f in result.findings if f.reason == f"{action}:{exception.id}"]
            if not findings:
                continue
            verb = "expired" if action == "exception-expired" else "expires"
            records.append(
                AuditRecord(
                    action=action,
                    actor=actor,
                    repository=repository,
                    reason=exception.reason,
                    commits=_commits(findings),
                    findings=_findings(findings),
                    subject=exception.id,
                    detail=f"owner {exception.owner}; {verb} {exception.expires.isoformat()}",
                )
            )
    return records
