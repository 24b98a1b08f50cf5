"""What every reporter shares: its options, the provenance of a finding and its one-line description."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from scanner.models import (
    LABEL_WORDS,
    Bypass,
    Finding,
    GitOrigin,
    ImageOrigin,
    Origin,
    ScanResult,
    TfstateOrigin,
    Validation,
)

TOOL_URL = "https://github.com/leakstop/leakstop"


@dataclass(frozen=True)
class ReportOptions:
    """How a report is written: secrets shown or redacted, colour, detail."""

    show_secrets: bool = False
    color: bool = False
    verbose: bool = False


def origin_fields(origin: Origin) -> dict[str, Any]:
    """Provenance beyond the path, for JSON and SARIF properties."""
    if isinstance(origin, GitOrigin):
        fields = {
            "commit": origin.commit,
            "author": origin.author,
            "email": origin.email,
            "date": origin.date,
            "where": origin.where,
        }
        if origin.address or origin.attribute:  # a Terraform state file in the repository
            fields.update(resource=origin.address, attribute=origin.attribute)
        return fields
    if isinstance(origin, ImageOrigin):
        return {
            "image": origin.image,
            "layer_digest": origin.layer_digest,
            "layer_index": origin.layer_index,
            "created_by": origin.created_by,
            "path_in_layer": origin.path,
            "status": origin.status,
        }
    if isinstance(origin, TfstateOrigin):
        return {"resource": origin.address, "attribute": origin.attribute}
    if origin.address or origin.attribute:  # an infrastructure document (Pulumi, CloudFormation, Kubernetes, ...)
        return {"resource": origin.address, "attribute": origin.attribute}
    return {}


def describe(finding: Finding) -> str:
    encoded = f" ({'+'.join(finding.match.decoded)}-encoded)" if finding.match.decoded else ""
    return f"{finding.rule.name}{encoded}: {finding.match.secret.redacted()}"


def allow_reasons(result: ScanResult) -> str:
    """Why findings were allowed, counted: ``2 baseline, 1 inline`` ("" when none was)."""
    reasons = Counter(f.reason or "policy" for f in result.findings if f.verdict == "allow")
    return ", ".join(f"{n} {reason}" for reason, n in sorted(reasons.items()))


def keyed_findings(result: ScanResult) -> list[tuple[Finding, str]]:
    """The findings that block or warn (what GitLab's reports list), each with a key unique in the report: its
    finding id, or for a repeat of the same id (the same secret twice in one file) a key derived from the id and
    the repeat's number. Stable across runs."""
    import hashlib

    seen: Counter[str] = Counter()
    keyed = []
    for finding in result.findings:
        if finding.verdict == "allow":
            continue
        key = finding.finding_id
        seen[key] += 1
        if seen[key] > 1:
            key = hashlib.sha256(f"{key}/{seen[key]}".encode()).hexdigest()[: len(key)]
        keyed.append((finding, key))
    return keyed


def ordered_bypasses(result: ScanResult) -> list[Bypass]:
    """Oldest first: history workers hand findings back in no fixed order."""
    return sorted(result.bypasses, key=lambda b: (b.when, b.commit, b.channel))


def bypass_fields(bypass: Bypass) -> dict[str, Any]:
    return {
        "channel": bypass.channel,
        "reason": bypass.reason,
        "who": bypass.who,
        "when": bypass.when,
        "commit": bypass.commit,
        "applied": not bypass.refused,
        "refused": bypass.refused,
    }


def describe_bypass(bypass: Bypass) -> str:
    """One line: ``bypass via trailer by a@b (commit 0123456789ab): "reason"`` (+ ``refused: why``)."""
    text = f"bypass via {bypass.channel}"
    if bypass.who:
        text += f" by {bypass.who}"
    if bypass.commit:
        text += f" (commit {bypass.commit[:12]})"
    text += f": {bypass.reason!r}" if bypass.reason else ": no reason"
    return f"{text}; refused: {bypass.refused}" if bypass.refused else text


def justification(finding: Finding, result: ScanResult) -> str:
    """Why an allowed finding is allowed, in words (SARIF ``suppressions[].justification``)."""
    reason = finding.reason
    if reason == "bypass" and finding.bypass is not None:
        return finding.bypass.reason or f"bypass via {finding.bypass.channel} (no reason given)"
    if reason == "baseline":
        audit = LABEL_WORDS.get(finding.audit)
        return f"in baseline (audited: {audit})" if audit else "in baseline (not audited)"
    if reason.startswith("exception:"):
        exception = result.exceptions.get(reason[len("exception:") :])
        if exception is not None:
            return (
                f"exception {exception.id}: owner {exception.owner}, reason: {exception.reason},"
                f" expires {exception.expires.isoformat()}"
            )
    return _JUSTIFICATION.get(reason, reason)


_JUSTIFICATION = {
    "": "allowed by policy",
    "inline": "inline: an allow comment on the line",
    "below-threshold": "below-threshold: under the policy's warn threshold",
}


def validation_fields(validation: Validation) -> dict[str, str]:
    """A finding's ``validation`` in JSON and SARIF: state, reason, identity (masked), the validator."""
    fields = {"state": validation.state, "reason": validation.reason, "validator": validation.validator}
    if validation.identity:
        fields["identity"] = validation.identity
    return fields


def describe_validation(validation: Validation) -> str:
    """``live as octocat (api.github.com accepted it (HTTP 200))``."""
    who = f" as {validation.identity}" if validation.identity else ""
    return f"{validation.state}{who} ({validation.reason})" if validation.reason else f"{validation.state}{who}"
