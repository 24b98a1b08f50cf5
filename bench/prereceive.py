#!/usr/bin/env python3
"""How long the pre-receive hook takes to decide a push (issue #11: p95 ≤ 1 s for a 50-commit push).

Usage::

    .venv/bin/python bench/prereceive.py [--donor /tmp/bench-targets/pytest] [--pushes 20] [--slice 50]
                                         [--hook-args "--workers 1"] [--json OUT]

A bare repository is seeded (without the hook) with the donor's history up to ``pushes × slice`` first-parent
commits before its default branch's tip; then ``hooks/pre-receive`` is installed and the history is pushed in
``pushes`` successive slices of ``slice`` first-parent commits (a slice brings the side-branch commits merged in
it too: the report gives each push's commit count). A push the hook rejects (the donor's tests hold
credential-shaped strings) is applied without the hook afterwards, so the next slice is again 50 commits.

Two times per push: the hook's (a wrapper around ``hooks/pre-receive`` records when git started and when it
ended: Python's start-up, the scan and the decision) and the whole ``git push`` (pack, transfer, index, hook,
ref update). Without the donor, a medium repository is generated (and the report says so). Standard library
only; leakstop is the one installed in this checkout's ``.venv``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
HOOK = REPO_ROOT / "hooks" / "pre-receive"
LEAKSTOP = Path(sys.executable).with_name("leakstop")
WRAPPER = """#!/bin/sh
start=$(date +%s.%N)
"$(dirname "$0")/leakstop-pre-receive"
status=$?
echo "$start $(date +%s.%N) $status" >> "$(dirname "$0")/../hook-times"
exit $status
"""


def git(cwd: Path, *args: str, stdin: str | None = None) -> str:
    env = {**os.environ, "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull}
    proc = subprocess.run(["git", *args], cwd=cwd, input=stdin, capture_output=True, text=True, env=env, check=False)
    if proc.returncode:
        raise SystemExit(f"git {' '.join(args)} in {cwd}: {proc.stderr.strip()}")
    return proc.stdout.strip()


def generated_donor(where: Path, commits: int) -> Path:
    """A medium repository: ``commits`` commits over 400 Python files of a few KB, one to three edited each."""
    repo = where / "donor"
    git(where, "init", "-q", "-b", "main", str(repo))
    stream = []
    for n in range(commits):
        stream.append(f"commit refs/heads/main\ncommitter B <b@example.com> {1_600_000_000 + n * 60} +0000\n")
        stream.append(f"data {len(f'change {n}')}\nchange {n}\n")
        for k in range(1 + n % 3):
            body = "".join(f"def f_{n}_{k}_{i}(x):\n    return x * {i} + {n}\n\n" for i in range(60))
            stream.append(f"M 644 inline pkg/mod{(n * 7 + k) % 400:03}.py\ndata {len(body)}\n{body}\n")
    subprocess.run(["git", "fast-import", "--quiet"], cwd=repo, input="".join(stream), text=True, check=True)
    return repo


def install_hook(server: Path) -> None:
    hooks = server / "hooks"
    shutil.copy(HOOK, hooks / "leakstop-pre-receive")
    (hooks / "pre-receive").write_text(WRAPPER)
    (hooks / "pre-receive").chmod(0o755)


def push(donor: Path, server: Path, commit: str, env: dict[str, str], hook: bool = True) -> tuple[int, float, str]:
    hooks = server / "hooks"
    installed = (hooks / "pre-receive").exists()
    if not hook and installed:
        (hooks / "pre-receive").rename(hooks / "off")
    started = time.perf_counter()
    proc = subprocess.run(
        ["git", "push", "-q", "--force", str(server), f"{commit}:refs/heads/main"],
        cwd=donor,
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    elapsed = time.perf_counter() - started
    if not hook and installed:
        (hooks / "off").rename(hooks / "pre-receive")
    return proc.returncode, elapsed, proc.stderr


def percentile(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else values[0]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--donor", type=Path, default=Path("/tmp/bench-targets/pytest"))
    parser.add_argument("--pushes", type=int, default=20)
    parser.add_argument("--slice", type=int, default=50)
    parser.add_argument("--hook-args", default="", help="extra arguments for leakstop hook pre-receive")
    parser.add_argument("--json", type=Path, help="write the figures here too")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-prereceive-"))
    try:
        return run(args, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def run(args: argparse.Namespace, work: Path) -> int:
    donor, note = args.donor, f"donor: {args.donor}"
    if not (donor / ".git").exists() and not (donor / "HEAD").exists():
        note = f"{donor} is missing: a generated medium repository (3,000 commits, 400 files) is the donor"
        donor = generated_donor(work, 3000)
    print(note, file=sys.stderr)
    chain = git(donor, "rev-list", "--first-parent", "--reverse", "HEAD").split()
    need = args.pushes * args.slice
    if len(chain) <= need:
        raise SystemExit(f"{donor}: {len(chain)} first-parent commits, {need + 1} needed")
    base = len(chain) - 1 - need
    server = work / "server.git"
    git(work, "init", "-q", "--bare", str(server))
    env = {**os.environ, "LEAKSTOP": str(LEAKSTOP), "LEAKSTOP_HOOK_ARGS": args.hook_args, "GIT_CONFIG_NOSYSTEM": "1"}
    code, _, err = push(donor, server, chain[base], env, hook=False)
    if code:
        raise SystemExit(f"seeding the server failed: {err}")
    install_hook(server)
    rows: list[dict[str, Any]] = []
    for n in range(args.pushes):
        old, new = chain[base + n * args.slice], chain[base + (n + 1) * args.slice]
        count = int(git(donor, "rev-list", "--count", f"{old}..{new}"))
        code, wall, _ = push(donor, server, new, env)
        start, end, _status = (server / "hook-times").read_text().splitlines()[-1].split()
        rows.append({"commits": count, "hook_s": float(end) - float(start), "push_s": wall, "rejected": code != 0})
        if code:
            push(donor, server, new, env, hook=False)  # apply it anyway: the next slice is 50 commits again
        print(f"push {n + 1:2}: {count:4} commits  hook {rows[-1]['hook_s']:.3f} s  push {wall:.3f} s"
              f"{'  rejected' if code else ''}", file=sys.stderr)  # fmt: skip
    report(rows, args, note)
    return 0


def report(rows: list[dict[str, Any]], args: argparse.Namespace, note: str) -> None:
    hook = [r["hook_s"] for r in rows]
    whole = [r["push_s"] for r in rows]
    figures = {
        "note": note,
        "pushes": len(rows),
        "commits_per_push": {"min": min(r["commits"] for r in rows), "max": max(r["commits"] for r in rows)},
        "rejected": sum(r["rejected"] for r in rows),
        "hook_s": {"p50": percentile(hook, 50), "p95": percentile(hook, 95), "max": max(hook)},
        "push_s": {"p50": percentile(whole, 50), "p95": percentile(whole, 95), "max": max(whole)},
        "hook_args": args.hook_args,
        "rows": rows,
    }
    print(
        f"\n{len(rows)} pushes of {args.slice} first-parent commits ({figures['commits_per_push']['min']}–"
        f"{figures['commits_per_push']['max']} commits each; {figures['rejected']} rejected)\n"
        f"hook decision  p50 {figures['hook_s']['p50']:.3f} s  p95 {figures['hook_s']['p95']:.3f} s"
        f"  max {figures['hook_s']['max']:.3f} s\n"
        f"whole git push p50 {figures['push_s']['p50']:.3f} s  p95 {figures['push_s']['p95']:.3f} s"
        f"  max {figures['push_s']['max']:.3f} s"
    )
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    sys.exit(main())
