"""Matches → findings: fingerprints, allowlists, baseline, bypass and the policy's verdict, per occurrence; an
image layer's build step (``ImageOrigin.created_by``) with the secrets found in the image config redacted.

One ``Collector`` per scan, in the main process. Detection happened before (``pipeline.detection``); what is
decided here depends on where a match sits (path, commit, branch), so it runs once per occurrence.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from scanner.detect.engine import path_reason
from scanner.fingerprint import finding_id, secret_id
from scanner.models import Bypass, Finding, ImageOrigin, Match, Origin, RuleInfo, ScanResult, Secret, Validation
from scanner.policy.gate import Facts, decide
from scanner.redact import redact
from scanner.ruleset import Ruleset
from scanner.ruleset.model import RuleSpec

if TYPE_CHECKING:
    from scanner.pipeline.request import ScanRequest

MAX_CREATED_BY = 300  # characters of a layer's build step kept in its findings


@dataclass(frozen=True)
class Hooks:
    """What the collector asks of the rest of the pipeline: the source's full provenance and bypass request for
    an origin with findings, and whether a text looks like a secret (a bypass reason that does is withheld)."""

    resolve: Callable[[Origin], Origin]
    requested_bypass: Callable[[Origin], Bypass | None]
    looks_secret: Callable[[str], bool]


class Collector:
    def __init__(self, ruleset: Ruleset, request: ScanRequest, path_base: str, hooks: Hooks, result: ScanResult):
        self.ruleset = ruleset
        self.request = request
        self.config = request.config
        self.path_base = path_base
        self.hooks = hooks
        self.result = result
        result.ruleset_hash = ruleset.hash
        result.branch = request.context.branch
        self._run_bypasses = tuple(self._judge(b) for b in request.context.bypasses)
        self._bypass_by_commit: dict[str, Bypass | None] = {}
        self._recorded: set[Bypass] = set()
        self._config_secrets: dict[Secret, None] = {}  # found in an image config, in the order found
        # A validating run decides again once the provider answered (``revise``): the facts are kept for that.
        self._facts: dict[str, Facts] | None = {} if request.validation is not None else None

    def _judge(self, request: Bypass) -> Bypass:
        """The request with the policy's verdict; a reason that itself holds a secret a rule finds is withheld (and
        the request refused), any other credential-shaped span in it masked ("pw was hunter2, rotated")."""
        if request.reason and self.hooks.looks_secret(request.reason):
            request = dataclasses.replace(request, reason="(withheld: it looks like a secret)")
            return dataclasses.replace(request, refused="the reason looks like a secret")
        if request.reason:
            request = dataclasses.replace(request, reason=redact(request.reason))
        refused = self.config.policy.bypass.refusal(request, self.request.context.now)
        return dataclasses.replace(request, refused=refused) if refused else request

    def bypass_for(self, origin: Origin) -> Bypass | None:
        """The first applicable request (commit trailer, push option, environment), else the first refused one."""
        requests = self._run_bypasses
        commit = getattr(origin, "commit", "")
        if commit:
            if commit not in self._bypass_by_commit:
                found = self.hooks.requested_bypass(origin)
                self._bypass_by_commit[commit] = self._judge(found) if found is not None else None
            own = self._bypass_by_commit[commit]
            if own is not None:
                requests = (own, *requests)
        if not requests:
            return None
        return next((b for b in requests if not b.refused), requests[0])

    def add(self, origin: Origin, matches: Iterable[Match]) -> list[Finding]:
        """The findings of ``matches`` at ``origin`` (an origin the source may still ``resolve``)."""
        added: list[Finding] = []
        place: _Place | None = None
        for match in matches:
            rule = self.ruleset.by_id[match.rule_id]
            if path_reason(rule, origin.path) is not None:
                continue
            if place is None:
                place = self._place(origin)
            added.append(self._finding(place, self._info(rule.spec), match))
        self.result.findings.extend(added)
        if isinstance(origin, ImageOrigin) and origin.path == "config" and not origin.layer_digest:
            self._config_secrets.update(dict.fromkeys(f.match.secret for f in added))
        return added

    def _info(self, spec: RuleSpec) -> RuleInfo:
        info = self.result.rule_infos.get(spec.id)
        if info is None:
            info = self.result.rule_infos[spec.id] = spec.info()
        return info

    def _place(self, origin: Origin) -> _Place:
        resolved = self.hooks.resolve(origin)
        if isinstance(resolved, ImageOrigin) and resolved.created_by:
            resolved = dataclasses.replace(resolved, created_by=self._redacted(resolved.created_by))
        path = resolved.path
        baseline = self.request.baseline
        return _Place(
            origin=resolved,
            commit=getattr(resolved, "commit", ""),
            rel_path=self.config.relative_path(path, self.path_base),
            baseline_path=baseline.relative(path, self.path_base) if baseline is not None else "",
            bypass=self.bypass_for(resolved),
        )

    def _redacted(self, created_by: str) -> str:
        """A layer's build step goes into every finding of the layer: the secrets found in the image config (build
        arguments show in both) must not, and it is cut to 300 characters."""
        for secret in self._config_secrets:
            created_by = created_by.replace(secret.reveal(), secret.redacted())
        return created_by if len(created_by) <= MAX_CREATED_BY else created_by[: MAX_CREATED_BY - 1] + "…"

    def _finding(self, place: _Place, info: RuleInfo, match: Match) -> Finding:
        request, result = self.request, self.result
        context, policy, baseline = request.context, self.config.policy, request.baseline
        secret = match.secret.reveal()
        path, commit, rule_id = place.origin.path, place.commit, info.id
        allowlists = self.config.allowlists
        allowlist = allowlists.check(rule_id, secret, place.rel_path, commit, match.allow_hits) if allowlists else ""
        baselined = baseline is not None and baseline.contains(rule_id, secret, place.baseline_path, match, commit)
        label = baseline.label(rule_id, secret, place.baseline_path) if baseline is not None and baselined else ""
        key = context.fingerprint_key
        finding = Finding(
            rule=info,
            match=match,
            origin=place.origin,
            finding_id=finding_id(key, rule_id, secret, path, commit),
            secret_id=secret_id(key, rule_id, secret),
        )
        bypass = place.bypass
        facts = Facts(place.rel_path, allowlist, baselined, context.today, context.branch, bypass)
        verdict, reason = decide(finding, policy, facts)
        if self._facts is not None:
            self._facts[finding.finding_id] = facts
        # A bypass shows on the findings it allowed, and a refused one on the findings it failed to allow.
        used = bypass if bypass is not None and (reason == "bypass" or verdict != "allow") else None
        if (verdict, reason) != (finding.verdict, finding.reason) or used is not None or label:
            finding = dataclasses.replace(finding, verdict=verdict, reason=reason, bypass=used, audit=label)
        if reason.startswith("exception:") and reason[10:] not in result.exceptions:
            result.exceptions.update((e.id, e) for e in policy.exceptions if e.id == reason[10:])
        if used is not None and used not in self._recorded:
            self._recorded.add(used)
            result.bypasses.append(used)
        return finding

    def revise(self, finding: Finding, validation: Validation) -> Finding:
        """``finding`` with what its provider said, and the verdict the policy gives it now (``validation: live``
        may block, an override may match ``validation: invalid``)."""
        finding = dataclasses.replace(finding, validation=validation)
        facts = self._facts.get(finding.finding_id) if self._facts is not None else None
        if facts is None:
            return finding
        verdict, reason = decide(finding, self.config.policy, facts)
        return dataclasses.replace(finding, verdict=verdict, reason=reason)


@dataclass(frozen=True, slots=True)
class _Place:
    """What every finding at one origin shares: worked out once per origin, not per match."""

    origin: Origin
    commit: str
    rel_path: str
    baseline_path: str
    bypass: Bypass | None
