"""The gate's decision for one finding: ``decide(finding, policy, facts) -> (verdict, reason)``. Pure, no I/O.

Order (the first that applies wins): a global allowlist (``allowlist:paths`` / ``allowlist:secret``), an inline
allow comment the policy honours (``inline``), an exception that has not expired (``exception:<id>``), the
baseline (``baseline``), the first matching override (``override:<index>``), then the thresholds: block, warn,
else allow (``below-threshold``). An expired exception no longer applies; a finding it covered that still blocks
or warns says so in its reason (``exception-expired:<id>``). Last, a finding that would block or warn is allowed
by a bypass the policy accepted (``bypass``); ``BypassPolicy.refusal`` says whether it does (issue #5).
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from scanner.models import (
    CONFIDENCE_RANK,
    INLINE_MARKERS,
    SEVERITY_RANK,
    Bypass,
    Confidence,
    Finding,
    IncompletePolicy,
    Origin,
    PolicyException,
    RuleInfo,
    Severity,
    Verdict,
)
from scanner.pathmatch import PathMatcher

TARGETS = ("files", "git", "image", "tfstate")
BYPASS_CHANNELS = ("trailer", "env", "push-option")


@dataclass(frozen=True)
class Threshold:
    """Met by a rule whose severity and confidence are both at least these."""

    severity: Severity = "info"
    confidence: Confidence = "low"
    # Validation states that meet it whatever the rule (``block: {validation: live}``): a live credential blocks.
    validation: tuple[str, ...] = ()

    def met(self, rule: RuleInfo) -> bool:
        return (
            SEVERITY_RANK[rule.severity] >= SEVERITY_RANK[self.severity]
            and CONFIDENCE_RANK[rule.confidence] >= CONFIDENCE_RANK[self.confidence]
        )


@dataclass(frozen=True)
class Override:
    """Applies when every criterion given matches (any of its values); paths are gitignore-style."""

    action: Verdict
    index: int = 0
    rules: frozenset[str] = frozenset()
    tags: frozenset[str] = frozenset()
    paths: tuple[str, ...] = ()
    targets: frozenset[str] = frozenset()
    branches: tuple[str, ...] = ()  # shell-style globs (``*`` matches ``/`` too); none match an unknown branch
    validation: frozenset[str] = frozenset()  # validation states (any of); never matches a finding not validated
    _paths: PathMatcher = field(default_factory=PathMatcher, compare=False, repr=False)

    @classmethod
    def build(
        cls,
        action: Verdict,
        index: int = 0,
        rules: tuple[str, ...] = (),
        tags: tuple[str, ...] = (),
        paths: tuple[str, ...] = (),
        targets: tuple[str, ...] = (),
        source: str = "",
        branches: tuple[str, ...] = (),
        validation: tuple[str, ...] = (),
    ) -> Override:
        return cls(
            action,
            index,
            frozenset(rules),
            frozenset(tags),
            tuple(paths),
            frozenset(targets),
            branches,
            frozenset(validation),
            PathMatcher(paths, source=source),
        )

    def applies(self, rule: RuleInfo, path: str, target: str, branch: str = "", validation: str = "") -> bool:
        if self.validation and validation not in self.validation:
            return False
        if self.rules and rule.id not in self.rules:
            return False
        if self.tags and self.tags.isdisjoint(rule.tags):
            return False
        if self.targets and target not in self.targets:
            return False
        if self.branches and not (branch and any(fnmatch.fnmatchcase(branch, g) for g in self.branches)):
            return False
        return not self.paths or self._paths.matches(path)


@dataclass(frozen=True)
class InlineAllow:
    """Whether an inline marker comment allows a finding on its line, and which markers count."""

    enabled: bool = True
    markers: tuple[str, ...] = INLINE_MARKERS


@dataclass(frozen=True)
class BypassPolicy:
    """Whether, how and by whom findings may be let through without a baseline or exception entry.

    Off by default. A trailer counts only on a commit younger than ``max_age`` (by its committer date): a bypass is
    for getting a change through now, not a permanent pass for history scans (GitHub asks for the push within 3
    hours, integrations.md 4.7). An env or push-option bypass lasts one run by nature.
    """

    enabled: bool = False
    channels: tuple[str, ...] = BYPASS_CHANNELS
    reason_required: bool = True
    max_age: timedelta = timedelta(hours=72)
    who: tuple[str, ...] = ()  # globs over the requester (email for trailers); empty: anyone

    def refusal(self, request: Bypass, now: datetime) -> str:
        """Why ``request`` does not apply, or "" when it does."""
        if not self.enabled:
            return "bypass is not enabled by the policy"
        if request.channel not in self.channels:
            return f"the policy does not allow bypass through {request.channel}"
        if self.reason_required and not request.reason.strip():
            return "no reason given"
        if self.who and not (request.who and any(fnmatch.fnmatchcase(request.who, g) for g in self.who)):
            return f"{request.who or 'an unknown user'} may not bypass"
        if request.channel == "trailer" and request.when:
            try:
                when = datetime.fromisoformat(request.when)
            except ValueError:
                return f"commit {request.commit[:12]} has no readable date"
            if now - when > self.max_age:
                return f"commit {request.commit[:12]} is older than {format_age(self.max_age)}"
        return ""


def format_age(age: timedelta) -> str:
    hours = int(age.total_seconds() // 3600)
    return f"{hours // 24}d" if hours % 24 == 0 and hours else f"{hours}h"


def parse_age(text: str) -> timedelta:
    """``72h`` or ``7d`` (the config schema checks the form)."""
    amount, unit = int(text[:-1]), text[-1]
    return timedelta(days=amount) if unit == "d" else timedelta(hours=amount)


@dataclass(frozen=True)
class Policy:
    """What blocks and what warns: thresholds, overrides and exceptions, inline markers, bypass, and the verdicts
    on a policy change and on an incomplete scan."""

    # The defaults keep the behaviour without a policy: everything blocks but informational rules, which warn.
    block: Threshold = Threshold("low", "low")
    warn: Threshold = Threshold("info", "low")
    overrides: tuple[Override, ...] = ()
    inline_allow: InlineAllow = InlineAllow()
    exceptions: tuple[PolicyException, ...] = ()
    baseline: str = ""  # as written in the config: relative to the config's directory
    bypass: BypassPolicy = BypassPolicy()
    audit_log: str = ""  # as written in the config: relative to its directory; "" = no audit log for scan and ci
    # The verdict of a change to the policy file itself in a scanned range (rule ``leakstop-policy-change``).
    policy_change: Verdict = "warn"
    # A scan that did not read everything (``scanner.completeness``): said (warn), failed (block) or JSON/SARIF only.
    incomplete: IncompletePolicy = "warn"


@dataclass(frozen=True, slots=True)
class Facts:
    """What the scan knows about a finding beyond the finding itself."""

    path: str = ""  # relative to the config's directory, '/'-separated
    allowlist: str = ""  # which global allowlist matched: "paths" or "secret"
    baselined: bool = False
    today: date | None = None  # for exception expiry; None: no exception has expired
    branch: str = ""  # the scanned branch, "" when unknown
    bypass: Bypass | None = None  # a bypass requested for this finding, already judged (``refused``)


def target_of(origin: Origin) -> str:
    return "files" if origin.kind == "file" else origin.kind


def decide(finding: Finding, policy: Policy, facts: Facts) -> tuple[Verdict, str]:
    if facts.allowlist:
        return "allow", f"allowlist:{facts.allowlist}"
    inline = policy.inline_allow
    if inline.enabled and any(m in inline.markers for m in finding.match.inline_markers):
        return "allow", "inline"
    expired: PolicyException | None = None
    for exception in policy.exceptions:
        if exception.covers(finding):
            if facts.today is None or exception.expires >= facts.today:
                return "allow", f"exception:{exception.id}"
            expired = expired or exception
    verdict, reason = _by_policy(finding, policy, facts)
    if expired is not None and verdict != "allow":
        reason = f"exception-expired:{expired.id}"
    if verdict != "allow" and facts.bypass is not None and not facts.bypass.refused:
        return "allow", "bypass"
    return verdict, reason


def _by_policy(finding: Finding, policy: Policy, facts: Facts) -> tuple[Verdict, str]:
    if facts.baselined:
        return "allow", "baseline"
    rule = finding.rule
    target = target_of(finding.origin)
    state = finding.validation.state if finding.validation is not None else ""
    for override in policy.overrides:
        if override.applies(rule, facts.path, target, facts.branch, state):
            return override.action, f"override:{override.index}"
    if state and state in policy.block.validation:
        return "block", f"validation:{state}"
    if policy.block.met(rule):
        return "block", ""
    if policy.warn.met(rule):
        return "warn", ""
    if state and state in policy.warn.validation:  # below both thresholds, but the provider's answer warns
        return "warn", f"validation:{state}"
    return "allow", "below-threshold"
