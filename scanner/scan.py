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
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from scanner.config import Config
from scanner.detect.engine import Detector, path_reason
from scanner.errors import ConfigError
from scanner.fingerprint import default_key, finding_id, secret_id
from scanner.models import Chunk, FileOrigin, Finding, Match, Origin, ScanResult
from scanner.policy import Facts, decide
from scanner.ruleset import Ruleset, load_ruleset
from scanner.sources.files import is_state_path

if TYPE_CHECKING:
    from scanner.baseline import Baseline


@dataclass(frozen=True)
class ScanSettings:
    config: Config = field(default_factory=Config)
    fingerprint_key: bytes = field(default_factory=default_key)
    path_base: str = field(default_factory=os.getcwd)  # what relative finding paths are relative to
    baseline: Baseline | None = None
    today: datetime.date = field(default_factory=datetime.date.today)  # when exceptions expire


def _check_rule_id(config: Config, known: list[str], rule_id: str, where: str) -> None:
    if rule_id not in known:
        close = difflib.get_close_matches(rule_id, known, n=3)
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        raise ConfigError(f"{config.source}: {where}: unknown rule id {rule_id!r}{hint}")


def build_ruleset(config: Config) -> Ruleset:
    ruleset = load_ruleset(paths=None if config.extend_default else [], extra=config.rules)
    known = list(ruleset.by_id)
    for override in config.policy.overrides:
        for rule_id in sorted(override.rules):
            _check_rule_id(config, known, rule_id, f"policy/overrides/{override.index}/rules")
    if not config.disabled_rules:
        return ruleset
    for rule_id in config.disabled_rules:
        _check_rule_id(config, known, rule_id, "disabled_rules")
    disabled = set(config.disabled_rules)
    kept = tuple(r for r in ruleset.rules if r.id not in disabled)
    digest = hashlib.sha256("\0".join([ruleset.hash, *sorted(disabled)]).encode()).hexdigest()
    return Ruleset(rules=kept, hash=digest)  # stable across runs: it keys the Hyperscan cache


def build_detector(ruleset: Ruleset, config: Config) -> Detector:
    depth = config.max_decode_depth
    return Detector(ruleset, max_decode_depth=2 if depth is None else depth)


class Scan:
    """Collects findings from chunks. One per scan; not shared between processes."""

    def __init__(self, ruleset: Ruleset, detector: Detector, settings: ScanSettings, result: ScanResult) -> None:
        self.ruleset = ruleset
        self.detector = detector
        self.settings = settings
        self.result = result
        self._cache: dict[str, list[Match]] = {}
        result.ruleset_hash = ruleset.hash

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
        rel_path: str | None = None
        path_allowed: bool | None = None
        baseline_path: str | None = None
        for match in matches:
            rule = self.ruleset.by_id[match.rule_id]
            if path_reason(rule, path) is not None:
                continue
            secret = match.secret.reveal()
            if rel_path is None:
                rel_path = config.relative_path(path, settings.path_base)
                path_allowed = config.path_allowed(path, settings.path_base)
            allowlist = "paths" if path_allowed else "secret" if config.secret_allowed(secret) else ""
            baselined = False
            if baseline is not None and baseline.fingerprints:
                if baseline_path is None:
                    baseline_path = baseline.relative(path, settings.path_base)
                baselined = baseline.keyed(rule.id, secret, baseline_path) in baseline.fingerprints
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
            verdict, reason = decide(finding, policy, Facts(rel_path, allowlist, baselined, settings.today))
            if (verdict, reason) != (finding.verdict, finding.reason):
                finding = dataclasses.replace(finding, verdict=verdict, reason=reason)
            self.result.findings.append(finding)

    def run(self, chunks: Iterable[Chunk]) -> ScanResult:
        started = time.perf_counter()
        for chunk in chunks:
            self.add(chunk)
        self.result.stats.duration_s += time.perf_counter() - started
        return self.result
