#!/usr/bin/env python3
"""Org scan figures (issue #15): generated repositories scanned on a local Dask cluster.

Usage::

    .venv/bin/python bench/org.py [--repos 200] [--secrets 20] [--changed 10] [--src DIR] [--json OUT]

Writes ``--repos`` git repositories to a temporary directory (mixed sizes: 2 to 40 commits of 1 to 12 files of
about 0.5 to 8 KiB each), ``--secrets`` of them with one GitHub token (generated at run time) planted in a random
commit. Then, each through ``scanner.org.orgscan.scan_org`` with a fresh cache and store:

- the first run with 1 worker and with 2 workers (the speed-up; cluster start-up included in both);
- a second run with 2 workers after one new commit in ``--changed`` repositories (the store: only new commits);
- recall: the planted tokens found (by repository and path) over those planted;
- peak RSS per worker process: ``ru_maxrss`` each task reports from its worker, the maximum per process;
- CPU seconds (user + sys of this process and every child it waited for: the Dask workers and their git) per run;
- the store's blob marks: how many, and the bytes each costs in the store (its size with and without them, both
  vacuumed), and the blobs the second run did not read again because of them.

``--serve daemon`` (the default) serves the repositories with a real ``git daemon`` on loopback and lists their
``git://127.0.0.1:PORT/NAME`` URLs: every refs check and fetch goes through the git protocol. ``--serve http``
serves them with ``git http-backend`` behind a loopback HTTP server (smart HTTP, as GitHub's and GitLab's clone
URLs are). ``--serve path`` lists the local paths instead (what ``--repos FILE`` with paths does).

``--src DIR`` keeps the generated repositories there (made once, reused by later invocations: each run works on a
copy, so A/B runs of two leakstop trees see the same repositories; run the other tree's interpreter on this
script: it imports ``scanner`` from the interpreter's install).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import resource
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT / "tests"))

from org_world import git_daemon, git_http  # noqa: E402
from tokens import TokenFactory  # noqa: E402

from scanner.org.engine import Cluster  # noqa: E402
from scanner.org.listing import Platform, Repo  # noqa: E402
from scanner.org.merge import OrgRun  # noqa: E402
from scanner.org.orgscan import OrgRequest, Targets, scan_org  # noqa: E402

GIT_ENV = {
    "GIT_AUTHOR_NAME": "Bench",
    "GIT_AUTHOR_EMAIL": "bench@example.invalid",
    "GIT_COMMITTER_NAME": "Bench",
    "GIT_COMMITTER_EMAIL": "bench@example.invalid",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
}
WORDS = [
    "alpha",
    "beta",
    "gamma",
    "delta",
    "epsilon",
    "zeta",
    "theta",
    "lambda",
    "sigma",
    "omega",
    "config",
    "value",
    "server",
    "client",
]


def git(repo: Path, *args: str, stdin: bytes | None = None) -> str:
    env = {**os.environ, **GIT_ENV}
    done = subprocess.run(["git", *args], cwd=repo, env=env, input=stdin, capture_output=True, check=True)
    return done.stdout.decode()


def text(rng: random.Random, size: int) -> str:
    lines, total = [], 0
    while total < size:
        line = f"{rng.choice(WORDS)}_{rng.randrange(10**6)} = {' '.join(rng.choices(WORDS, k=6))}"
        lines.append(line)
        total += len(line) + 1
    return "\n".join(lines) + "\n"


def make_repo(path: Path, rng: random.Random, secret: str) -> str:
    """A repository of 2–40 commits; ``secret`` (if any) planted in one of them. Returns the planted path."""
    path.mkdir(parents=True)
    git(path, "-c", "init.defaultBranch=main", "init", "-q")
    commits = rng.choice([2, 3, 5, 8, 12, 20, 40])
    files = [f"src/{rng.choice(WORDS)}_{i}.py" for i in range(rng.randint(1, 12))]
    plant_at = rng.randrange(commits) if secret else -1
    planted = ""
    for number in range(commits):
        for name in rng.sample(files, k=max(1, len(files) // 3)):
            (path / name).parent.mkdir(parents=True, exist_ok=True)
            (path / name).write_text(text(rng, rng.randint(512, 8192)))
        if number == plant_at:
            planted = f"deploy/settings_{number}.py"
            (path / planted).parent.mkdir(parents=True, exist_ok=True)
            (path / planted).write_text(f'GITHUB_TOKEN = "{secret}"\n')
        git(path, "add", "-A")
        git(path, "commit", "-q", "-m", f"change {number}")
    return planted


def cpu_seconds() -> float:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def run_once(root: Path, tag: str, repos: list[Repo], workers: int) -> tuple[float, float, OrgRun]:
    cache = root / f"cache-{tag}"
    request = OrgRequest(
        targets=Targets(),
        cache=cache,
        store=cache / "org.sqlite",
        github=Platform("", "", "GITHUB_TOKEN"),
        gitlab=Platform("", "", "GITLAB_TOKEN"),
        cluster=Cluster(workers),
    )
    started, cpu = time.perf_counter(), cpu_seconds()
    org_run, _issues = scan_org(request, repos)
    return time.perf_counter() - started, cpu_seconds() - cpu, org_run


def marks_cost(store: Path) -> dict[str, Any]:
    """The blob marks in the store, and what they add to its size (a copy vacuumed with them, then without)."""
    from scanner.org.marks import MARK_BYTES

    copy = store.with_name("marks-cost.sqlite")
    with sqlite3.connect(store) as db:
        db.execute("VACUUM INTO ?", (str(copy),))
        count = db.execute("SELECT COALESCE(SUM(LENGTH(marks)), 0) FROM blob_marks").fetchone()[0] // MARK_BYTES
    db.close()
    with_marks = copy.stat().st_size
    with sqlite3.connect(copy, isolation_level=None) as db:
        db.execute("DELETE FROM blob_marks")
        db.execute("VACUUM")
    db.close()
    without = copy.stat().st_size
    return {
        "blob_marks": count,
        "store_bytes": with_marks,
        "store_bytes_per_blob_mark": round((with_marks - without) / count, 1) if count else 0.0,
    }


def make_all(src: Path, args: argparse.Namespace, rng: random.Random) -> list[tuple[str, str]]:
    """The repositories under ``src`` and what was planted where (``src/planted.json``), made once."""
    listing = src / "planted.json"
    if listing.is_file():
        return [tuple(pair) for pair in json.loads(listing.read_text())]  # type: ignore[misc]
    factory = TokenFactory(args.seed)
    with_secret = set(rng.sample(range(args.repos), args.secrets))
    planted = []
    made = time.perf_counter()
    for index in range(args.repos):
        name = f"repo{index:03d}"
        where = make_repo(src / name, rng, factory.github() if index in with_secret else "")
        if where:
            planted.append((name, where))
    listing.write_text(json.dumps(planted))
    print(f"made {args.repos} repositories in {time.perf_counter() - made:.1f} s", file=sys.stderr)
    return planted


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repos", type=int, default=200)
    parser.add_argument("--secrets", type=int, default=20)
    parser.add_argument("--changed", type=int, default=10)
    parser.add_argument("--seed", type=int, default=15)
    parser.add_argument("--src", metavar="DIR", help="keep the generated repositories here; reuse them if present")
    parser.add_argument("--serve", choices=("daemon", "http", "path"), default="daemon")
    parser.add_argument("--json", metavar="OUT")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory(prefix="leakstop-org-bench-") as tmp, contextlib.ExitStack() as stack:
        root = Path(tmp)
        src = Path(args.src) if args.src else root / "made"
        planted = set(make_all(src, args, rng))
        shutil.copytree(src, root / "src", symlinks=True)
        names = sorted(p.name for p in (root / "src").iterdir() if p.is_dir())
        servers = {"daemon": git_daemon, "http": git_http}
        base = stack.enter_context(servers[args.serve](root / "src")) if args.serve in servers else str(root / "src")
        repos = [Repo(name, f"{base}/{name}") for name in names]

        one, one_cpu, _ = run_once(root, "w1", repos, 1)
        two, two_cpu, first = run_once(root, "w2", repos, 2)
        for index in rng.sample(range(len(names)), args.changed):
            path = root / "src" / names[index]
            (path / "NEWS.md").write_text(text(rng, 2048))
            git(path, "add", "-A")
            git(path, "commit", "-q", "-m", "news")
        again, again_cpu, second = run_once(root, "w2", repos, 2)
        marks = marks_cost(root / "cache-w2" / "org.sqlite")

    found = {(r["repo"], r["path"]) for r in first.rows if r["rule"] == "github-pat"}
    peaks: dict[int, int] = {}
    for repo in first.repos + second.repos:
        if not repo["worker_pid"]:  # settled in the parent (refs unchanged): no worker ran it
            continue
        peaks[repo["worker_pid"]] = max(peaks.get(repo["worker_pid"], 0), repo["max_rss_kb"])
    figures: dict[str, Any] = {
        "repos": args.repos,
        "served": args.serve,
        "planted": len(planted),
        "first_run_1_worker_s": round(one, 2),
        "first_run_2_workers_s": round(two, 2),
        "speedup_2_vs_1": round(one / two, 2),
        "second_run_s": round(again, 2),
        "second_vs_first": round(again / two, 3),
        "cpu_s": {
            "first_1_worker": round(one_cpu, 1),
            "first_2_workers": round(two_cpu, 1),
            "second": round(again_cpu, 1),
        },
        "load_1min": round(os.getloadavg()[0], 1),
        "second_run_commits_scanned": sum(r["commits"] for r in second.repos),
        "second_run_modes": dict(sorted(Counter(r["mode"] for r in second.repos).items())),
        "second_run_blobs_not_read_again": second.counts["known_clean"],
        **marks,
        "recall": round(len(found & planted) / len(planted), 3) if planted else 1.0,
        "peak_rss_mib_per_worker": sorted(round(kb / 1024, 1) for kb in peaks.values()),
        "failed": first.counts["failed"] + second.counts["failed"],
    }
    print(json.dumps(figures, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
