#!/usr/bin/env python3
"""Which rules slow the Hyperscan database down: each rule's own database timed over a directory's files.

Usage::

    python bench/rulecost.py /tmp/bench-targets/pytest [--top 25]

A marked rule runs its regex wherever a keyword is: a short or common keyword (`wp_`) makes that costlier than
the Hyperscan time saved (measure a tree scan before and after).

Prints the whole database's time, then the costliest rules (seconds for their one-rule database over every
file, each file one scan as in a real run), and the whole database without them. A costly rule with rare
keywords is a candidate for ``prefilter: keywords`` (the rule's keywords go to Hyperscan instead of its regex;
findings stay the same, since the ``re`` engine's keyword prefilter gives the same candidates). Needs hyperscan.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import hyperscan

from scanner.detect.hscompile import compile_entries
from scanner.detect.prefilter import hs_entries
from scanner.ruleset import CompiledRule, load_ruleset


def database(rules: list[tuple[int, CompiledRule]]) -> Any:
    db = hyperscan.Database()
    compile_entries(db, [entry for index, rule in rules for entry in hs_entries(rule, index, hyperscan)])
    return db


def seconds(db: Any, files: list[bytes]) -> float:
    start = time.perf_counter()
    for data in files:
        db.scan(data, match_event_handler=lambda *_: None)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tree", type=Path)
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    files = [p.read_bytes() for p in args.tree.rglob("*") if p.is_file() and ".git" not in p.parts]
    rules = list(enumerate(load_ruleset().rules))
    print(f"{len(files)} files, {sum(map(len, files)) / 1e6:.1f} MB; {len(rules)} rules")
    print(f"whole database: {min(seconds(database(rules), files) for _ in range(3)):.4f} s")
    costs = sorted(((seconds(database([rule]), files), rule[1]) for rule in rules), key=lambda c: -c[0])
    for cost, rule in costs[: args.top]:
        mark = " (prefilter: keywords)" if rule.spec.prefilter_keywords else ""
        print(f"{cost:.4f}  {rule.id}{mark}  keywords: {', '.join(rule.spec.keywords)}")
    costly = {rule.id for _, rule in costs[: args.top]}
    rest = [rule for rule in rules if rule[1].id not in costly]
    print(f"without those: {min(seconds(database(rest), files) for _ in range(3)):.4f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
