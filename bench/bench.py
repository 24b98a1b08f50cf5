#!/usr/bin/env python3
"""Side-by-side benchmark of leakstop against peer secret scanners on ONE target.

Usage (see bench/README.md)::

    python bench/bench.py --mode dir     /tmp/bench-targets/requests
    python bench/bench.py --mode history /tmp/bench-targets/requests --json /tmp/requests-history.json
    python bench/bench.py --mode image   /tmp/some-image.tar
    python bench/bench.py --mode file    /tmp/small.py        # start-up: one small file
    python bench/bench.py --mode staged  /tmp/hook-repo       # the pre-commit hook: what the index adds
    python bench/suite.py                                     # every row of issue #17 in one run

Every tool is run as a separate process, the same way: one (or ``--warmup``) discarded warm-up run, then
``--runs`` timed runs, round-robin across tools by default (``--order``); the table shows the median wall
time. Standard library only.

What is measured:

* wall seconds: ``time.perf_counter`` around spawn → ``os.wait4`` of the child (whole process lifetime,
  including start-up, rule compilation / cache loading and report writing);
* CPU seconds: user + system time of the child and every descendant it waited for (``wait4`` rusage);
* peak RSS (largest process): the high-water mark of the single largest process among the child and its
  waited-for descendants, NOT the sum over the tree. Measured in the warm-up runs through GNU time (``%M``) where
  ``/usr/bin/time`` exists: ``wait4``'s ``ru_maxrss`` of a child this harness spawns starts at the harness's own
  high-water mark (the kernel carries it over the child's ``exec``), so a small tool run from a grown harness
  showed the harness's size. Without GNU time it falls back to ``wait4`` of the timed runs;
* tree RSS (sampled): sum of RSS over every process in the child's session, polled from /proc every
  ``--sample-ms`` during the warm-up run only (timed runs are not perturbed by sampling);
* MB/s: target bytes / median wall seconds, with the SAME target bytes for every tool (dir: regular files
  outside .git; history: unique blobs reachable from all refs; image: tarball size);
* ratio: peer median / leakstop median (> 1 means leakstop is faster).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import re
import shlex
import shutil
import signal
import stat
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
MODES = ("dir", "history", "image", "file", "staged")  # file: one file (start-up); staged: the pre-commit hook
MB = 1_000_000  # decimal megabytes everywhere (MB, MB/s)
GNU_TIME = "/usr/bin/time"
ANSI = re.compile(r"\x1b\[[0-9;]*m")
GITLEAKS_BYTES = re.compile(r"scanned ~(\d+) bytes")
USAGE_ERROR = re.compile(r"usage:|unrecognized argument|invalid choice|no such option|unknown option", re.I)
# Environment variables that would change a peer's rules or turn on network validation.
SCRUB_ENV = (
    "GITLEAKS_CONFIG",
    "GITLEAKS_CONFIG_TOML",
    "BETTERLEAKS_CONFIG",
    "BETTERLEAKS_CONFIG_TOML",
    "BETTERLEAKS_VALIDATE",
    "BETTERLEAKS_ANALYZE",
    "KINGFISHER_ALERT_REPORT_URL",
)
KINGFISHER_OK = frozenset({0, 200, 205})  # 200: findings, 205: validated findings


# --------------------------------------------------------------------------------------------------------
# Data


@dataclass
class ToolRun:
    """How to run one tool once; ``report`` is the file (or captured stdout) holding its findings."""

    tool: str
    argv: list[str]
    cwd: Path | None
    report: Path | None
    ok_codes: frozenset[int]
    parse: Callable[[Path, Path, Path], tuple[int | None, int | None]]  # (report, stdout, stderr)
    note: str = ""
    is_leakstop: bool = False


@dataclass
class RunSample:
    wall_s: float
    cpu_s: float
    maxrss_mb: float
    exit_code: int
    tree_rss_mb: float | None = None
    largest_rss_mb: float | None = None  # GNU time's %M: warm-up runs only


@dataclass
class Result:
    tool: str
    mode: str
    status: str  # ok | error: ... | unsupported | missing: ... | unavailable: ... | not applicable
    argv: list[str] = field(default_factory=list)
    cwd: str | None = None
    note: str = ""
    walls_s: list[float] = field(default_factory=list)
    median_s: float | None = None
    min_s: float | None = None
    max_s: float | None = None
    cpu_s: float | None = None
    mb_per_s: float | None = None
    peak_rss_mb: float | None = None
    tree_rss_mb: float | None = None
    findings: int | None = None
    tool_bytes: int | None = None
    exit_codes: list[int] = field(default_factory=list)
    ratio_vs_leakstop: float | None = None


# --------------------------------------------------------------------------------------------------------
# Target size


def dir_bytes(root: Path) -> tuple[int, int]:
    """Total size and count of regular files under ``root``, not following symlinks, skipping every .git."""
    total = files = 0
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d != ".git"]
        for name in filenames:
            if name == ".git":  # a worktree/submodule .git file
                continue
            st = os.lstat(os.path.join(dirpath, name))
            if stat.S_ISREG(st.st_mode):
                total += st.st_size
                files += 1
    return total, files


def _sum_blobs(batch_check_output: str) -> tuple[int, int]:
    total = count = 0
    for line in batch_check_output.splitlines():
        kind, _, size = line.partition(" ")
        if kind == "blob":
            total += int(size)
            count += 1
    return total, count


def history_bytes(repo: Path) -> dict[str, int]:
    """Unique blob bytes: all objects in the store (``--batch-all-objects``) and reachable from all refs."""
    fmt = "--batch-check=%(objecttype) %(objectsize)"
    every = subprocess.run(
        ["git", "-C", str(repo), "cat-file", "--batch-all-objects", fmt],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    all_bytes, all_count = _sum_blobs(every)
    # Reachable from all refs: rev-list prints "<oid> <path>"; cat-file wants only the oid. A snapshot may miss
    # an object (numpy's does, one blob): rev-list lists it as "?<oid>" instead of failing, and it is counted.
    revs = subprocess.run(
        ["git", "-C", str(repo), "rev-list", "--all", "--objects", "--missing=print"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    lines = revs.splitlines()
    missing = sum(1 for line in lines if line.startswith("?"))
    oids = "".join(line.split(" ", 1)[0] + "\n" for line in lines if not line.startswith("?"))
    reach = subprocess.run(
        ["git", "-C", str(repo), "cat-file", fmt],
        input=oids,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    reach_bytes, reach_count = _sum_blobs(reach)
    commits = subprocess.run(
        ["git", "-C", str(repo), "rev-list", "--all", "--count"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    return {
        "store_blob_bytes": all_bytes,
        "store_blobs": all_count,
        "reachable_blob_bytes": reach_bytes,
        "reachable_blobs": reach_count,
        "commits_all_refs": int(commits or 0),
        "missing_objects": missing,
    }


def staged_bytes(repo: Path) -> int:
    """Bytes of the blobs the index holds for paths it changes against HEAD (what a pre-commit hook reads)."""
    names = subprocess.run(
        ["git", "-C", str(repo), "diff", "--cached", "--name-only", "-z", "--no-renames"],
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    total = 0
    for name in filter(None, names):
        size = subprocess.run(
            ["git", "-C", str(repo), "cat-file", "-s", ":" + name.decode("utf-8", "surrogateescape")],
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()
        total += int(size or 0)
    return total


# --------------------------------------------------------------------------------------------------------
# Report parsing


def _load_json(path: Path) -> Any:
    with path.open("rb") as f:
        return json.load(f)


def _find_key(obj: Any, key: str, depth: int = 4) -> Any:
    if depth < 0:
        return None
    if isinstance(obj, dict):
        if key in obj:
            return obj[key]
        for value in obj.values():
            found = _find_key(value, key, depth - 1)
            if found is not None:
                return found
    return None


def count_findings(obj: Any) -> int | None:
    """A list of findings, ``{"findings": [...]}``, or detect-secrets' ``{"results": {file: [...]}}``."""
    if isinstance(obj, list):
        return len(obj)
    if isinstance(obj, dict):
        if isinstance(obj.get("findings"), list):
            return len(obj["findings"])
        if isinstance(obj.get("results"), dict):
            return sum(len(v) for v in obj["results"].values() if isinstance(v, list))
        if isinstance(obj.get("results"), list):
            return len(obj["results"])
        for key in ("num_findings", "findings_count", "total_findings"):
            value = _find_key(obj, key)
            if isinstance(value, int):
                return value
    return None


def parse_json_report(report: Path, _stdout: Path, _stderr: Path) -> tuple[int | None, int | None]:
    """Findings and bytes from a JSON report; raises if the report is missing or not JSON."""
    obj = _load_json(report)
    nbytes = _find_key(obj, "bytes_scanned")
    return count_findings(obj), nbytes if isinstance(nbytes, int) else None


def parse_gitleaks(report: Path, stdout: Path, stderr: Path) -> tuple[int | None, int | None]:
    findings, _ = parse_json_report(report, stdout, stderr)
    match = GITLEAKS_BYTES.search(ANSI.sub("", stderr.read_text(errors="replace")))
    return findings, int(match.group(1)) if match else None


def parse_stdout_json(_report: Path, stdout: Path, stderr: Path) -> tuple[int | None, int | None]:
    return parse_json_report(stdout, stdout, stderr)


# --------------------------------------------------------------------------------------------------------
# Process measurement


def _proc_session_rss(session: int, page: int) -> int:
    """Sum of RSS bytes of every live process whose session id is ``session``."""
    total = 0
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as f:
                raw = f.read()
        except OSError:
            continue
        fields = raw[raw.rfind(b")") + 2 :].split()
        # fields[0] is field 3 (state): session is field 6, rss (pages) is field 24.
        if len(fields) > 21 and int(fields[3]) == session:
            total += int(fields[21]) * page
    return total


class TreeSampler:
    """Polls /proc for the summed RSS of the child's session (the child is started with setsid)."""

    def __init__(self, session: int, interval_s: float) -> None:
        self.session = session
        self.interval_s = interval_s
        self.peak = 0
        self._stop = threading.Event()
        self._page = os.sysconf("SC_PAGE_SIZE")
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(OSError, ValueError):
                self.peak = max(self.peak, _proc_session_rss(self.session, self._page))
            self._stop.wait(self.interval_s)

    def __enter__(self) -> TreeSampler:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()


def run_once(
    run: ToolRun, env: dict[str, str], workdir: Path, timeout_s: float, sample_ms: float | None
) -> tuple[RunSample, Path, Path]:
    """Run the tool once; the report file is removed first so a stale report is never parsed."""
    if run.report is not None:
        run.report.unlink(missing_ok=True)
    out_path = workdir / f"{_slug(run.tool)}.stdout"
    err_path = workdir / f"{_slug(run.tool)}.stderr"
    rss_path = workdir / f"{_slug(run.tool)}.maxrss"
    rss_path.unlink(missing_ok=True)
    argv = run.argv
    if sample_ms and os.access(GNU_TIME, os.X_OK):  # warm-up runs only: timed runs are not wrapped
        argv = [GNU_TIME, "-f", "%M", "-o", str(rss_path), *argv]
    with out_path.open("wb") as out, err_path.open("wb") as err:
        start = time.perf_counter()
        proc = subprocess.Popen(
            argv,
            cwd=run.cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            start_new_session=True,  # own session: tree sampling by session id, and killpg on timeout
        )
        killer = threading.Timer(timeout_s, _kill_group, args=(proc.pid,))
        killer.start()
        sampler = TreeSampler(proc.pid, sample_ms / 1000) if sample_ms else None
        try:
            if sampler is not None:
                with sampler:
                    _, status, usage = os.wait4(proc.pid, 0)
            else:
                _, status, usage = os.wait4(proc.pid, 0)
        finally:
            killer.cancel()
        wall = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    proc.returncode = code  # reaped by wait4; tell Popen so it does not try again
    sample = RunSample(
        wall_s=wall,
        cpu_s=usage.ru_utime + usage.ru_stime,
        maxrss_mb=usage.ru_maxrss * 1024 / MB,  # Linux reports KiB
        exit_code=code,
        tree_rss_mb=sampler.peak / MB if sampler is not None and sampler.peak else None,
        largest_rss_mb=_gnu_time_maxrss(rss_path),
    )
    return sample, out_path, err_path


def _gnu_time_maxrss(path: Path) -> float | None:
    """GNU time's ``%M`` (KiB), the last line of its output file (a failed command's status line comes first)."""
    try:
        lines = path.read_text().split()
    except OSError:
        return None
    return int(lines[-1]) * 1024 / MB if lines and lines[-1].isdigit() else None


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def _incomplete(run: ToolRun, err_path: Path) -> bool:
    """betterleaks' exit 1 for a scan it calls incomplete (objects git could not read), not a failure."""
    return run.tool == "betterleaks" and "incomplete scan" in err_path.read_text(errors="replace")


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name)


def _last_line(path: Path) -> str:
    lines = [ln.strip() for ln in ANSI.sub("", path.read_text(errors="replace")).splitlines() if ln.strip()]
    return lines[-1][:200] if lines else ""


class Measurer:
    """Accumulates one tool's runs; ``step`` runs it once. A failed run ends the tool (``done``)."""

    def __init__(self, run: ToolRun, mode: str, env: dict[str, str], workdir: Path, args: argparse.Namespace):
        self.run, self.env, self.workdir, self.args = run, env, workdir, args
        self.result = Result(
            tool=run.tool,
            mode=mode,
            status="ok",
            argv=run.argv,
            cwd=str(run.cwd) if run.cwd else None,
            note=run.note,
        )
        self.samples: list[RunSample] = []
        self.tree_peaks: list[float] = []
        self.largest_peaks: list[float] = []
        self.done = False

    def step(self, warm: bool, label: str) -> None:
        run, res, args = self.run, self.result, self.args
        print(f"  {run.tool:<30} {label:<12} ...", end="", flush=True, file=sys.stderr)
        sampling = args.sample_ms if warm and args.sample_ms > 0 else None
        sample, out_path, err_path = run_once(run, self.env, self.workdir, args.timeout, sampling)
        print(f" {sample.wall_s:7.2f}s rc={sample.exit_code}", file=sys.stderr)
        res.exit_codes.append(sample.exit_code)
        if sample.exit_code < 0:
            self._fail(f"error: killed by signal {-sample.exit_code} (timeout {args.timeout:g}s?)")
            return
        if sample.exit_code not in run.ok_codes and _incomplete(run, err_path):
            # betterleaks exits 1 despite --exit-code 0 when git could not read every object (numpy's snapshot
            # misses one blob): its report is whole for what it read, and the row says so.
            if "incomplete" not in res.note:
                res.note = (res.note + "; " if res.note else "") + "incomplete scan (the target misses objects)"
        elif sample.exit_code not in run.ok_codes:
            tail = _last_line(err_path) or _last_line(out_path)
            usage = USAGE_ERROR.search(err_path.read_text(errors="replace"))
            if run.is_leakstop and sample.exit_code == 2 and (usage or not tail):
                res.note = (res.note + "; " if res.note else "") + tail
                self._fail("unsupported")
            else:
                self._fail(f"error: exit {sample.exit_code}: {tail}")
            return
        try:
            res.findings, res.tool_bytes = run.parse(run.report or out_path, out_path, err_path)
        except (OSError, ValueError) as exc:
            # e.g. leakstop exiting 1 from a traceback: the exit code looks fine but there is no report.
            name = exc.__class__.__name__
            self._fail(f"error: exit {sample.exit_code}, no readable report ({name}): {_last_line(err_path)}")
            return
        if not warm:
            self.samples.append(sample)
            return
        if sample.tree_rss_mb is not None:
            self.tree_peaks.append(sample.tree_rss_mb)
        if sample.largest_rss_mb is not None:
            self.largest_peaks.append(sample.largest_rss_mb)

    def _fail(self, status: str) -> None:
        self.result.status = status
        self.done = True

    def finish(self) -> Result:
        res, samples = self.result, self.samples
        if self.done or not samples:
            return res
        res.walls_s = [round(s.wall_s, 4) for s in samples]
        res.median_s = statistics.median(s.wall_s for s in samples)
        res.min_s = min(s.wall_s for s in samples)
        res.max_s = max(s.wall_s for s in samples)
        res.cpu_s = statistics.median(s.cpu_s for s in samples)
        res.peak_rss_mb = max(self.largest_peaks or [s.maxrss_mb for s in samples])
        res.tree_rss_mb = max(self.tree_peaks) if self.tree_peaks else None
        return res


def measure_all(measurers: list[Measurer], warmup: int, runs: int, interleave: bool) -> None:
    """Warm-up then timed runs. Interleaved: round-robin over tools, so slow drifts in machine load hit every
    tool alike; sequential: all runs of one tool, then the next."""
    plan = [(True, f"warm-up {i + 1}/{warmup}") for i in range(warmup)]
    plan += [(False, f"run {i + 1}/{runs}") for i in range(runs)]
    if interleave:
        for warm, label in plan:
            for m in measurers:
                if not m.done:
                    m.step(warm, label)
    else:
        for m in measurers:
            for warm, label in plan:
                if not m.done:
                    m.step(warm, label)


# --------------------------------------------------------------------------------------------------------
# Tool command lines


def load_peers(path: Path) -> dict[str, str]:
    peers: dict[str, str] = {}
    if path.is_file():
        for line in path.read_text().splitlines():
            key, sep, value = line.strip().partition("=")
            if sep and not key.startswith("#"):
                peers[key.strip()] = value.strip().strip("'\"")
    for key in ("GITLEAKS", "BETTERLEAKS", "KINGFISHER", "DETECT_SECRETS"):
        if key not in peers and os.environ.get(key):
            peers[key] = os.environ[key]
    return peers


def leakstop_command(spec: str | None) -> tuple[list[str], Path]:
    """The leakstop command prefix and the directory to run it from (the repo root, so -m scanner works)."""
    if spec:
        return shlex.split(spec), REPO_ROOT
    exe = shutil.which("leakstop")
    if exe:
        return [exe], REPO_ROOT
    # The project's own venv (editable install) has the optional native deps (hyperscan, pygit2) that a bare
    # interpreter may lack; without them leakstop runs its fallback engine and the numbers mean little.
    venv_exe = REPO_ROOT / ".venv" / "bin" / "leakstop"
    if os.access(venv_exe, os.X_OK):
        return [str(venv_exe)], REPO_ROOT
    return [sys.executable, "-m", "scanner"], REPO_ROOT


def leakstop_deps(cmd: list[str], env: dict[str, str]) -> dict[str, bool] | None:
    """Which optional native modules leakstop's interpreter can import, or None if it can't be told."""
    python: str | None = None
    if Path(cmd[0]).name.startswith("python"):
        python = shutil.which(cmd[0]) or cmd[0]
    else:
        with contextlib.suppress(OSError), open(shutil.which(cmd[0]) or cmd[0], "rb") as f:
            first = f.readline(512)
            if first.startswith(b"#!"):
                python = first[2:].decode(errors="replace").split()[0]
    if python is None:
        return None
    deps: dict[str, bool] = {}
    for module in ("hyperscan", "pygit2"):
        probe = subprocess.run(
            [python, "-c", f"import {module}"], env=env, capture_output=True, timeout=60, check=False
        )
        deps[module] = probe.returncode == 0
    return deps


def is_git_worktree(path: Path) -> bool:
    return (path / ".git").exists()


def build_runs(
    mode: str,
    target: Path,
    *,
    peers: dict[str, str],
    leak_cmd: list[str],
    leak_cwd: Path,
    workdir: Path,
    args: argparse.Namespace,
) -> tuple[list[ToolRun], list[Result]]:
    """ToolRuns to measure, plus Results for tools that are missing or not applicable."""
    runs: list[ToolRun] = []
    skipped: list[Result] = []
    t = str(target)

    def rep(name: str, ext: str = "json") -> Path:
        return workdir / f"{_slug(name)}.{ext}"

    # leakstop
    ls_rep = rep("leakstop")
    ls_target = {
        "dir": [t],
        "file": [t],
        "history": ["--history", t],
        "staged": ["--staged", t],
        "image": ["--image", t],
    }[mode]
    runs.append(
        ToolRun(
            "leakstop",
            [*leak_cmd, "scan", *ls_target, "--format", "json", "--output", str(ls_rep)],
            leak_cwd,
            ls_rep,
            frozenset({0, 1}),
            parse_json_report,
            is_leakstop=True,
        )
    )
    if args.leakstop_before:
        # The same scan by an earlier build, for a before/after in one run; "[" keeps it out of the peer ratio.
        before_rep = rep("leakstop-before")
        before_cmd = [*shlex.split(args.leakstop_before), "scan", *ls_target, "--format", "json"]
        runs.append(
            ToolRun(
                "leakstop[before]",
                [*before_cmd, "--output", str(before_rep)],
                leak_cwd,
                before_rep,
                frozenset({0, 1}),
                parse_json_report,
            )
        )

    def missing(tool: str, key: str) -> bool:
        path = peers.get(key)
        if path and os.access(path, os.X_OK):
            return False
        skipped.append(Result(tool=tool, mode=mode, status=f"missing: ${key} not set or not executable"))
        return True

    # gitleaks
    if mode == "image":
        skipped.append(Result(tool="gitleaks", mode=mode, status="not applicable"))
    elif not missing("gitleaks", "GITLEAKS"):
        gl = peers["GITLEAKS"]
        gl_rep = rep("gitleaks")
        common = ["--no-banner", "--report-format", "json", "--report-path", str(gl_rep), "--exit-code", "0"]
        if mode in ("dir", "file"):
            argv = [gl, "dir", t, *common]
            note = "skips .git and binary/image files via its default allowlist"
        elif mode == "staged":
            argv = [gl, "git", t, "--staged", "--pre-commit", *common]
            note = "git --staged --pre-commit: git diff --cached"
        else:
            argv = [gl, "git", t, "--log-opts=--all", *common]
            note = "git log -p --all: scans added lines of each patch"
        runs.append(ToolRun("gitleaks", argv, None, gl_rep, frozenset({0}), parse_gitleaks, note))

    # betterleaks
    if mode == "image":
        skipped.append(Result(tool="betterleaks", mode=mode, status="not applicable"))
    elif not missing("betterleaks", "BETTERLEAKS"):
        bl = peers["BETTERLEAKS"]
        common = ["--no-banner", "--exit-code", "0"]  # never --validate: network stays off
        if mode == "staged":
            r = rep("betterleaks")
            argv = [bl, "git", "--staged", t, *common, "-o", str(r)]
            runs.append(ToolRun("betterleaks", argv, None, r, frozenset({0}), parse_json_report, "git --staged"))
        elif mode in ("dir", "file"):
            if is_git_worktree(target):
                # betterleaks fs has no path exclude and reads .git (packs included) as plain files; scanning
                # several paths runs one scan per path. So give it a .git-free copy of the same tree.
                copy = workdir / "tree-copy" / target.name
                if not copy.exists():
                    shutil.copytree(target, copy, symlinks=True, ignore=shutil.ignore_patterns(".git"))
                r = rep("betterleaks")
                runs.append(
                    ToolRun(
                        "betterleaks",
                        [bl, "fs", str(copy), *common, "-o", str(r)],
                        None,
                        r,
                        frozenset({0}),
                        parse_json_report,
                        f"fs on a .git-free copy of the target ({copy})",
                    )
                )
                if args.variants:
                    r2 = rep("betterleaks+git")
                    runs.append(
                        ToolRun(
                            "betterleaks[+.git]",
                            [bl, "fs", t, *common, "-o", str(r2)],
                            None,
                            r2,
                            frozenset({0}),
                            parse_json_report,
                            "fs on the target as-is: also reads .git/ raw (pack files)",
                        )
                    )
            else:
                r = rep("betterleaks")
                runs.append(
                    ToolRun(
                        "betterleaks",
                        [bl, "fs", t, *common, "-o", str(r)],
                        None,
                        r,
                        frozenset({0}),
                        parse_json_report,
                    )
                )
        else:
            r = rep("betterleaks")
            runs.append(
                ToolRun(
                    "betterleaks",
                    [bl, "git", t, *common, "-o", str(r)],
                    None,
                    r,
                    frozenset({0}),
                    parse_json_report,
                    "default = all refs, parallel history streams",
                )
            )
            if args.variants:
                r2 = rep("betterleaks-logopts")
                runs.append(
                    ToolRun(
                        "betterleaks[--log-opts=--all]",
                        [bl, "git", t, "--log-opts=--all", *common, "-o", str(r2)],
                        None,
                        r2,
                        frozenset({0}),
                        parse_json_report,
                        "--log-opts forces a single git log stream",
                    )
                )

    # Kingfisher
    if not missing("kingfisher", "KINGFISHER"):
        kf = peers["KINGFISHER"]
        r = rep("kingfisher")
        net_off = ["--no-validate", "--no-update-check", "--format", "json", "--output", str(r)]
        if mode == "staged":
            argv = [kf, "scan", t, "--staged", *net_off]
            note = "--staged: a temporary commit diffed against HEAD"
        elif mode in ("dir", "file"):
            # Default --git-history is "full": on a checkout Kingfisher would scan all history too. And with
            # history off it still reads .git/ as plain files unless excluded.
            argv = [kf, "scan", t, "--git-history", "none", "--exclude", ".git", *net_off]
            note = "--git-history none --exclude .git (default would scan full history + .git/)"
        elif mode == "history":
            argv = [kf, "scan", t, "--git-history", "full", *net_off]
            note = "unique blobs from all refs, plus the working tree and .git/ files"
        else:
            argv = [kf, "scan", "docker", "--archive", t, *net_off]
            note = "scan docker --archive"
        runs.append(ToolRun("kingfisher", argv, None, r, KINGFISHER_OK, parse_json_report, note))

    # detect-secrets (optional, slow)
    if args.with_detect_secrets:
        if mode != "dir":
            skipped.append(Result(tool="detect-secrets", mode=mode, status="not applicable"))
        elif not missing("detect-secrets", "DETECT_SECRETS"):
            ds = peers["DETECT_SECRETS"]
            extra = [] if is_git_worktree(target) else ["--all-files"]
            runs.append(
                ToolRun(
                    "detect-secrets",
                    [ds, "scan", "--no-verify", *extra, "."],
                    target,
                    None,
                    frozenset({0}),
                    parse_stdout_json,
                    "git-tracked files" if not extra else "--all-files",
                )
            )
    return runs, skipped


def tool_version(argv: list[str], cwd: Path | None, env: dict[str, str]) -> str:
    try:
        proc = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"? ({exc.__class__.__name__})"
    text = ANSI.sub("", proc.stdout + proc.stderr).strip().splitlines()
    return text[0].strip() if proc.returncode == 0 and text else f"? (exit {proc.returncode})"


def leakstop_preflight(cmd: list[str], cwd: Path, env: dict[str, str]) -> str | None:
    """None when ``leakstop scan --help`` works, else why not."""
    try:
        proc = subprocess.run(
            [*cmd, "scan", "--help"],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"{exc.__class__.__name__}: {exc}"
    if proc.returncode != 0:
        tail = [ln for ln in (proc.stderr + proc.stdout).strip().splitlines() if ln.strip()]
        return f"`scan --help` exit {proc.returncode}: {tail[-1].strip() if tail else ''}"
    return None


# --------------------------------------------------------------------------------------------------------
# Output


def _fmt(value: float | int | None, spec: str) -> str:
    return "—" if value is None else format(value, spec)


def render_table(results: list[Result]) -> str:
    headers = [
        "tool",
        "mode",
        "status",
        "wall s (median)",
        "min–max s",
        "CPU s",
        "MB/s",
        "peak RSS MB (largest proc)",
        "tree RSS MB (sampled)",
        "findings",
        "tool-read MB",
        "peer/leakstop",
    ]
    rows: list[list[str]] = []
    for r in results:
        status = r.status if len(r.status) <= 60 else r.status[:57] + "..."
        rng = f"{r.min_s:.2f}–{r.max_s:.2f}" if r.min_s is not None and r.max_s is not None else "—"
        ratio = "(base)" if r.tool == "leakstop" and r.median_s is not None else _fmt(r.ratio_vs_leakstop, ".2f")
        rows.append(
            [
                r.tool,
                r.mode,
                status,
                _fmt(r.median_s, ".3f"),
                rng,
                _fmt(r.cpu_s, ".2f"),
                _fmt(r.mb_per_s, ".1f"),
                _fmt(r.peak_rss_mb, ".0f"),
                _fmt(r.tree_rss_mb, ".0f"),
                _fmt(r.findings, "d"),
                _fmt(None if r.tool_bytes is None else r.tool_bytes / MB, ".1f"),
                ratio,
            ]
        )
    widths = [max(len(h), *(len(row[i]) for row in rows)) if rows else len(h) for i, h in enumerate(headers)]
    numeric = set(range(3, len(headers)))

    def line(cells: list[str]) -> str:
        return (
            "| "
            + " | ".join(
                c.rjust(w) if i in numeric else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True))
            )
            + " |"
        )

    sep = "| " + " | ".join(("-" * (w - 1) + ":") if i in numeric else "-" * w for i, w in enumerate(widths)) + " |"
    return "\n".join([line(headers), sep, *(line(row) for row in rows)])


def machine_info() -> dict[str, Any]:
    cpu = platform.processor()
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as f:
        for ln in f:
            if ln.startswith("model name"):
                cpu = ln.split(":", 1)[1].strip()
                break
    return {
        "cpus": os.cpu_count(),
        "cpu": cpu,
        "platform": platform.platform(),
        "python": platform.python_version(),
    }


# --------------------------------------------------------------------------------------------------------
# Main


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description="Benchmark leakstop against gitleaks, betterleaks, Kingfisher (and detect-secrets) on one target.",
    )
    p.add_argument("target", type=Path, help="directory (dir), git repository (history) or image tarball")
    p.add_argument("--mode", choices=MODES, required=True)
    p.add_argument("--runs", type=int, default=3, help="timed runs per tool; the median is reported (3)")
    p.add_argument("--warmup", type=int, default=1, help="discarded warm-up runs per tool (1)")
    p.add_argument(
        "--leakstop",
        metavar="CMD",
        help='leakstop command, e.g. "python -m scanner" (default: leakstop on PATH, else '
        f"{Path(sys.executable).name} -m scanner); run with cwd {REPO_ROOT}",
    )
    p.add_argument(
        "--peers-env",
        type=Path,
        default=Path(os.environ.get("PEERS_VENV", "/tmp/peers")) / "peers.env",
        help="env file with GITLEAKS=, BETTERLEAKS=, KINGFISHER=, DETECT_SECRETS= "
        "(default $PEERS_VENV/peers.env, PEERS_VENV=/tmp/peers)",
    )
    p.add_argument(
        "--leakstop-before",
        metavar="CMD",
        help="an earlier leakstop build, run beside the current one as leakstop[before] (not a peer in ratios)",
    )
    p.add_argument("--only", metavar="TOOLS", help="comma-separated subset, e.g. leakstop,kingfisher")
    p.add_argument("--with-detect-secrets", action="store_true", help="also run detect-secrets (slow; dir only)")
    p.add_argument(
        "--no-variants",
        dest="variants",
        action="store_false",
        help="skip the extra betterleaks rows ([+.git] in dir mode, [--log-opts=--all] in history)",
    )
    p.add_argument(
        "--order",
        choices=("interleaved", "sequential"),
        default="interleaved",
        help="interleaved: round-robin over tools each run (default); sequential: one tool after another",
    )
    p.add_argument("--timeout", type=float, default=1800, help="seconds per run before the tool is killed")
    p.add_argument(
        "--sample-ms",
        type=float,
        default=20,
        help="tree-RSS polling interval during warm-up runs; 0 turns sampling off (20)",
    )
    p.add_argument(
        "--netns",
        action="store_true",
        help="run every tool under `unshare --net` (no network at all; needs root or userns)",
    )
    p.add_argument("--json", type=Path, metavar="OUT", help="also write machine-readable results here")
    p.add_argument("--keep", action="store_true", help="keep the scratch directory with reports and logs")
    args = p.parse_args(argv)
    if args.runs < 1 or args.warmup < 0:
        p.error("--runs must be >= 1 and --warmup >= 0")
    return args


def check_target(mode: str, target: Path) -> str | None:
    if mode in ("image", "file"):
        return None if target.is_file() else f"{target} is not a file"
    if not target.is_dir():
        return f"{target} is not a directory"
    if mode in ("history", "staged"):
        proc = subprocess.run(["git", "-C", str(target), "rev-parse", "--git-dir"], capture_output=True, check=False)
        if proc.returncode != 0:
            return f"{target} is not a git repository"
    return None


@contextlib.contextmanager
def scratch(keep: bool) -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="leakstop-bench-"))
    try:
        yield path
    finally:
        if keep:
            print(f"scratch kept: {path}", file=sys.stderr)
        else:
            shutil.rmtree(path, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    mode: str = args.mode
    target: Path = args.target.resolve()
    problem = check_target(mode, target)
    if problem:
        print(f"bench: {problem}", file=sys.stderr)
        return 2

    env = {k: v for k, v in os.environ.items() if k not in SCRUB_ENV}
    env.update({"NO_COLOR": "1", "GIT_TERMINAL_PROMPT": "0"})
    peers = load_peers(args.peers_env)
    leak_cmd, leak_cwd = leakstop_command(args.leakstop)
    prefix: list[str] = []
    if args.netns:
        prefix = ["unshare", "--net", "--"] if os.geteuid() == 0 else ["unshare", "-rn", "--"]
        if subprocess.run([*prefix, "true"], capture_output=True, check=False).returncode != 0:
            print("bench: --netns: unshare failed here", file=sys.stderr)
            return 2

    # Target size: the same denominator for every tool.
    target_info: dict[str, Any] = {"path": str(target), "mode": mode}
    if mode == "dir":
        nbytes, nfiles = dir_bytes(target)
        target_info.update(bytes=nbytes, files=nfiles, definition="regular files, excluding .git")
    elif mode == "history":
        hist = history_bytes(target)
        target_info.update(hist)
        nbytes = hist["reachable_blob_bytes"]
        target_info.update(bytes=nbytes, definition="unique blobs reachable from all refs")
        if hist["store_blob_bytes"] != nbytes:
            print(
                f"bench: note: the object store holds {hist['store_blob_bytes'] / MB:.1f} MB of blobs, only "
                f"{nbytes / MB:.1f} MB are reachable from refs (a local clone hard-links every object; "
                "`git clone --no-local` avoids this). MB/s uses the reachable figure.",
                file=sys.stderr,
            )
    elif mode == "staged":
        nbytes = staged_bytes(target)
        target_info.update(bytes=nbytes, definition="blobs the index adds (git diff --cached)")
    else:
        nbytes = target.stat().st_size
        target_info.update(bytes=nbytes, definition="file size" if mode == "file" else "tarball size")

    load_before = os.getloadavg()
    with scratch(args.keep) as workdir:
        runs, results = build_runs(
            mode, target, peers=peers, leak_cmd=leak_cmd, leak_cwd=leak_cwd, workdir=workdir, args=args
        )
        if args.only:
            wanted = {w.strip().lower() for w in args.only.split(",") if w.strip()}
            runs = [r for r in runs if r.tool.split("[")[0].lower() in wanted]
            results = [r for r in results if r.tool.lower() in wanted]

        versions: dict[str, str] = {}
        for key, vargs in (
            ("GITLEAKS", ["version"]),
            ("BETTERLEAKS", ["version"]),
            ("KINGFISHER", ["--version"]),
            ("DETECT_SECRETS", ["--version"]),
        ):
            if key in peers and os.access(peers[key], os.X_OK):
                versions[key.lower()] = tool_version([peers[key], *vargs], None, env)
        versions["leakstop"] = tool_version([*leak_cmd, "--version"], leak_cwd, env)
        deps = leakstop_deps(leak_cmd, env)
        missing_deps = sorted(k for k, ok in (deps or {}).items() if not ok)
        if missing_deps:
            print(
                f"bench: warning: leakstop's interpreter cannot import {', '.join(missing_deps)}; "
                "it will run without them (pass --leakstop, e.g. /work/main/.venv/bin/leakstop)",
                file=sys.stderr,
            )

        print(f"target: {target} ({mode}): {nbytes / MB:.1f} MB — {target_info['definition']}", file=sys.stderr)
        measured: list[Result] = []
        measurers: list[Measurer] = []
        for run in runs:
            if prefix:
                run.argv = [*prefix, *run.argv]
            if run.is_leakstop:
                why = leakstop_preflight(leak_cmd, leak_cwd, env)
                if why:
                    print(f"  leakstop unavailable: {why}", file=sys.stderr)
                    unavailable = Result(tool="leakstop", mode=mode, status=f"unavailable: {why}", argv=run.argv)
                    measured.append(unavailable)
                    continue
            measurers.append(Measurer(run, mode, env, workdir, args))
        measure_all(measurers, args.warmup, args.runs, args.order == "interleaved")
        measured += [m.finish() for m in measurers]

    base = next((r for r in measured if r.tool == "leakstop" and r.median_s), None)
    for r in measured:
        if r.median_s:
            r.mb_per_s = nbytes / MB / r.median_s
            if base is not None and base.median_s and r is not base:
                r.ratio_vs_leakstop = r.median_s / base.median_s
    results = measured + results

    print()
    print(f"target: {target}  mode: {mode}  bytes: {nbytes:,} ({nbytes / MB:.1f} MB, {target_info['definition']})")
    if mode == "history":
        print(
            f"history: {target_info['commits_all_refs']:,} commits on all refs, "
            f"{target_info['reachable_blobs']:,} unique blobs"
        )
    info = machine_info()
    info["loadavg_1m_before_after"] = [round(load_before[0], 2), round(os.getloadavg()[0], 2)]
    print(
        f"machine: {info['cpus']} CPUs, {info['cpu']}; load avg (1 min) before/after: "
        f"{info['loadavg_1m_before_after'][0]:.2f}/{info['loadavg_1m_before_after'][1]:.2f}; "
        f"runs: median of {args.runs} after {args.warmup} warm-up ({args.order})"
    )
    print("versions: " + ", ".join(f"{k} {v}" for k, v in versions.items()))
    dep_text = ", ".join(f"{k} {'yes' if ok else 'NO'}" for k, ok in deps.items()) if deps else "unknown"
    print(f"leakstop: {shlex.join(leak_cmd)} (cwd {leak_cwd}); native deps: {dep_text}")
    print()
    print(render_table(results))
    print()
    print("wall = whole process, spawn to exit; MB/s = target bytes / median wall (same bytes for all tools);")
    print("peak RSS = the LARGEST single process among the tool and its waited-for children (warm-up, GNU time %M);")
    print("tree RSS = summed RSS of the tool's session, sampled from /proc during the warm-up run;")
    print("tool-read MB = what the tool says it scanned; peer/leakstop > 1 means leakstop is faster.")
    for r in results:
        if r.note:
            print(f"  {r.tool}: {r.note}")

    if args.json:
        payload = {
            "target": target_info,
            "machine": info,
            "versions": versions,
            "settings": {
                "runs": args.runs,
                "warmup": args.warmup,
                "netns": args.netns,
                "sample_ms": args.sample_ms,
                "leakstop": leak_cmd,
                "leakstop_native_deps": deps,
            },
            "results": [asdict(r) for r in results],
        }
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(payload, indent=2) + "\n")
        print(f"\njson: {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
