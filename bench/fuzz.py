#!/usr/bin/env python3
"""The parser properties of ``tests/test_fuzz_parsers.py`` at length (issue #18: at least 100,000 inputs, 0 crashes).

Usage::

    .venv/bin/python bench/fuzz.py [--examples 8000] [--json OUT]

Runs the same hypothesis properties CI runs briefly (25 examples each), with ``--examples`` per property, in one
pytest process, and counts the inputs each parser was given (``LEAKSTOP_FUZZ_COUNTS``). A crash is a failing
property with hypothesis' smallest example: add it to the property as an ``@example`` (a regression test) and fix
the parser. Prints the count per parser, the total and the crashes; exit 0 only when there were none.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--examples", type=int, default=8000, help="examples per property (default 8000)")
    parser.add_argument("--json", metavar="OUT", help="write the counts here as JSON")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        counts_file = Path(tmp, "counts.json")
        env = {**os.environ, "LEAKSTOP_FUZZ_EXAMPLES": str(args.examples), "LEAKSTOP_FUZZ_COUNTS": str(counts_file)}
        started = time.monotonic()
        proc = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_fuzz_parsers.py"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        seconds = time.monotonic() - started
        counts = json.loads(counts_file.read_text()) if counts_file.exists() else {}
    crashes = [line for line in proc.stdout.splitlines() if line.startswith("FAILED")]
    total = sum(counts.values())
    for parser_name, count in sorted(counts.items()):
        print(f"{parser_name:<16} {count:>9,}")
    print(f"{'total':<16} {total:>9,} inputs in {seconds:.0f}s, {len(crashes)} crashes")
    for line in crashes:
        print(line)
    if proc.returncode not in (0, 1):
        print(proc.stdout[-3000:], proc.stderr[-3000:], sep="\n")
    if args.json:
        Path(args.json).write_text(
            json.dumps({"counts": counts, "total": total, "crashes": crashes, "seconds": round(seconds)}, indent=2),
            encoding="utf-8",
        )
    return 0 if proc.returncode == 0 and not crashes else 1


if __name__ == "__main__":
    sys.exit(main())
