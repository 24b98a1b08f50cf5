#!/usr/bin/env python3
"""Scan a corpus written by ``generate.py`` with leakstop and score it (the matching of
/work/shared/corpus/score.py, reduced to one finding file per sample).

Usage::

    python bench/heldout/score.py OUTDIR [--leakstop BIN] [--misses N] [--json OUT]

A positive sample is found when a finding in its file reports text containing the labelled secret; a negative
sample is a false positive when any finding is reported in its file. Prints recall overall, on random-looking
values and by context, the false-positive rate by negative kind, the rules behind the false positives, and the
providers with the most missed samples.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from collections import Counter, defaultdict
from pathlib import Path


def scan(leakstop: str, root: Path) -> dict[str, list[dict[str, object]]]:
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.json"
        cmd = [leakstop, "scan", "--no-config", "--no-baseline", "--no-progress", "--show-secrets"]
        cmd += ["--format", "json", "--output", str(report), "--exclude", "labels.jsonl", str(root)]
        subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        data = json.loads(report.read_text())
    by_path: dict[str, list[dict[str, object]]] = defaultdict(list)
    for finding in data["findings"]:
        path = Path(finding["location"]["path"])
        rel = path.relative_to(root) if path.is_absolute() else path
        by_path[str(rel)].append(finding)
    return by_path


def pct(a: int, b: int) -> str:
    return f"{a}/{b} = {100 * a / b:.1f} %" if b else "0/0"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("outdir", type=Path)
    parser.add_argument("--leakstop", default="leakstop")
    parser.add_argument("--misses", type=int, default=30, help="providers with the most misses to list")
    parser.add_argument("--json", type=Path, help="write the figures here")
    args = parser.parse_args()
    root = args.outdir.resolve()
    labels = [json.loads(line) for line in (root / "labels.jsonl").read_text().splitlines()]
    found = scan(args.leakstop, root)
    hit: Counter[str] = Counter()
    total: Counter[str] = Counter()
    misses: Counter[str] = Counter()
    fp_rules: Counter[str] = Counter()
    for label in labels:
        findings = found.get(label["path"], [])
        if label["label"] == "pos":
            ok = any(label["secret"] in str(f.get("secret", "")) for f in findings)
            keys = ["pos", f"pos:{label['kind']}"] + (["pos:random"] if label.get("random") else [])
            keys += ["pos:rules"] if label["rule"] else ["pos:tail"]
            for key in keys:
                total[key] += 1
                hit[key] += ok
            if not ok:
                misses[f"{label['provider']} ({label['rule'] or 'no rule'})"] += 1
        else:
            bad = bool(findings)
            for key in ("neg", f"neg:{label['kind']}"):
                total[key] += 1
                hit[key] += bad
            for f in findings:
                fp_rules[f"{f['rule']['id']} on {label['kind']}"] += 1
    figures = {key: [hit[key], total[key]] for key in sorted(total)}
    print(f"recall overall      {pct(hit['pos'], total['pos'])}")
    print(f"recall random       {pct(hit['pos:random'], total['pos:random'])}")
    print(f"false positives     {pct(hit['neg'], total['neg'])} of negatives")
    flagged = hit["pos"] + hit["neg"]
    print(f"precision           {pct(hit['pos'], flagged)} (found positives / all samples flagged)")
    for key in sorted(total):
        if key.count(":"):
            print(f"  {key:28} {pct(hit[key], total[key])}")
    print("false positives by rule and kind:")
    for key, n in fp_rules.most_common(25):
        print(f"  {n:4}  {key}")
    print(f"providers with the most misses (of {len(misses)}):")
    for key, n in misses.most_common(args.misses):
        print(f"  {n:4}  {key}")
    if args.json:
        args.json.write_text(json.dumps({"figures": figures, "misses": dict(misses)}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
