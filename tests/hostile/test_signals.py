"""Signals and a killed worker during a ``--history`` scan of the real command (issue #18 items 2, 5 and 12).

A few of ``bench/signals.py``'s points: SIGTERM, SIGINT and SIGHUP at moments inside one scan; the whole
process tree (the scan, its forked workers, their ``git cat-file``, the ``git log`` it reads) must be gone, with
exit 143 / 130 / 129 and no ``--output`` file, or a whole one. The bench holds every point to 2 s; here the bound
is wider, as these tests share two cores with the rest of the suite.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .harness import ROOT, Sandbox

sys.path.insert(0, str(ROOT / "bench"))
import signals as bench

# Seconds. The bench's own limit is 2 s on an idle machine; a test shares the machine, and under coverage (CI)
# every process of the tree also writes its coverage data as it ends. The bench (no coverage) gives the figure.
SHARED_CPU_LIMIT = 9.0 if "COVERAGE_PROCESS_CONFIG" in os.environ else 5.0


@pytest.fixture(scope="module")
def big_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return bench.make_repo(tmp_path_factory.mktemp("signals") / "repo", 1500)


@pytest.mark.parametrize(("signum", "at"), [(signal.SIGTERM, 1.2), (signal.SIGINT, 1.6), (signal.SIGHUP, 2.0)])
def test_a_signal_mid_scan_leaves_no_process_and_no_partial_report(
    big_repo: Path, tmp_path: Path, signum: int, at: float
) -> None:
    point = bench.run_point(big_repo, at, signum, tmp_path)
    assert point.output != "PARTIAL"
    assert point.gone < SHARED_CPU_LIMIT, f"the process tree took {point.gone:.2f}s to go"
    if point.code in (0, 1):  # the scan was over before the signal (a fast machine): then its report is whole
        assert point.output == "complete"
    else:
        assert point.code in (bench.EXPECTED[signum], -signum)
        assert point.output == "none"


SCAN = ("scan", "--no-progress", "--history", "--workers", "2")


def test_a_worker_killed_with_sigkill_is_a_clear_error(big_repo: Path, sandbox: Sandbox, config: Path) -> None:
    report = sandbox.out / "report.txt"
    proc = subprocess.Popen(
        [sys.executable, "-m", "scanner", *SCAN, "--config", str(config), "--output", str(report), str(big_repo)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=sandbox.env(),
        start_new_session=True,
    )
    deadline = time.monotonic() + 30
    while proc.poll() is None and time.monotonic() < deadline and len(_workers(proc.pid)) < 2:
        time.sleep(0.01)
    time.sleep(0.05)  # a git child forked but not yet exec'd looks like a worker for a moment
    workers = _workers(proc.pid)
    assert workers, "no worker process was started"
    os.kill(workers[0], signal.SIGKILL)
    killed = time.monotonic()
    _out, err = proc.communicate(timeout=30)
    assert time.monotonic() - killed < SHARED_CPU_LIMIT
    assert proc.returncode == 3, err
    lines = err.decode().strip().splitlines()
    assert len(lines) == 1 and "was killed by SIGKILL" in lines[0], lines
    assert not report.exists()  # no report presented as complete


def _workers(parent: int) -> list[int]:
    """The parent's children that are not ``git`` (its forked workers)."""
    try:
        children = Path(f"/proc/{parent}/task/{parent}/children").read_text().split()
    except OSError:
        return []
    found = []
    for pid in children:
        try:
            if "git" not in Path(f"/proc/{pid}/comm").read_text():
                found.append(int(pid))
        except OSError:
            continue
    return found
