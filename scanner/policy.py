"""The gate's decision for one finding: ``decide(finding, policy, facts) -> (verdict, reason)``. Pure, no I/O.

Order (the first that applies wins): a global allowlist (``allowlist:paths`` / ``allowlist:secret``), an inline
allow comment the policy honours (``inline``), an exception that has not expired (``exception:<id>``), the
baseline (``baseline``), the first matching override (``override:<index>``), then the thresholds: block, warn,
else allow (``below-threshold``). An expired exception no longer applies; a finding it covered that still blocks
or warns says so in its reason (``exception-expired:<id>``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from scanner.detect.engine import INLINE_MARKERS
from scanner.models import CONFIDENCE_RANK, SEVERITY_RANK, Confidence, Finding, Origin, RuleInfo, Severity, Verdict
from scanner.sources.ignore import IgnoreRules

TARGETS = ("files", "git", "image", "tfstate")


@dataclass(frozen=True)
class Threshold:
    """Met by a rule whose severity and confidence are both at least these."""

    severity: Severity = "info"
    confidence: Confidence = "low"

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
    _path_rules: IgnoreRules = field(default_factory=IgnoreRules, compare=False, repr=False)
    # A scan decides many findings per path; the answer for a path never changes.
    _path_cache: dict[str, bool] = field(default_factory=dict, compare=False, repr=False)

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
    ) -> Override:
        path_rules = IgnoreRules()
        path_rules.add_lines(list(paths), source=source)
        return cls(action, index, frozenset(rules), frozenset(tags), tuple(paths), frozenset(targets), path_rules)

    def applies(self, rule: RuleInfo, path: str, target: str) -> bool:
        if self.rules and rule.id not in self.rules:
            return False
        if self.tags and self.tags.isdisjoint(rule.tags):
            return False
        if self.targets and target not in self.targets:
            return False
        if not self.paths:
            return True
        known = self._path_cache.get(path)
        if known is None:
            known = self._path_cache[path] = self._path_rules.ignored(path, False)
        return known


@dataclass(frozen=True)
class PolicyException:
    """An accepted finding (its finding id) or credential (its secret id), with who accepted it, why and until when.

    ``id`` may be a prefix of at least 12 characters, as the text report shows ids.
    """

    id: str
    owner: str
    reason: str
    expires: date  # the last day it applies

    def covers(self, finding: Finding) -> bool:
        return finding.finding_id.startswith(self.id) or finding.secret_id.startswith(self.id)


@dataclass(frozen=True)
class InlineAllow:
    enabled: bool = True
    markers: tuple[str, ...] = INLINE_MARKERS


@dataclass(frozen=True)
class Policy:
    # The defaults keep the behaviour without a policy: everything blocks but informational rules, which warn.
    block: Threshold = Threshold("low", "low")
    warn: Threshold = Threshold("info", "low")
    overrides: tuple[Override, ...] = ()
    inline_allow: InlineAllow = InlineAllow()
    exceptions: tuple[PolicyException, ...] = ()
    baseline: str = ""  # as written in the config: relative to the config's directory


@dataclass(frozen=True, slots=True)
class Facts:
    """What the scan knows about a finding beyond the finding itself."""

    path: str = ""  # relative to the config's directory, '/'-separated
    allowlist: str = ""  # which global allowlist matched: "paths" or "secret"
    baselined: bool = False
    today: date | None = None  # for exception expiry; None: no exception has expired


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
    return verdict, reason


def _by_policy(finding: Finding, policy: Policy, facts: Facts) -> tuple[Verdict, str]:
    if facts.baselined:
        return "allow", "baseline"
    rule = finding.rule
    target = target_of(finding.origin)
    for override in policy.overrides:
        if override.applies(rule, facts.path, target):
            return override.action, f"override:{override.index}"
    if policy.block.met(rule):
        return "block", ""
    if policy.warn.met(rule):
        return "warn", ""
    return "allow", "below-threshold"
