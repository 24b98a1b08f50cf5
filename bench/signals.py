"""Signals at random points of a history scan: is the whole process tree gone within 2 s, with the right code?

    python bench/signals.py                      # a generated repository of 3,000 commits, 20 points
    python bench/signals.py --repo PATH --points 40 --seed 7

The scan runs as ``python -m scanner scan --history --workers 2 --format json --output FILE`` in a session of
its own; at a random moment (within the length of one full scan, measured first) it gets SIGTERM or SIGINT,
alternately. Measured: the time from the signal until no process of the session is left (the scan, its forked
workers, their ``git cat-file`` and the ``git log`` it reads), the exit code (143 / 130 expected, or 0 / 1 when
the scan had already ended; -15 / -2 when the signal came before the handlers were installed, during the
first imports, which a shell reports as 143 / 130 too), and the ``--output`` file: absent, or a whole JSON
report (a partial report would be presented as complete). Prints a table and the maximum; exits 1 when a
point misses 2 s or its code.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LIMIT = 2.0  # seconds: the process tree must be gone within this
EXPECTED = {signal.SIGTERM: 143, signal.SIGINT: 130, signal.SIGHUP: 129}


@dataclass(frozen=True)
class Point:
    signum: int
    at: float  # seconds after the start the signal was sent
    code: int | None  # the exit code (None: still there after the wait, killed)
    ended: float  # seconds from the signal until the scan process itself ended
    gone: float  # seconds from the signal until the whole session was gone
    output: str  # "none", "complete" or "PARTIAL"

    @property
    def ok(self) -> bool:
        # -N: killed by the signal itself, before the handlers are in (the first imports: no child yet) or after
        # the report was written (interpreter shutdown); a shell reports that as 128 + N too.
        stopped = self.code in (EXPECTED[self.signum], -self.signum)
        finished_first = self.code in (0, 1) and self.output == "complete"  # the scan ended before the signal
        return self.gone <= LIMIT and self.output != "PARTIAL" and (stopped or finished_first)


def make_repo(path: Path, commits: int, files: int = 40) -> Path:
    """A repository of ``commits`` commits, each changing three of ``files`` text files (through fast-import)."""
    path.mkdir(parents=True)
    env = {**os.environ, "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": "/dev/null"}
    subprocess.run(["git", "init", "-q", "-b", "main", str(path)], check=True, env=env)
    rng = random.Random(1)
    stream: list[bytes] = []
    contents = {i: [f"line {j} of file {i}" for j in range(60)] for i in range(files)}
    for n in range(commits):
        stream.append(b"commit refs/heads/main\n")
        stream.append(f"committer t <t@example.com> {1700000000 + n} +0000\n".encode())
        message = f"change {n}\n".encode()
        stream.append(b"data %d\n%s" % (len(message), message))
        for index in rng.sample(range(files), 3):
            contents[index][rng.randrange(60)] = f"edit {n} " + "x" * rng.randrange(10, 80)
            data = ("\n".join(contents[index]) + "\n").encode()
            stream.append(b"M 100644 inline dir%d/file%d.txt\ndata %d\n%s\n" % (index % 5, index, len(data), data))
    subprocess.run(["git", "-C", str(path), "fast-import", "--quiet"], input=b"".join(stream), check=True, env=env)
    subprocess.run(["git", "-C", str(path), "reset", "-q", "--hard"], check=True, env=env)
    return path


def command(repo: Path, output: Path, workers: int) -> list[str]:
    scan = ["scan", "--no-progress", "--no-config", "--history", "--workers", str(workers)]
    return [sys.executable, "-m", "scanner", *scan, "--format", "json", "--output", str(output), str(repo)]


def _session_gone(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return True
    return False


def run_point(repo: Path, at: float, signum: int, workdir: Path, workers: int = 2) -> Point:
    """One scan, signalled ``at`` seconds after its start; waits at most 10 s for the tree to go."""
    output = workdir / f"report-{time.monotonic_ns()}.json"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        command(repo, output, workers),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
        start_new_session=True,
    )
    time.sleep(at)
    sent = time.monotonic()
    with contextlib.suppress(ProcessLookupError):  # it may have ended already
        os.kill(proc.pid, signum)
    code: int | None = None
    ended = 10.0
    while time.monotonic() - sent < 10:
        if code is None and proc.poll() is not None:
            code = proc.returncode
            ended = time.monotonic() - sent
        if code is not None and _session_gone(proc.pid):
            break
        time.sleep(0.005)
    gone = time.monotonic() - sent
    if not _session_gone(proc.pid):
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    return Point(signum, at, code, ended, gone, _output_state(output))


def _output_state(output: Path) -> str:
    if not output.exists():
        return "none"
    try:
        json.loads(output.read_text(encoding="utf-8"))
    except ValueError:
        return "PARTIAL"
    return "complete"


def full_scan_seconds(repo: Path, workdir: Path, workers: int) -> float:
    started = time.monotonic()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    subprocess.run(command(repo, workdir / "full.json", workers), env=env, capture_output=True, check=False)
    return time.monotonic() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", type=Path, help="a repository to scan (default: a generated one)")
    parser.add_argument("--commits", type=int, default=3000, help="commits of the generated repository")
    parser.add_argument("--points", type=int, default=20)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory(prefix="leakstop-signals-") as tmp:
        workdir = Path(tmp)
        repo = args.repo or make_repo(workdir / "repo", args.commits)
        full_scan_seconds(repo, workdir, args.workers)  # warm: the rules' cache, the page cache
        length = full_scan_seconds(repo, workdir, args.workers)
        print(f"repository {repo}: one full history scan takes {length:.2f}s")
        print(f"{'#':>3}  {'signal':<8} {'at (s)':>7} {'exit':>5} {'ended (s)':>9} {'gone (s)':>9}  output    ok")
        points = []
        for index in range(args.points):
            signum = signal.SIGTERM if index % 2 == 0 else signal.SIGINT
            point = run_point(repo, rng.uniform(0.05, 0.95) * length, signum, workdir, args.workers)
            points.append(point)
            name = signal.Signals(signum).name
            print(
                f"{index + 1:>3}  {name:<8} {point.at:>7.2f} {point.code!s:>5} {point.ended:>9.3f} {point.gone:>9.3f}"
                f"  {point.output:<9} {'yes' if point.ok else 'NO'}"
            )
    print(f"max time until the process tree was gone: {max(p.gone for p in points):.3f}s (limit {LIMIT:g}s)")
    failed = [p for p in points if not p.ok]
    print(f"{len(points) - len(failed)}/{len(points)} points ok")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
