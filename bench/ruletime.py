"""The rules' ``re`` time over a history's detector chunks: which rule regexes a history scan pays for.

``python bench/ruletime.py REPO [--top N]`` reads every new blob of the history as a worker does (``readcpu.py``'s
walk, one ``GitBlobReader``), then runs each chunk through the Hyperscan prefilter and times, per candidate rule,
its regex matches (``detect.engine.rule_matches``: the whole chunk for a rule with no keyword window, else windows
around its keywords). Prints the total and the costliest rules (seconds, chunks, matches, window). Run it
alternately with ``PYTHONPATH`` at another checkout to compare the two.
"""

from __future__ import annotations

import argparse
import collections
import time
from pathlib import Path

from readcpu import BATCH, new_blobs

from scanner.detect.engine import rule_matches
from scanner.pipeline.setup import prepare
from scanner.policy.config import Config
from scanner.sources.base import DEFAULT_MAX_FILE_SIZE
from scanner.sources.git.blobs import BlobLimits, GitBlobReader
from scanner.sources.git.ranges import Base


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("repo")
    parser.add_argument("--top", type=int, default=10)
    args = parser.parse_args()
    refs = new_blobs(args.repo)
    reader = GitBlobReader(str(Path(args.repo) / ".git"), BlobLimits(DEFAULT_MAX_FILE_SIZE, False), Base())
    chunks = [c.content for s in range(0, len(refs), BATCH) for r in reader.read(refs[s : s + BATCH]) for c in r.chunks]
    reader.close()
    detector = prepare(Config(), "hyperscan").detector
    spent: collections.Counter[str] = collections.Counter()
    calls: collections.Counter[str] = collections.Counter()
    found: collections.Counter[str] = collections.Counter()
    for content in chunks:
        scanned = detector.prefilter.scan(content)
        for index in scanned.candidates:
            rule = detector.rules[index]
            if not any(scanned.hits.positions(k) for k in rule.keywords):
                continue
            start = time.process_time()
            found[rule.id] += sum(1 for _ in rule_matches(rule, content, scanned.lowered, scanned.hits))
            spent[rule.id] += time.process_time() - start
            calls[rule.id] += 1
    size = sum(len(c) for c in chunks) / 1e6
    print(f"{len(chunks)} chunks, {size:.1f} MB; the rules' re time {sum(spent.values()):.3f} s")
    windows = {r.id: r.spec.window for r in detector.rules}
    for rule_id, seconds in spent.most_common(args.top):
        counts = f"{calls[rule_id]:6d} chunks {found[rule_id]:6d} matches"
        print(f"{seconds:7.3f} s {counts} window={windows[rule_id]} {rule_id}")


if __name__ == "__main__":
    main()
