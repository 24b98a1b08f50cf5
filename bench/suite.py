#!/usr/bin/env python3
"""Every row of issue #17's table that runs here, in one run: ``bench.py`` once per row, then one summary.

Usage::

    python bench/suite.py [--targets /tmp/bench-targets] [--runs 10] [--json OUT] [--only-rows file,staged]

Rows: psf/requests and pytest-dev/pytest HEAD tree (``dir``) and full history, numpy's history when
``<targets>/numpy`` exists (one run: it takes minutes), one small file (start-up) and a pre-commit hook over 10
staged files. The small file and the hook's repository are made here, from this project's own source files (no
secret in them), in a scratch directory. Each row is measured by ``bench.py`` as documented there (warm-up,
round-robin runs, medians, peak RSS of the largest process and sampled RSS of the whole process tree).

ratio = the fastest peer's median wall time / leakstop's (above 1: leakstop is faster). Standard library only.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import bench  # noqa: E402  (a sibling script, not a package)

STAGED_FILES = 10


def hook_repository(root: Path) -> Path:
    """A repository with one commit and ``STAGED_FILES`` source files staged on top of it."""
    repo = root / "hook-repo"
    repo.mkdir()
    git = ["git", "-C", str(repo), "-c", "user.name=bench", "-c", "user.email=bench@example.invalid"]
    subprocess.run([*git, "init", "-q"], check=True)
    (repo / "README.md").write_text("# bench\n")
    subprocess.run([*git, "add", "README.md"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "initial"], check=True)
    sources = sorted((HERE.parent / "scanner").rglob("*.py"))[:STAGED_FILES]
    for index, source in enumerate(sources):
        (repo / f"m{index}.py").write_bytes(source.read_bytes())
    subprocess.run([*git, "add", "-A"], check=True)
    return repo


def small_file(root: Path) -> Path:
    path = root / "small.py"
    path.write_text('"""A small module."""\n\nVALUE = 1\n')
    return path


def rows(targets: Path, scratch: Path, only: set[str]) -> list[tuple[str, str, Path, int | None]]:
    """(row name, bench mode, target, runs override) for every row whose target is here."""
    found: list[tuple[str, str, Path, int | None]] = []
    for repo in ("requests", "pytest"):
        if (targets / repo / ".git").exists():
            found.append((f"{repo} HEAD tree", "dir", targets / repo, None))
            found.append((f"{repo} full history", "history", targets / repo, None))
    if (targets / "numpy" / ".git").exists():
        found.append(("numpy full history", "history", targets / "numpy", 1))
    found.append(("one small file", "file", small_file(scratch), None))
    found.append((f"pre-commit, {STAGED_FILES} staged files", "staged", hook_repository(scratch), None))
    return [row for row in found if not only or row[1] in only or row[0].split()[0] in only]


def summary(name: str, results: list[dict[str, Any]]) -> dict[str, Any]:
    ok = [r for r in results if r["status"] == "ok" and r["median_s"] is not None and "[" not in r["tool"]]
    ours = next((r for r in ok if r["tool"] == "leakstop"), None)
    before = next((r for r in results if r["tool"] == "leakstop[before]" and r["status"] == "ok"), None)
    peers = [r for r in ok if r["tool"] != "leakstop"]
    fastest = min(peers, key=lambda r: r["median_s"]) if peers else None
    ratio = fastest["median_s"] / ours["median_s"] if ours and fastest else None
    return {
        "row": name,
        "leakstop_s": ours and ours["median_s"],
        "before_s": before and before["median_s"],
        "leakstop_peak_rss_mb": ours and ours["peak_rss_mb"],
        "leakstop_tree_rss_mb": ours and ours["tree_rss_mb"],
        "fastest_peer": fastest and fastest["tool"],
        "fastest_peer_s": fastest and fastest["median_s"],
        "ratio": ratio,
        "peers": {r["tool"]: [r["median_s"], r["peak_rss_mb"], r["tree_rss_mb"]] for r in peers},
    }


def render(lines: list[dict[str, Any]]) -> str:
    def num(value: float | None, spec: str) -> str:
        return "—" if value is None else format(value, spec)

    out = [
        "| row | before s | leakstop s | fastest peer | its s | ratio | leakstop RSS MB (largest / tree) "
        "| peers: s, RSS MB |",
        "|---|--:|--:|---|--:|--:|--:|---|",
    ]
    for line in lines:
        peers = "; ".join(
            f"{tool} {num(s, '.3f')} s, {num(rss, '.0f')}/{num(tree, '.0f')}"
            for tool, (s, rss, tree) in line["peers"].items()
        )
        rss = f"{num(line['leakstop_peak_rss_mb'], '.0f')} / {num(line['leakstop_tree_rss_mb'], '.0f')}"
        out.append(
            f"| {line['row']} | {num(line['before_s'], '.3f')} | {num(line['leakstop_s'], '.3f')} | "
            f"{line['fastest_peer'] or '—'} | "
            f"{num(line['fastest_peer_s'], '.3f')} | {num(line['ratio'], '.2f')}× | {rss} | {peers} |"
        )
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="issue #17's benchmark table in one run")
    parser.add_argument("--targets", type=Path, default=Path("/tmp/bench-targets"))
    parser.add_argument("--runs", type=int, default=10, help="timed runs per tool and row (10)")
    parser.add_argument("--leakstop", metavar="CMD", help="leakstop command (as bench.py --leakstop)")
    parser.add_argument("--before", metavar="CMD", help="an earlier leakstop build for a before column")
    parser.add_argument("--only-rows", default="", help="comma-separated modes or target names: file,staged,pytest")
    parser.add_argument("--json", type=Path, metavar="OUT", help="also write every row's results here")
    args = parser.parse_args(argv)
    only = {word for word in args.only_rows.split(",") if word}
    lines: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="leakstop-suite-") as scratch:
        for name, mode, target, runs in rows(args.targets, Path(scratch), only):
            out = Path(scratch) / f"{mode}-{target.name}.json"
            extra = ["--leakstop", args.leakstop] if args.leakstop else []
            extra += ["--leakstop-before", args.before] if args.before else []
            print(f"suite: {name}", file=sys.stderr)
            code = bench.main(
                [
                    str(target),
                    "--mode",
                    mode,
                    "--runs",
                    str(runs or args.runs),
                    "--no-variants",
                    "--json",
                    str(out),
                    *extra,
                ]
            )
            if code != 0 or not out.exists():
                print(f"suite: {name}: bench.py exited {code}", file=sys.stderr)
                continue
            lines.append(summary(name, json.loads(out.read_text())["results"]))
    print(render(lines))
    if args.json:
        args.json.write_text(json.dumps(lines, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
