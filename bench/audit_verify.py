#!/usr/bin/env python3
"""How long ``leakstop audit verify`` takes on a long audit log (issue #12: 100,000 lines in ≤ 2 s).

Usage::

    .venv/bin/python bench/audit_verify.py [--lines 100000] [--runs 3] [--log FILE]

The log is built through ``audit_log.append``, record after record, exactly as the hook and the commands write
it (the lock, the tail read, the chained hash, the head file); only ``fsync`` is skipped while it is built, or
100,000 appends would measure the disk. Records look like real ones: a bypass of two findings, a break-glass
use, a rejection, a fail-open, in turn. Then ``leakstop audit verify LOG`` runs ``--runs`` times as a real
subprocess (Python's start-up included) and ``audit_log.verify`` in process; the report gives each time.
``--log FILE`` keeps the log (built once, reused when it has ``--lines`` records).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from scanner.respond.audit_log import AuditFinding, AuditRecord, append, verify

LEAKSTOP = Path(sys.executable).with_name("leakstop")


def record(n: int) -> AuditRecord:
    """The ``n``-th record: one of four shapes the hook and break-glass write, with realistic field sizes."""
    commit = f"{n:040x}"
    findings = tuple(AuditFinding("github-pat", f"{n * 7 + k:064x}") for k in range(2))
    shapes = [
        AuditRecord(
            "bypass",
            "alice",
            "group/app",
            "test fixture, revoked (through push-option)",
            refs=("refs/heads/main",),
            commits=(commit,),
            findings=findings,
        ),
        AuditRecord(
            "breakglass-use",
            "bob",
            "group/app",
            "incident 4711",
            refs=("refs/heads/hotfix",),
            commits=(commit,),
            findings=findings[:1],
            subject=f"{n:012x}",
        ),
        AuditRecord(
            "reject",
            "carol",
            "group/app",
            "1 blocking findings",
            refs=("refs/heads/topic",),
            commits=(commit,),
            findings=findings[:1],
        ),
        AuditRecord(
            "fail-open",
            "dana",
            "group/app",
            "the time budget (4 s) ran out",
            refs=("refs/heads/bulk",),
            commits=(commit,),
        ),
    ]
    return shapes[n % len(shapes)]


def build(path: Path, lines: int) -> float:
    real_fsync = os.fsync
    os.fsync = lambda fd: None  # building, not measuring the disk
    started = time.perf_counter()
    try:
        for n in range(lines):
            append(path, record(n))
    finally:
        os.fsync = real_fsync
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lines", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--log", type=Path, help="keep the log here (reused when it has --lines records)")
    args = parser.parse_args()
    folder = None if args.log else tempfile.TemporaryDirectory(prefix="audit-bench-")
    path = args.log or Path(folder.name) / "audit.jsonl"  # type: ignore[union-attr]
    if not path.exists() or verify(path).lines != args.lines:
        path.unlink(missing_ok=True)
        seconds = build(path, args.lines)
        print(f"built {args.lines} records through append in {seconds:.1f} s ({path.stat().st_size:,} bytes)")
    cli_times, lib_times = [], []
    for _ in range(args.runs):
        started = time.perf_counter()
        proc = subprocess.run(
            [str(LEAKSTOP), "audit", "verify", str(path)], capture_output=True, text=True, check=False
        )
        cli_times.append(time.perf_counter() - started)
        print(f"$ leakstop audit verify {path}\n{proc.stdout.strip()}  (exit {proc.returncode})")
        started = time.perf_counter()
        verify(path)
        lib_times.append(time.perf_counter() - started)
    print(
        f"leakstop audit verify, {args.lines} lines: median {statistics.median(cli_times):.2f} s, "
        f"max {max(cli_times):.2f} s over {args.runs} runs (audit_log.verify alone: "
        f"median {statistics.median(lib_times):.2f} s)"
    )
    if folder is not None:
        folder.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
