"""The read side of a history scan alone, in CPU seconds (issue #17, item 2).

``python bench/readcpu.py REPO [--limit N]`` lists every new blob of the history in walk order (``git log
--reverse --topo-order --raw``, first-parent diffs, each blob id once: on pytest the scan's own 41,641 blobs),
then reads them through one ``GitBlobReader`` in batches of 32, as a worker does, with no detection: ``cat-file``'s
answers, the text test, and the changed regions. It prints, as JSON, this process's user and system CPU for the
reads, ``git``'s (the ``cat-file`` process), and the chunks and bytes the detector would get. Run it alternately
with ``PYTHONPATH`` at another checkout, or under ``valgrind --tool=callgrind`` with ``--limit`` (subtract a
``--limit 1`` run for the start-up): the machine's load does not change instruction counts.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import time
from typing import Any

from scanner.sources.base import DEFAULT_MAX_FILE_SIZE, BlobRef
from scanner.sources.git.blobs import BlobLimits, GitBlobReader
from scanner.sources.git.ranges import Base

BATCH = 64  # blobs per message to a worker (workers.BATCH)
LOG = ["log", "--all", "--reverse", "--topo-order", "--raw", "--no-abbrev", "-z", "--diff-merges=first-parent"]


def new_blobs(repo: str) -> list[BlobRef]:
    """Each blob id once, at the first commit that brings it in, oldest first (deletions and submodules left out)."""
    log = subprocess.run(
        ["git", "-C", repo, *LOG, "--format=C%H"],
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    refs: list[BlobRef] = []
    seen: set[str] = set()
    commit = ""
    i = 0
    while i < len(log):
        record = log[i].lstrip(b"\n")
        if not record.startswith(b":"):
            commit = record[1:].decode() if record.startswith(b"C") else commit
            i += 1
            continue
        _mode, new_mode, _old, oid_bytes, status = record[1:].split()
        names = 2 if status[:1] in (b"R", b"C") else 1
        path = log[i + names].decode("utf-8", "surrogateescape")
        oid = oid_bytes.decode()
        if status[:1] != b"D" and new_mode != b"160000" and oid not in seen:
            seen.add(oid)
            refs.append(BlobRef(oid, path, commit, len(refs)))
        i += names + 1
    return refs


def measure(repo: str, limit: int) -> dict[str, Any]:
    refs = new_blobs(repo)[:limit] if limit else new_blobs(repo)
    git_dir = subprocess.run(
        ["git", "-C", repo, "rev-parse", "--absolute-git-dir"], capture_output=True, text=True, check=True
    ).stdout.strip()
    own, children, started = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
        time.monotonic(),
    )
    reader = GitBlobReader(git_dir, BlobLimits(DEFAULT_MAX_FILE_SIZE, scan_binary=False), Base())
    chunks = detector_bytes = 0
    for start in range(0, len(refs), BATCH):
        for read in reader.read(refs[start : start + BATCH]):
            chunks += len(read.chunks)
            detector_bytes += sum(len(chunk.content) for chunk in read.chunks)
    reader.close()
    own_after, children_after = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return {
        "blobs": len(refs),
        "chunks": chunks,
        "detector_mb": round(detector_bytes / 1e6, 1),
        "wall_s": round(time.monotonic() - started, 2),
        "python_user_s": round(own_after.ru_utime - own.ru_utime, 2),
        "python_sys_s": round(own_after.ru_stime - own.ru_stime, 2),
        "git_cpu_s": round(
            children_after.ru_utime + children_after.ru_stime - children.ru_utime - children.ru_stime, 2
        ),
        "load": round(os.getloadavg()[0], 1),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("repo")
    parser.add_argument("--limit", type=int, default=0, help="read only the first N blobs (0: all)")
    args = parser.parse_args()
    print(json.dumps(measure(args.repo, args.limit)))
