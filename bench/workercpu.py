"""The worker side of a history scan, in CPU seconds (issue #17, item 2).

``python bench/workercpu.py REPO`` runs ``leakstop scan --history --workers 1`` in process (one worker: the
process reads and detects every blob itself) and prints, as JSON, the CPU seconds spent inside
``workers.scan_refs`` (reading the blobs' text, the changed regions and their narrowing, detection: what a
worker does), the whole process's CPU (git's own processes not included) and the findings. Run it alternately
with ``PYTHONPATH`` at another checkout to compare the two; the machine's load changes both alike.
"""

from __future__ import annotations

import contextlib
import io
import json
import sys
import time
from typing import Any

from scanner.cli import main as leakstop
from scanner.pipeline import workers


def measure(repo: str) -> dict[str, Any]:
    spent = [0.0]
    scan_refs = workers.scan_refs

    def timed(*args: Any, **kwargs: Any) -> Any:
        start = time.process_time()
        try:
            return scan_refs(*args, **kwargs)
        finally:
            spent[0] += time.process_time() - start

    workers.scan_refs = timed
    started = time.process_time()
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        leakstop(["scan", "--history", "--no-progress", "--workers", "1", "--format", "json", repo])
    return {
        "worker_cpu_s": round(spent[0], 2),
        "process_cpu_s": round(time.process_time() - started, 2),
        "findings": len(json.loads(out.getvalue())["findings"]),
    }


if __name__ == "__main__":
    print(json.dumps(measure(sys.argv[1])))
