"""A change to the policy file inside a scanned range, reported as a finding of its own (issue #18 item 6).

A range (``--range``, ``--since``, ``leakstop ci``) is scanned under the policy of its base commit, never the one
it brings: a pull request that adds ``allowlist: {paths: ["**"]}`` cannot pass its own scan. That the range changes
the policy is itself worth a reviewer's eye: rule ``leakstop-policy-change``, with the verdict the trusted policy
gives it (``policy.policy_change``, warn by default). The edge works out the change (it reads git); this module
turns it into the finding every reporter shows.
"""

from __future__ import annotations

from dataclasses import dataclass

from scanner.fingerprint import finding_id, secret_id
from scanner.models import Finding, GitOrigin, Match, RuleInfo, Secret, Verdict

RULE_ID = "leakstop-policy-change"
RULE = RuleInfo(
    id=RULE_ID,
    name="Policy file changed in the scanned range",
    description="The range changes leakstop's config; it was scanned under its base commit's policy instead.",
    severity="medium",
    confidence="high",
    provider="leakstop",
    tags=("policy",),
)


@dataclass(frozen=True)
class PolicyChange:
    """``path`` (the config, relative to the repository root) is changed in the range: ``head`` is the newest
    commit that changes it, ``base`` the trusted commit the scan's policy came from, ``blob`` the file's id at the
    range's tip ("" when the range removes it)."""

    path: str
    base: str
    head: str
    blob: str


def policy_change_finding(change: PolicyChange, verdict: Verdict, key: bytes) -> Finding:
    what = "removes" if not change.blob else "changes"
    snippet = (
        f"commit {change.head[:12]} {what} {change.path}: the range was scanned under the policy of"
        f" {change.base[:12]}, not its own"
    )
    token = change.blob or "0" * 40  # not a secret: the file's blob id names the change
    match = Match(RULE_ID, Secret(token), 0, 0, 1, 1, 1, 1, snippet, 0.0)
    origin = GitOrigin(change.path, change.head)
    return Finding(
        rule=RULE,
        match=match,
        origin=origin,
        finding_id=finding_id(key, RULE_ID, token, change.path, change.head),
        secret_id=secret_id(key, RULE_ID, token),
        verdict=verdict,
        reason="policy" if verdict == "allow" else "",
    )
