#!/usr/bin/env python3
"""What the per-chunk regex timer (``scanner/detect/timebound.py``) costs: µs per ``with bounded(...)`` block.

Usage::

    python bench/chunktimer.py [--tree PATH] [--runs 7] [--blocks 20000]

``--tree`` measures another checkout's ``scanner`` (e.g. a worktree of main) for an A/B comparison. Prints the
median and the fastest of ``--runs`` runs of ``--blocks`` empty blocks, in CPU µs (process time) and wall µs.
Standard library only.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tree", default=str(Path(__file__).resolve().parent.parent))
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--blocks", type=int, default=20000)
    args = parser.parse_args()
    sys.path.insert(0, args.tree)
    from scanner.detect.timebound import bounded

    cpu, wall = [], []
    for _ in range(args.runs):
        started, started_cpu = time.perf_counter(), time.process_time()
        for _ in range(args.blocks):
            with bounded(60.0):
                pass
        cpu.append((time.process_time() - started_cpu) / args.blocks * 1e6)
        wall.append((time.perf_counter() - started) / args.blocks * 1e6)
    print(
        f"{args.tree}: cpu {statistics.median(cpu):.2f} µs/chunk (fastest {min(cpu):.2f}), "
        f"wall {statistics.median(wall):.2f} µs/chunk (fastest {min(wall):.2f})"
    )


if __name__ == "__main__":
    main()
