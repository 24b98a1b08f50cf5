#!/usr/bin/env python3
"""History scan with 1 and 2 (or more) worker processes: speed-up and the serial share (issue #17, item 4).

Usage::

    python bench/scaling.py [TARGET] [--runs 5] [--workers 1,2] [--python /path/to/venv/bin/python]

TARGET defaults to ``/tmp/bench-targets/pytest``. ``--python`` is the interpreter that has leakstop installed
(default: this one). Runs alternate between the worker counts (``1 2 1 2 …``, after one discarded warm-up each),
so that drifting machine load hits every count alike; the table shows medians.

Each run is one process, ``leakstop scan --history --workers N``, started through a small wrapper that times
the parent and each worker from the inside:

* wall: spawn to exit, seen from here;
* parent CPU: the scanning process's own user+system time (start-up, the walk, dispatch, collecting results);
* workers CPU: the sum of the worker processes' own user+system time (reading and detecting);
* git CPU: everything else the scan waited for (``git log``, the ``git cat-file`` readers);
* start: seconds from the process start to the first worker's start (serial: imports, rules, the first commits
  of ``git log``); tail: seconds between the first and the last worker's end (one core idle). With 1 worker
  the parent scans inline: there are no worker processes, and its CPU is all the Python work.

serial share (Amdahl) = (N / speed-up - 1) / (N - 1), from the medians; with 1 worker it is undefined.
parent share = parent CPU / all CPU: the part of the work in the one process that cannot be split.
Standard library only; the leakstop modules are imported by the wrapper, in the child.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

# The wrapper: runs the CLI in this process and writes what it measured as JSON to argv[1]. Each worker's own
# CPU is taken where the worker ends (``_worker_main`` is wrapped before the pool forks).
WRAPPER = r"""
import json, os, resource, sys, time
out, argv = sys.argv[1], sys.argv[2:]
t0 = time.perf_counter()
import scanner.pipeline.workers as workers
report = {"workers": []}
original = workers._worker_main
def timed(*args, **kwargs):
    start = time.perf_counter() - t0
    try:
        original(*args, **kwargs)
    finally:
        own = resource.getrusage(resource.RUSAGE_SELF)
        line = {"cpu": own.ru_utime + own.ru_stime, "start": start, "end": time.perf_counter() - t0}
        with open(f"{out}.w{args[0]}", "w") as handle:
            json.dump(line, handle)
workers._worker_main = timed
from scanner.cli import main
try:
    code = main(argv)
except SystemExit as exc:
    code = exc.code
own = resource.getrusage(resource.RUSAGE_SELF)
children = resource.getrusage(resource.RUSAGE_CHILDREN)
report.update(code=code, parent=own.ru_utime + own.ru_stime, children=children.ru_utime + children.ru_stime,
              end=time.perf_counter() - t0)
with open(out, "w") as handle:
    json.dump(report, handle)
"""


def run_once(python: str, target: Path, workers: int, scratch: Path) -> dict[str, float]:
    out = scratch / f"run-{workers}.json"
    for stale in scratch.glob(f"run-{workers}.json*"):
        stale.unlink()
    argv = [python, "-c", WRAPPER, str(out), "scan", "--history", "--no-progress", "--format", "json"]
    argv += ["--output", os.devnull, "--workers", str(workers), str(target)]
    started = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, check=False)
    wall = time.perf_counter() - started
    if done.returncode not in (0, 1) or not out.exists():
        tail = done.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or ["no message"]
        raise SystemExit(f"scaling: leakstop with {workers} workers exited {done.returncode}: {tail[0]}")
    report = json.loads(out.read_text())
    ends = [json.loads(path.read_text()) for path in sorted(scratch.glob(f"run-{workers}.json.w*"))]
    if workers > 1 and len(ends) != workers:  # the wrapper no longer reaches the workers: say so, never show 0
        raise SystemExit(f"scaling: {len(ends)} of {workers} workers reported their CPU (workers._worker_main?)")
    workers_cpu = sum(w["cpu"] for w in ends)
    return {
        "wall": wall,
        "parent": report["parent"],
        "workers_cpu": workers_cpu,
        "git": report["children"] - workers_cpu,
        "start": min((w["start"] for w in ends), default=float("nan")),
        "tail": max((w["end"] for w in ends), default=0.0) - min((w["end"] for w in ends), default=0.0),
    }


def summarise(runs: dict[int, list[dict[str, float]]]) -> list[dict[str, Any]]:
    base = statistics.median(r["wall"] for r in runs[min(runs)])
    rows = []
    for count, samples in sorted(runs.items()):
        row: dict[str, Any] = {"workers": count, "runs": len(samples)}
        for key in ("wall", "parent", "workers_cpu", "git", "start", "tail"):
            row[key] = statistics.median(r[key] for r in samples)
        row["cpu"] = statistics.median(r["parent"] + r["workers_cpu"] + r["git"] for r in samples)
        row["walls"] = [round(r["wall"], 2) for r in samples]
        row["speedup"] = base / row["wall"] if min(runs) == 1 else None
        row["serial_share"] = (count / row["speedup"] - 1) / (count - 1) if row["speedup"] and count > 1 else None
        row["parent_share"] = row["parent"] / row["cpu"] if row["cpu"] else None
        rows.append(row)
    return rows


def render(rows: list[dict[str, Any]]) -> str:
    def num(value: float | None, spec: str) -> str:
        return "—" if value is None or math.isnan(value) else format(value, spec)

    out = [
        "| workers | wall s | speed-up | serial share | parent CPU s | workers CPU s | git CPU s | all CPU s "
        "| parent share | start s | tail s |",
        "|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for r in rows:
        out.append(
            f"| {r['workers']} | {r['wall']:.2f} | {num(r['speedup'], '.2f')}× | {num(r['serial_share'], '.0%')} "
            f"| {r['parent']:.2f} | {r['workers_cpu']:.2f} | {r['git']:.2f} | {r['cpu']:.2f} "
            f"| {num(r['parent_share'], '.0%')} | {num(r['start'], '.2f')} | {r['tail']:.2f} |"
        )
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="history scan speed-up with 1 and 2 workers, and its serial share")
    parser.add_argument("target", nargs="?", type=Path, default=Path("/tmp/bench-targets/pytest"))
    parser.add_argument("--runs", type=int, default=5, help="timed runs per worker count (5)")
    parser.add_argument("--workers", default="1,2", help="comma-separated worker counts (1,2)")
    parser.add_argument("--python", default=sys.executable, help="the interpreter with leakstop installed")
    parser.add_argument("--json", type=Path, metavar="OUT", help="also write the rows here")
    args = parser.parse_args(argv)
    counts = sorted({int(n) for n in args.workers.split(",") if n.strip()})
    if not counts or min(counts) < 1 or args.runs < 1:
        parser.error("--workers takes counts >= 1 and --runs >= 1")
    if not (args.target / ".git").exists() and not (args.target / "HEAD").exists():
        parser.error(f"{args.target}: not a git repository")
    runs: dict[int, list[dict[str, float]]] = {n: [] for n in counts}
    with tempfile.TemporaryDirectory(prefix="leakstop-scaling-") as scratch:
        for count in counts:  # warm-up: the Hyperscan database cache, the page cache
            run_once(args.python, args.target, count, Path(scratch))
        for index in range(args.runs):
            for count in counts:
                runs[count].append(run_once(args.python, args.target, count, Path(scratch)))
                print(
                    f"scaling: run {index + 1}/{args.runs}, {count} workers: {runs[count][-1]['wall']:.2f} s",
                    file=sys.stderr,
                )
    rows = summarise(runs)
    print(f"target: {args.target} (history), medians of {args.runs} alternated runs on {os.cpu_count()} cores")
    print(render(rows))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
