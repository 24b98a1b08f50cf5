#!/usr/bin/env python3
"""What policy and baseline evaluation add to a full-history scan (issue #5: at most 5 %).

Usage::

    .venv/bin/python bench/policy_cost.py /tmp/bench-targets/requests [--runs 3] [--json OUT]

Two configurations of ``leakstop scan --history`` on the same repository:

* ``plain``: no config, no baseline (``--no-config --no-baseline``);
* ``policy``: a config with overrides (rules, tags, paths, targets, branches), allowlists (paths, stopwords,
  regexes), 50 exceptions, bypass enabled, and a 10,000-entry baseline (the findings the plain scan makes plus
  random fingerprints). The config extends the default rules, so both run the same detection.

Two measures, because the machine is shared and wall time is noisy:

1. **Share of CPU in decision code** (one instrumented in-process run of the policy configuration): the time spent
   inside the functions that evaluate policy and baseline (``policy.decide``, ``Config.path_allowed`` /
   ``secret_allowed`` / ``relative_path``, ``Baseline.relative`` / ``keyed``, ``Scan.bypass_for``, plus loading the
   config and the baseline), outermost calls only, over the CPU time of the whole scan (this process and its
   worker processes, from ``getrusage``).
2. **Wall and CPU time of both configurations** as separate processes, alternated ``--runs`` times (median).

Standard library only (plus leakstop itself for the instrumented run).
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import os
import resource
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
LEAKSTOP = [sys.executable, "-m", "scanner"]
BASELINE_SIZE = 10_000


def policy_config(directory: Path, baseline: Path) -> Path:
    """A config exercising every kind of policy criterion. Plain JSON is valid YAML."""
    doc = {
        "allowlist": {
            "paths": ["docs/_build/**", "*.min.js", "vendor/", "third_party/**", "**/fixtures/*.pem"],
            "stopwords": ["example", "dummy", "placeholder", "changeme", "xxxxxxxx"],
            "regexes": ["^EXAMPLE", "^test[_-]", "0{16,}", "^sk_test_", "(?i)^fake"],
        },
        "policy": {
            "block": {"severity": "medium", "confidence": "medium"},
            "warn": {"severity": "low"},
            "overrides": [
                {
                    "rules": ["generic-password", "generic-secret"],
                    "paths": ["tests/**", "testing/**"],
                    "action": "warn",
                },
                {"tags": ["test", "example"], "action": "allow"},
                {"targets": ["git"], "branches": ["release/*", "v*"], "action": "block"},
                {"paths": ["docs/**", "*.rst", "*.md"], "targets": ["git", "files"], "action": "warn"},
                {"rules": ["private-key-rsa"], "branches": ["main", "master"], "action": "block"},
            ],
            "baseline": str(baseline),
            "bypass": {"enabled": True, "channels": ["trailer", "env"], "max_age": "3d", "who": ["*@example.com"]},
        },
        "exceptions": [
            {"id": secrets.token_hex(20), "owner": "bench", "reason": "synthetic", "expires": "2999-12-31"}
            for _ in range(50)
        ],
    }
    path = directory / "policy.yaml"
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


def make_baseline(repo: Path, directory: Path) -> Path:
    """The fingerprints of every other finding of a plain history scan, padded with random ones to
    ``BASELINE_SIZE``: lookups both hit and miss. Computed in process, so no secret is written anywhere."""
    from scanner.cli import main
    from scanner.models import ScanResult
    from scanner.policy import baseline
    from scanner.report import REPORTERS

    found: list[ScanResult] = []
    original = REPORTERS["json"]
    REPORTERS["json"] = lambda result, out, options: found.append(result)
    try:
        main(scan_argv(repo, None))
    finally:
        REPORTERS["json"] = original
    path = directory / "baseline.json"
    empty = baseline.new_baseline(str(path))
    # A history finding's path is relative to the repository; the baseline lives outside it, so that path is used.
    fingerprints = {empty.keyed(f.rule.id, f.match.secret.reveal(), f.path) for f in found[0].findings[::2]}
    print(f"{len(found[0].findings)} findings, {len(fingerprints)} in the baseline", file=sys.stderr)
    while len(fingerprints) < BASELINE_SIZE:
        fingerprints.add(secrets.token_hex(32))
    baseline.write(baseline.Baseline(str(path), empty.salt, frozenset(fingerprints)))
    return path


def scan_argv(repo: Path, config: Path | None) -> list[str]:
    argv = ["scan", str(repo), "--history", "--format", "json", "--output", os.devnull, "--no-progress"]
    return argv + (["--config", str(config)] if config else ["--no-config", "--no-baseline"])


def timed_process(argv: list[str]) -> tuple[float, float]:
    """Wall and CPU seconds (user + system, the process and its workers) of one run."""
    started = time.perf_counter()
    proc = subprocess.Popen([*LEAKSTOP, *argv], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode not in (0, 1):
        raise SystemExit(f"leakstop {' '.join(argv)} failed with exit code {proc.returncode}")
    return wall, usage.ru_utime + usage.ru_stime


class Meter:
    """Wall time inside wrapped functions, counting only the outermost wrapped call (no double counting)."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.calls = 0
        self.by_name: dict[str, float] = {}
        self._depth = 0

    def wrap(self, owner: Any, name: str) -> None:
        original: Callable[..., Any] = getattr(owner, name)
        meter = self

        @functools.wraps(original)
        def timed(*args: Any, **kwargs: Any) -> Any:
            if meter._depth:
                return original(*args, **kwargs)
            meter._depth += 1
            started = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                spent = time.perf_counter() - started
                meter.seconds += spent
                meter.by_name[name] = meter.by_name.get(name, 0.0) + spent
                meter.calls += 1
                meter._depth -= 1

        setattr(owner, name, timed)


@contextlib.contextmanager
def instrumented() -> Iterator[Meter]:
    from scanner.pipeline import collect
    from scanner.policy import allowlists, baseline, config, context, migrate

    meter = Meter()
    targets = [
        (collect, "decide"),  # imported by name into the collector
        (allowlists.Allowlists, "check"),
        (config.Config, "relative_path"),
        (baseline.Baseline, "relative"),
        (baseline.Baseline, "contains"),
        (baseline.Baseline, "label"),
        (collect.Collector, "bypass_for"),
        (config, "load_config"),
        (migrate, "load_own"),
        (migrate, "load_any"),
        (context, "current_branch"),
        (context, "run_bypasses"),
    ]
    saved = [(owner, name, getattr(owner, name)) for owner, name in targets]
    for owner, name in targets:
        meter.wrap(owner, name)
    try:
        yield meter
    finally:
        for owner, name, original in saved:
            setattr(owner, name, original)


def cpu_now() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def share_of_cpu(repo: Path, config: Path) -> dict[str, Any]:
    """One in-process policy scan: decision seconds over the scan's CPU seconds (workers included)."""
    from scanner.cli import main

    with instrumented() as meter:
        cpu_before, wall_before = cpu_now(), time.perf_counter()
        code = main(scan_argv(repo, config))
        cpu, wall = cpu_now() - cpu_before, time.perf_counter() - wall_before
    if code not in (0, 1):
        raise SystemExit(f"instrumented scan failed with exit code {code}")
    return {
        "decision_s": meter.seconds,
        "decision_calls": meter.calls,
        "scan_cpu_s": cpu,
        "scan_wall_s": wall,
        "share_of_cpu_pct": 100 * meter.seconds / cpu,
        "share_of_wall_pct": 100 * meter.seconds / wall,
        "by_function_ms": {name: round(1000 * t, 2) for name, t in sorted(meter.by_name.items())},
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("repo", type=Path)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    os.environ.pop("LEAKSTOP_BYPASS", None)
    with tempfile.TemporaryDirectory(prefix="leakstop-policy-cost-") as tmp:
        directory = Path(tmp)
        baseline = make_baseline(args.repo, directory)
        config = policy_config(directory, baseline)
        timed_process(scan_argv(args.repo, config))  # warm-up: ruleset, Hyperscan and config caches
        timed_process(scan_argv(args.repo, None))
        runs: dict[str, list[tuple[float, float]]] = {"plain": [], "policy": []}
        for _ in range(args.runs):
            runs["plain"].append(timed_process(scan_argv(args.repo, None)))
            runs["policy"].append(timed_process(scan_argv(args.repo, config)))
        share = share_of_cpu(args.repo, config)
        report = one_report(args.repo, runs, share)
    print(json.dumps(report, indent=2))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return 0


def one_report(repo: Path, runs: dict[str, list[tuple[float, float]]], share: dict[str, Any]) -> dict[str, Any]:
    medians = {
        name: {
            "wall_s": statistics.median(w for w, _ in values),
            "cpu_s": statistics.median(c for _, c in values),
            "runs": [[round(w, 3), round(c, 3)] for w, c in values],
        }
        for name, values in runs.items()
    }
    plain, policy = medians["plain"], medians["policy"]
    return {
        "repo": str(repo),
        "baseline_entries": BASELINE_SIZE,
        "instrumented": {k: round(v, 4) if isinstance(v, float) else v for k, v in share.items()},
        "processes": medians,
        "wall_overhead_pct": round(100 * (policy["wall_s"] / plain["wall_s"] - 1), 2),
        "cpu_overhead_pct": round(100 * (policy["cpu_s"] / plain["cpu_s"] - 1), 2),
    }


if __name__ == "__main__":
    sys.exit(main())
