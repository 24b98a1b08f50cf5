"""Run a scan: source → detector → findings, collected into a ``ScanResult``.

Each blob is detected once (cached by its content id); the path-dependent filters run per occurrence.
"""

from __future__ import annotations

import dataclasses
import datetime
import difflib
import hashlib
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from scanner.detect.engine import Detector, path_reason
from scanner.errors import ConfigError
from scanner.fingerprint import default_key, finding_id, secret_id
from scanner.models import Bypass, Chunk, FileOrigin, Finding, Match, Origin, ScanResult
from scanner.policy.config import Config
from scanner.policy.gate import Facts, decide
from scanner.ruleset import Ruleset, load_ruleset
from scanner.ruleset.model import RuleSpec
from scanner.sources.files import is_state_path

if TYPE_CHECKING:
    from scanner.policy.baseline import Matcher


@dataclass(frozen=True)
class ScanSettings:
    config: Config = field(default_factory=Config)
    fingerprint_key: bytes = field(default_factory=default_key)
    path_base: str = field(default_factory=os.getcwd)  # what relative finding paths are relative to
    baseline: Matcher | None = None
    today: datetime.date = field(default_factory=datetime.date.today)  # when exceptions expire
    now: datetime.datetime = field(default_factory=lambda: datetime.datetime.now(datetime.timezone.utc))
    branch: str = ""  # what branch overrides match ("" = unknown: none matches)
    bypasses: tuple[Bypass, ...] = ()  # requests holding for the whole run (``context.run_bypasses``)
    # A commit's trailer request, for git modes (``context.trailer_bypass``); called once per commit with findings.
    commit_bypass: Callable[[str], Bypass | None] | None = None


def _check_rule_id(config: Config, known: list[str], rule_id: str, where: str) -> None:
    if rule_id not in known:
        close = difflib.get_close_matches(rule_id, known, n=3)
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        raise ConfigError(f"{config.source}: {where}: unknown rule id {rule_id!r}{hint}")


def build_ruleset(config: Config) -> Ruleset:
    ruleset = load_ruleset(paths=None if config.extend_default else [], extra=config.rules)
    known = list(ruleset.by_id)
    if config.rule_overrides:
        ruleset = _overridden(ruleset, config, known)
    for override in config.policy.overrides:
        for rule_id in sorted(override.rules):
            _check_rule_id(config, known, rule_id, f"policy/overrides/{override.index}/rules")
    for allowlist in config.allowlists.items:
        if allowlist.where.startswith("allowlist"):  # a custom rule's own allowlists name that rule
            for rule_id in sorted(allowlist.rules):
                _check_rule_id(config, known, rule_id, f"{allowlist.where}/rules")
    if not config.disabled_rules:
        return ruleset
    for rule_id in config.disabled_rules:
        _check_rule_id(config, known, rule_id, "disabled_rules")
    disabled = set(config.disabled_rules)
    kept = tuple(r for r in ruleset.rules if r.id not in disabled)
    digest = hashlib.sha256("\0".join([ruleset.hash, *sorted(disabled)]).encode()).hexdigest()
    return Ruleset(rules=kept, hash=digest)  # stable across runs: it keys the Hyperscan cache


def _overridden(ruleset: Ruleset, config: Config, known: list[str]) -> Ruleset:
    """The ruleset with ``rule_overrides`` applied: each replaces the fields it gives on the rule of its id."""
    rules = list(ruleset.rules)
    position = {rule.id: i for i, rule in enumerate(rules)}
    for index, override in enumerate(config.rule_overrides):
        _check_rule_id(config, known, override["id"], f"rule_overrides/{index}/id")
        spec = rules[position[override["id"]]].spec
        base = spec.to_dict()
        if "regex" in override:
            base["secret_group"] = None  # the old regex's group says nothing about the new one
        if ("regex" in override or "keywords" in override) and "examples" not in override:
            # The examples were written for the old regex; they also decide the rule's keyword windows.
            base["examples"], base["negative_examples"] = [], []
        merged = RuleSpec.from_dict(base | override, f"{config.source}: rule_overrides/{index}", spec.provider)
        rules[position[spec.id]] = merged.compile()
    digest = hashlib.sha256((ruleset.hash + repr(config.rule_overrides)).encode()).hexdigest()
    return Ruleset(rules=tuple(rules), hash=digest)


def build_detector(ruleset: Ruleset, config: Config) -> Detector:
    depth = config.max_decode_depth
    probes = config.allowlists.content_probes(list(ruleset.by_id)) if config.allowlists else None
    return Detector(ruleset, max_decode_depth=2 if depth is None else depth, allow_probes=probes)


class Scan:
    """Collects findings from chunks. One per scan; not shared between processes."""

    def __init__(self, ruleset: Ruleset, detector: Detector, settings: ScanSettings, result: ScanResult) -> None:
        self.ruleset = ruleset
        self.detector = detector
        self.settings = settings
        self.result = result
        self._cache: dict[str, list[Match]] = {}
        result.ruleset_hash = ruleset.hash
        result.branch = settings.branch
        self._run_bypasses = tuple(self._judge(b) for b in settings.bypasses)
        self._bypass_by_commit: dict[str, Bypass | None] = {}
        self._recorded: set[Bypass] = set()

    def _judge(self, request: Bypass) -> Bypass:
        """The request with the policy's verdict; a reason that itself holds a secret is withheld."""
        if request.reason and self.detector.detect(request.reason.encode()):
            request = dataclasses.replace(request, reason="(withheld: it looks like a secret)")
            return dataclasses.replace(request, refused="the reason looks like a secret")
        refused = self.settings.config.policy.bypass.refusal(request, self.settings.now)
        return dataclasses.replace(request, refused=refused) if refused else request

    def bypass_for(self, commit: str) -> Bypass | None:
        """The first applicable request (commit trailer, push option, environment), else the first refused one."""
        requests = self._run_bypasses
        lookup = self.settings.commit_bypass
        if commit and lookup is not None:
            if commit not in self._bypass_by_commit:
                found = lookup(commit)
                self._bypass_by_commit[commit] = self._judge(found) if found is not None else None
            own = self._bypass_by_commit[commit]
            if own is not None:
                requests = (own, *requests)
        if not requests:
            return None
        return next((b for b in requests if not b.refused), requests[0])

    def matches_for(self, chunk: Chunk) -> list[Match]:
        if chunk.content_id:
            cached = self._cache.get(chunk.content_id)
            if cached is not None:
                return cached
        matches = self.detector.detect(chunk.content)
        if chunk.content_id:
            self._cache[chunk.content_id] = matches
        return matches

    def add(self, chunk: Chunk, only_lines: frozenset[int] | None = None) -> None:
        """Scan a chunk; with ``only_lines``, keep the matches that touch those lines (a diff's added lines)."""
        if isinstance(chunk.origin, FileOrigin) and is_state_path(chunk.origin.path):
            from scanner.sources.tfstate import add_state_chunk

            if add_state_chunk(self, chunk, only_lines):  # findings tied to resources; else scanned as text
                return
        stats = self.result.stats
        stats.items_scanned += 1
        stats.bytes_scanned += len(chunk.content)
        matches = self.matches_for(chunk)
        if only_lines is not None:
            matches = [m for m in matches if any(n in only_lines for n in range(m.line, m.end_line + 1))]
        if matches:
            self.add_matches(chunk.origin, matches)

    def add_matches(self, origin: Origin, matches: Iterable[Match]) -> None:
        settings = self.settings
        config = settings.config
        policy = config.policy
        baseline = settings.baseline
        path = origin.path
        commit = getattr(origin, "commit", "")
        key = settings.fingerprint_key
        allowlists = config.allowlists
        rel_path: str | None = None
        baseline_path: str | None = None
        bypass = self.bypass_for(commit)
        for match in matches:
            rule = self.ruleset.by_id[match.rule_id]
            if path_reason(rule, path) is not None:
                continue
            secret = match.secret.reveal()
            if rel_path is None:
                rel_path = config.relative_path(path, settings.path_base)
            allowlist = allowlists.check(rule.id, secret, rel_path, commit, match.allow_hits) if allowlists else ""
            baselined = False
            audit = ""
            if baseline is not None:
                if baseline_path is None:
                    baseline_path = baseline.relative(path, settings.path_base)
                baselined = baseline.contains(rule.id, secret, baseline_path, match, commit)
                if baselined:
                    audit = baseline.label(rule.id, secret, baseline_path)
            info = self.result.rule_infos.get(rule.id)
            if info is None:
                info = self.result.rule_infos[rule.id] = rule.spec.info()
            finding = Finding(
                rule=info,
                match=match,
                origin=origin,
                finding_id=finding_id(key, rule.id, secret, path, commit),
                secret_id=secret_id(key, rule.id, secret),
            )
            facts = Facts(rel_path, allowlist, baselined, settings.today, settings.branch, bypass)
            verdict, reason = decide(finding, policy, facts)
            # A bypass shows on the findings it allowed, and a refused one on the findings it failed to allow.
            used = bypass if bypass is not None and (reason == "bypass" or verdict != "allow") else None
            if (verdict, reason) != (finding.verdict, finding.reason) or used is not None or audit:
                finding = dataclasses.replace(finding, verdict=verdict, reason=reason, bypass=used, audit=audit)
            if reason.startswith("exception:") and reason[10:] not in self.result.exceptions:
                self.result.exceptions.update((e.id, e) for e in policy.exceptions if e.id == reason[10:])
            if used is not None and used not in self._recorded:
                self._recorded.add(used)
                self.result.bypasses.append(used)
            self.result.findings.append(finding)

    def run(self, chunks: Iterable[Chunk]) -> ScanResult:
        started = time.perf_counter()
        for chunk in chunks:
            self.add(chunk)
        self.result.stats.duration_s += time.perf_counter() - started
        return self.result
