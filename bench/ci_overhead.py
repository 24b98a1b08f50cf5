#!/usr/bin/env python3
"""What ``leakstop ci`` adds to the scan itself (issue #11: at most 0.5 s on a 20-commit pull request).

Usage::

    .venv/bin/python bench/ci_overhead.py [/tmp/bench-targets/pytest] [--runs 5] [--commits 20] [--json OUT]

A clone of the target (made in a temporary directory: nothing is written to the target, nothing from it comes into
this repository), or a generated repository when the target is missing. The pull request is the newest window of
the first-parent history holding at least ``--commits`` commits: base = ``HEAD~k``, head = ``HEAD``. Three
commands, each a separate process, alternated ``--runs`` times after one discarded warm-up round (the Hyperscan
database and config caches are warm for all alike):

* ``scan``: ``leakstop scan --range base..head --no-progress`` (the scan itself, text report);
* ``ci``: ``leakstop ci`` in a simulated pull_request step (``GITHUB_*`` variables, an event payload), text report,
  no summary: what the event plan costs;
* ``ci+outputs``: the same as the action runs it: ``--sarif``, the job summary, annotations and outputs.

The overhead is the median of each ``ci`` variant minus the median of ``scan``. Standard library only.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DEFAULT_TARGET = Path("/tmp/bench-targets/pytest")
LEAKSTOP = Path(sys.executable).with_name("leakstop")
LIMIT_S = 0.5


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=True).stdout.strip()


def prepare(target: Path, work: Path) -> Path:
    """A clone of ``target`` (all of its history), or a generated repository of 300 commits when it is missing."""
    repo = work / "repo"
    if (target / ".git").exists() or (target / "HEAD").exists():
        subprocess.run(["git", "clone", "-q", "--no-local", str(target), str(repo)], check=True)
        return repo
    print(f"{target} is missing: using a generated repository", file=sys.stderr)
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    env = {**os.environ, "GIT_AUTHOR_NAME": "b", "GIT_AUTHOR_EMAIL": "b@example.invalid"}
    env.update(GIT_COMMITTER_NAME="b", GIT_COMMITTER_EMAIL="b@example.invalid")
    for n in range(300):
        for k in range(5):
            path = repo / f"pkg{k}" / f"mod{(n * 7 + k) % 40}.py"
            path.parent.mkdir(exist_ok=True)
            with path.open("a", encoding="utf-8") as handle:
                handle.write(f"def f{n}_{k}():\n    return {n * k}\n")
        subprocess.run(["git", "-C", str(repo), "add", "-A"], check=True, env=env)
        subprocess.run(["git", "-C", str(repo), "commit", "-q", "-m", f"c{n}"], check=True, env=env)
    return repo


def window(repo: Path, commits: int) -> tuple[str, str, int]:
    """(base, head, commits in base..head): the newest first-parent window holding at least ``commits``."""
    head = git(repo, "rev-parse", "HEAD")
    for k in range(1, 10_000):
        base = git(repo, "rev-parse", f"HEAD~{k}")
        count = int(git(repo, "rev-list", "--count", f"{base}..{head}"))
        if count >= commits:
            return base, head, count
    raise SystemExit("no window of that many commits")


def step_environment(work: Path, repo: Path, base: str, head: str, count: int) -> dict[str, str]:
    event = {
        "action": "synchronize",
        "number": 1,
        "pull_request": {
            "number": 1,
            "commits": count,
            "base": {"sha": base, "ref": "main", "repo": {"full_name": "bench/target"}},
            "head": {"sha": head, "ref": "feature", "repo": {"full_name": "bench/target"}},
        },
        "repository": {"full_name": "bench/target", "default_branch": "main"},
    }
    (work / "event.json").write_text(json.dumps(event), encoding="utf-8")
    return {
        "GITHUB_ACTIONS": "true",
        "GITHUB_EVENT_NAME": "pull_request",
        "GITHUB_EVENT_PATH": str(work / "event.json"),
        "GITHUB_SHA": head,
        "GITHUB_WORKSPACE": str(repo),
        "GITHUB_OUTPUT": str(work / "output"),
        "GITHUB_STEP_SUMMARY": str(work / "summary"),
    }


def timed(command: list[str], cwd: Path, env: dict[str, str], work: Path) -> float:
    for name in ("output", "summary"):
        (work / name).write_text("", encoding="utf-8")
    started = time.perf_counter()
    proc = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    if proc.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(command)} failed ({proc.returncode}): {proc.stderr.strip()}")
    return elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("target", nargs="?", type=Path, default=DEFAULT_TARGET)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--commits", type=int, default=20)
    parser.add_argument("--json", type=Path, metavar="OUT")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="leakstop-ci-bench-") as tmp:
        work = Path(tmp)
        repo = prepare(args.target, work)
        base, head, count = window(repo, args.commits)
        clean = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "GITLAB_", "CI_"))}
        ci_env = {**clean, **step_environment(work, repo, base, head, count)}
        commands = {
            "scan": ([str(LEAKSTOP), "scan", "--range", f"{base}..{head}", "--no-progress"], clean),
            "ci": ([str(LEAKSTOP), "ci", "--no-summary"], ci_env),
            "ci+outputs": ([str(LEAKSTOP), "ci", "--sarif", str(work / "out.sarif")], ci_env),
        }
        times: dict[str, list[float]] = {name: [] for name in commands}
        for round_ in range(args.runs + 1):  # round 0 warms the caches and is discarded
            for name, (command, env) in commands.items():
                elapsed = timed(command, repo, env, work)
                if round_:
                    times[name].append(elapsed)
    medians = {name: statistics.median(values) for name, values in times.items()}
    overhead = {name: medians[name] - medians["scan"] for name in ("ci", "ci+outputs")}
    print(f"target: {args.target} · pull request {base[:12]}..{head[:12]}: {count} commits · {args.runs} runs each")
    for name, values in times.items():
        shown = " ".join(f"{v:.3f}" for v in values)
        print(f"{name:>11}: median {medians[name]:.3f} s   runs {shown}")
    for name, value in overhead.items():
        verdict = "ok" if value <= LIMIT_S else "OVER"
        print(f"overhead of {name}: {value:+.3f} s (limit {LIMIT_S} s) {verdict}")
    if args.json:
        doc = {"target": str(args.target), "commits": count, "runs": times, "medians": medians, "overhead": overhead}
        args.json.write_text(json.dumps(doc, indent=2), encoding="utf-8")
    return 0 if max(overhead.values()) <= LIMIT_S else 1


if __name__ == "__main__":
    sys.exit(main())
