#!/usr/bin/env python3
"""A history scan's serial start, told apart from the machine's load: where the parent's time went before its first
batch of blobs left for a worker (issue #17 item 2).

Usage::

    python bench/firstbatch.py TARGET --python A [--python B ...] [--runs 15]

Each run is ``leakstop scan --history TARGET`` (default workers) in a fresh interpreter (``--python``: one with
leakstop installed), stopped as soon as the parent sends its first batch. At that moment the parent's main thread
reads ``/proc/self/schedstat``: its time on a CPU, its time waiting for one (the run queue: other processes' load)
and, the rest of the elapsed time, its time *blocked*: waiting on ``git``, pipes, children. On an idle machine the
start is CPU + blocked; on a loaded one the run-queue wait swamps wall times, but CPU and blocked stay comparable.
Builds are alternated run by run; the table shows medians (and the least blocked time). Linux only.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import tempfile
from pathlib import Path

# Runs in the scan's interpreter: times are from the wrapper's start, schedstat differences from the same point.
WRAPPER = r"""
import json, os, sys, time
t0 = time.perf_counter()
def sched():
    run, wait, _ = open("/proc/self/schedstat").read().split()
    return int(run) / 1e6, int(wait) / 1e6
run0, wait0 = sched()
import scanner.pipeline.workers as workers
send = workers.WorkerPool._send
def first(self, worker, refs):
    if refs is not None:
        run, wait = sched()
        elapsed = (time.perf_counter() - t0) * 1000
        cpu, queued = run - run0, wait - wait0
        with open(sys.argv[1], "w") as out:
            json.dump({"elapsed": elapsed, "cpu": cpu, "queued": queued, "blocked": elapsed - cpu - queued}, out)
        os._exit(0)  # the workers die with the parent (PR_SET_PDEATHSIG)
    return send(self, worker, refs)
workers.WorkerPool._send = first
from scanner.cli import main
main(sys.argv[2:])
"""
FIELDS = ("elapsed", "cpu", "queued", "blocked")


def run_once(python: str, target: Path, out: Path) -> dict[str, float]:
    out.unlink(missing_ok=True)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}  # as users run it
    argv = [python, "-c", WRAPPER, str(out), "scan", "--history", "--no-progress", "--format", "json", str(target)]
    done = subprocess.run([*argv, "--output", os.devnull], env=env, capture_output=True, check=False)
    if not out.exists():
        tail = done.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or ["no message"]
        raise SystemExit(f"firstbatch: {python} sent no batch (exit {done.returncode}): {tail[0]}")
    return {k: float(v) for k, v in json.loads(out.read_text()).items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="a history scan's start: CPU, run-queue wait, blocked time")
    parser.add_argument("target", type=Path)
    parser.add_argument("--python", action="append", required=True, help="an interpreter with leakstop (repeat)")
    parser.add_argument("--runs", type=int, default=15, help="runs per build, after one warm-up each (15)")
    args = parser.parse_args(argv)
    out = Path(tempfile.mkdtemp(prefix="firstbatch-")) / "run.json"
    rows: dict[str, list[dict[str, float]]] = {python: [] for python in args.python}
    for python in args.python:
        run_once(python, args.target, out)
    for index in range(args.runs):
        order = args.python[index % len(args.python) :] + args.python[: index % len(args.python)]
        for python in order:
            rows[python].append(run_once(python, args.target, out))
    print("| build | elapsed ms | CPU ms | waiting for a core ms | blocked ms (least) |")
    print("| --- | --: | --: | --: | --: |")
    for python, samples in rows.items():
        med = {k: statistics.median(s[k] for s in samples) for k in FIELDS}
        least = min(s["blocked"] for s in samples)
        print(f"| {python} | {med['elapsed']:.1f} | {med['cpu']:.1f} | {med['queued']:.1f} | {med['blocked']:.1f} "
              f"({least:.1f}) |")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
