"""Run a scan: source → detector → findings, collected into a ``ScanResult``.

Each blob is detected once (cached by its content id); the path-dependent filters run per occurrence.
"""

from __future__ import annotations

import difflib
import hashlib
import os
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

from scanner.config import Config
from scanner.detect.engine import Detector, path_reason
from scanner.errors import ConfigError
from scanner.fingerprint import default_key, finding_id, secret_id
from scanner.models import Chunk, Finding, Match, Origin, ScanResult, Verdict
from scanner.ruleset import Ruleset, load_ruleset
from scanner.ruleset.model import CompiledRule


@dataclass(frozen=True)
class ScanSettings:
    config: Config = field(default_factory=Config)
    fingerprint_key: bytes = field(default_factory=default_key)
    path_base: str = field(default_factory=os.getcwd)  # what relative finding paths are relative to


def build_ruleset(config: Config) -> Ruleset:
    ruleset = load_ruleset(paths=None if config.extend_default else [], extra=config.rules)
    if not config.disabled_rules:
        return ruleset
    known = list(ruleset.by_id)
    for rule_id in config.disabled_rules:
        if rule_id not in ruleset.by_id:
            close = difflib.get_close_matches(rule_id, known, n=3)
            hint = f" (did you mean {', '.join(close)}?)" if close else ""
            raise ConfigError(f"{config.source}: disabled_rules: unknown rule id {rule_id!r}{hint}")
    disabled = set(config.disabled_rules)
    kept = tuple(r for r in ruleset.rules if r.id not in disabled)
    digest = hashlib.sha256("\0".join([ruleset.hash, *sorted(disabled)]).encode()).hexdigest()
    return Ruleset(rules=kept, hash=digest)  # stable across runs: it keys the Hyperscan cache


def build_detector(ruleset: Ruleset, config: Config) -> Detector:
    depth = config.max_decode_depth
    return Detector(ruleset, max_decode_depth=2 if depth is None else depth)


def default_verdict(rule: CompiledRule) -> Verdict:
    """Until a policy says otherwise: everything blocks but informational rules, which warn."""
    return "warn" if rule.spec.severity == "info" else "block"


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
        stats = self.result.stats
        stats.items_scanned += 1
        stats.bytes_scanned += len(chunk.content)
        matches = self.matches_for(chunk)
        if only_lines is not None:
            matches = [m for m in matches if any(n in only_lines for n in range(m.line, m.end_line + 1))]
        if matches:
            self.add_matches(chunk.origin, matches)

    def add_matches(self, origin: Origin, matches: Iterable[Match]) -> None:
        config = self.settings.config
        path = origin.path
        commit = getattr(origin, "commit", "")
        key = self.settings.fingerprint_key
        for match in matches:
            rule = self.ruleset.by_id[match.rule_id]
            if path_reason(rule, path) is not None:
                continue
            secret = match.secret.reveal()
            verdict, reason = default_verdict(rule), ""
            if config.path_allowed(path, self.settings.path_base):
                verdict, reason = "allow", "allowlist:paths"
            elif config.secret_allowed(secret):
                verdict, reason = "allow", "allowlist:secret"
            info = self.result.rule_infos.get(rule.id)
            if info is None:
                info = self.result.rule_infos[rule.id] = rule.spec.info()
            self.result.findings.append(
                Finding(
                    rule=info,
                    match=match,
                    origin=origin,
                    finding_id=finding_id(key, rule.id, secret, path, commit),
                    secret_id=secret_id(key, rule.id, secret),
                    verdict=verdict,
                    reason=reason,
                )
            )

    def run(self, chunks: Iterable[Chunk]) -> ScanResult:
        started = time.perf_counter()
        for chunk in chunks:
            self.add(chunk)
        self.result.stats.duration_s += time.perf_counter() - started
        return self.result
