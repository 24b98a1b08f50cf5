"""Task results and the store's deltas → one ``ScanResult`` for the existing reporters, repository-prefixed.

Each finding says how it changed since the last run (``Finding.change``: new, still present, gone), which every
format shows; a gone one no longer blocks. The findings that reach a reporter hold no secret: their ``Secret`` is
the redacted text the task sent back (``Redacted``), so even ``--show-secrets`` cannot print more than the
redacted form.
"""

from __future__ import annotations

import datetime
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from scanner.models import (
    Finding,
    GitOrigin,
    Match,
    RuleInfo,
    ScanIssue,
    ScanResult,
    Secret,
    Validation,
    ValidationState,
    Verdict,
)


class Redacted(Secret):
    """A secret known only by its redacted form: both ways of showing it give that form."""

    __slots__ = ()

    def reveal(self) -> str:
        return self._value

    def redacted(self) -> str:
        return self._value


@dataclass
class OrgRun:
    """What the run found, repository by repository, as the reports need it."""

    rows: list[dict[str, Any]] = field(default_factory=list)  # each finding with "repo" and "status"
    repos: list[dict[str, Any]] = field(default_factory=list)  # per repository: name, mode, error, counts, seconds
    counts: Counter[str] = field(default_factory=Counter)

    def add(
        self,
        result: dict[str, Any],
        new: list[dict[str, Any]],
        present: list[dict[str, Any]],
        gone: list[dict[str, Any]],
    ) -> None:
        repo = result["repo"]
        for status, findings in (("new", new), ("present", present), ("gone", gone)):
            for finding in findings:
                self.rows.append({**finding, "repo": repo, "status": status})
            self.counts[status] += len(findings)
        self.counts["failed" if result.get("error") else "scanned"] += 1
        self.counts["commits"] += len(result.get("commits", ()))
        self.counts["items"] += int(result.get("items", 0))
        self.counts["bytes"] += int(result.get("bytes", 0))
        self.counts["known_clean"] += int(result.get("known_clean", 0))  # blobs not read again (the store's marks)
        self.counts["seconds_ms"] += int(float(result.get("seconds", 0.0)) * 1000)
        self.repos.append(
            {
                "name": repo,
                "mode": "failed" if result.get("error") else result.get("mode", ""),
                "error": result.get("error", ""),
                "commits": len(result.get("commits", ())),
                "new": len(new),
                "present": len(present),
                "gone": len(gone),
                "seconds": round(float(result.get("seconds", 0.0)), 3),
                "worker_pid": int(result.get("pid", 0)),
                "max_rss_kb": int(result.get("max_rss_kb", 0)),
            }
        )

    def summary(self) -> str:
        c = self.counts
        return (
            f"org scan: {c['scanned'] + c['failed']} repositories ({c['failed']} failed), findings: {c['new']} new,"
            f" {c['present']} still present, {c['gone']} gone"
        )


# The store's statuses as ``Finding.change``.
CHANGE = {"new": "new", "present": "still-present", "gone": "gone"}


def merged_result(run: OrgRun, target: str, issues: list[ScanIssue]) -> ScanResult:
    """Every finding (new, still present, and gone as allowed), each path prefixed with its repository."""
    result = ScanResult(target=target, kind="history", started=datetime.datetime.now(datetime.timezone.utc))
    result.issues.extend(issues)
    counts = run.counts
    result.stats.items_scanned, result.stats.bytes_scanned = counts["items"], counts["bytes"]
    result.stats.duration_s = counts["seconds_ms"] / 1000
    result.target_detail = f"{len(run.repos)} repositories, {counts['commits']} commits scanned"
    for row in run.rows:
        finding = to_finding(row)
        result.findings.append(finding)
        result.rule_infos.setdefault(finding.rule.id, finding.rule)
    return result


def to_finding(row: dict[str, Any]) -> Finding:
    rule = RuleInfo(
        id=row["rule"],
        name=row.get("rule_name", row["rule"]),
        description=row.get("description", ""),
        severity=row.get("severity", "medium"),
        confidence=row.get("confidence", "medium"),
        provider=row.get("provider", ""),
    )
    match = Match(
        rule_id=row["rule"],
        secret=Redacted(row.get("redacted", "")),
        start=0,
        end=0,
        line=int(row.get("line", 0)),
        column=int(row.get("column", 0)),
        end_line=int(row.get("end_line", 0)),
        end_column=int(row.get("end_column", 0)),
        snippet=row.get("snippet", ""),
        entropy=0.0,
        decoded=tuple(row.get("decoded", ())),
    )
    origin = GitOrigin(
        path=f"{row['repo']}/{row['path']}",
        commit=row.get("commit", ""),
        author=row.get("author", ""),
        email=row.get("email", ""),
        date=row.get("date", ""),
        where=row.get("where", "blob"),
    )
    change = CHANGE.get(str(row.get("status", "")), "")
    # A gone finding is in no ref any more: nothing to block, but every report still names it (as allowed, "gone").
    verdict: Verdict = "allow" if change == "gone" else row.get("verdict", "block")
    reason = "gone" if change == "gone" else str(row.get("reason", ""))
    return Finding(
        rule,
        match,
        origin,
        row["finding_id"],
        row["secret_id"],
        verdict,
        reason,
        validation=_validation(row),
        change=change,
    )


def _validation(row: dict[str, Any]) -> Validation | None:
    state: ValidationState
    for state in ("live", "invalid", "unknown"):
        if row.get("validation") == state:
            identity = str(row.get("validation_identity", ""))
            return Validation(state, str(row.get("validation_reason", "")), identity, str(row.get("validator", "")))
    return None
