"""How many bytes a history scan hands the detector, against the blob bytes it reads (issue #17, item 2).

``python bench/detbytes.py REPO [scan flags...]`` runs ``leakstop scan --history`` in process with one worker
(the parent reads the blobs itself, so one counter sees them all) and prints, as JSON, the blob bytes read, the
bytes of the chunks made of them (what the detector gets), how many chunks, the CPU seconds spent narrowing large
regions to their new lines (``textdiff._narrow`` in C, else ``_novel_blocks_py``; an older checkout's
``_novel_blocks``), and the findings. Run it with ``PYTHONPATH`` set to another checkout to measure that one (the
reader's ``_read_one`` is wrapped whatever its further arguments: an older checkout's take fewer).
"""

from __future__ import annotations

import contextlib
import io
import json
import sys
import time
from collections.abc import Sequence
from typing import Any

from scanner import textdiff
from scanner.cli import main as leakstop
from scanner.sources.base import BlobRead, BlobRef
from scanner.sources.git import blobs


def measure(repo: str, flags: Sequence[str]) -> dict[str, Any]:
    counts: dict[str, float] = {"blob_bytes": 0, "detector_bytes": 0, "chunks": 0, "narrow_s": 0.0}
    read_one = blobs.GitBlobReader._read_one

    def timed(narrow: Any) -> Any:
        def run(*args: Any) -> Any:
            start = time.process_time()
            try:
                return narrow(*args)
            finally:
                counts["narrow_s"] += time.process_time() - start

        return run

    def counting(self: blobs.GitBlobReader, ref: BlobRef, *rest: Any) -> BlobRead:
        result = read_one(self, ref, *rest)
        counts["blob_bytes"] += result.size
        counts["chunks"] += len(result.chunks)
        counts["detector_bytes"] += sum(len(c.content) for c in result.chunks)
        return result

    blobs.GitBlobReader._read_one = counting  # type: ignore[method-assign,assignment]
    for name in ("_novel_blocks", "_narrow", "_novel_blocks_py"):  # whichever narrows in the checkout measured
        if getattr(textdiff, name, None) is not None:
            setattr(textdiff, name, timed(getattr(textdiff, name)))
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        leakstop(["scan", "--history", "--no-progress", "--workers", "1", "--format", "json", *flags, repo])
    report = json.loads(out.getvalue())
    return {**counts, "narrow_s": round(counts["narrow_s"], 2), "findings": len(report["findings"])}


if __name__ == "__main__":
    print(json.dumps(measure(sys.argv[1], sys.argv[2:])))
