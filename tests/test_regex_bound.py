"""Issue #18 item 11: a user regex cannot hang a scan.

Eight ``[a-z]*`` in a row were accepted and a 90-byte line then hung the scan: the static check now refuses
adjacent unbounded runs anywhere (in a config and in a user's rule file), and detection in one chunk runs under a
time budget, so a regex the check misses costs one issue, not the scan.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from helpers import rule_file

from scanner.detect.engine import Detector
from scanner.detect.timebound import RegexTimeout, bounded
from scanner.models import Chunk, FileOrigin
from scanner.pipeline import run
from scanner.pipeline.detection import ChunkDetector
from scanner.pipeline.request import ScanRequest
from scanner.policy.config import Config
from scanner.ruleset.model import Ruleset, RuleSpec
from scanner.ruleset.redos import check

EIGHT_RUNS = "team_" + "[a-z]*" * 8 + "!"
HOSTILE_LINE = "team_" + "a" * 85  # 90 bytes, no "!": every split of the run is tried


def _leakstop(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "scanner", *args], capture_output=True, text=True, check=False, timeout=60
    )


def test_adjacent_unbounded_runs_are_refused() -> None:
    hazard = check(EIGHT_RUNS)
    assert hazard is not None and hazard.kind == "adjacent-quantifiers"
    assert hazard.part == "[a-z]*[a-z]*[a-z]*"
    assert check(r"x[a-z]*\w*[a-z]+!") is not None  # three runs over common characters
    assert check(r"[a-z]*=[a-z]*=[a-z]*") is None  # each run ends at a character the next cannot take
    assert check(r"\s*[a-z]*\d*") is None  # no character all three take
    assert check(r"\s*\s*") is None  # two: quadratic at worst


def test_a_config_with_eight_runs_is_refused_in_one_line(tmp_path: Path) -> None:
    rule = {"id": "team", "name": "Team", "regex": EIGHT_RUNS, "keywords": ["team_"]}
    rule |= {"severity": "high", "confidence": "high"}
    (tmp_path / ".leakstop.yaml").write_text(yaml.safe_dump({"rules": [rule]}), encoding="utf-8")
    (tmp_path / "a.txt").write_text(HOSTILE_LINE + "\n", encoding="utf-8")
    started = time.monotonic()
    proc = _leakstop("scan", "--no-progress", str(tmp_path))
    assert time.monotonic() - started < 30
    assert proc.returncode == 2 and proc.stdout == ""
    (line,) = proc.stderr.splitlines()
    assert ".leakstop.yaml: rules/0 (rule team): regex: may backtrack catastrophically" in line


def test_a_rule_file_with_eight_runs_is_refused_by_rules_check(tmp_path: Path) -> None:
    path = rule_file(tmp_path / "team.yaml", {"id": "team", "name": "Team", "regex": EIGHT_RUNS, "keywords": ["team_"]})
    proc = _leakstop("rules", "check", str(path))
    assert proc.returncode == 2, proc.stderr
    (line,) = proc.stderr.splitlines()
    assert f"{path}: rule team: regex: may backtrack catastrophically" in line


def _slow_ruleset() -> Ruleset:
    """A rule the static check would refuse, built without it: what a regex the check misses would do."""
    spec = RuleSpec("team", "Team", EIGHT_RUNS, ("team_",), "high", "high", source="test")
    return Ruleset(rules=(spec.compile(),), hash="slow-test")


@pytest.mark.parametrize("engine", ["python", "hyperscan"])
def test_a_runaway_regex_costs_one_chunk_not_the_scan(engine: str) -> None:
    ruleset = _slow_ruleset()
    detector = ChunkDetector(Detector(ruleset, engine=engine), ruleset, time_budget=0.3)
    chunk = Chunk(HOSTILE_LINE.encode() + b"\n", FileOrigin("hostile.txt"))
    started = time.monotonic()
    detected = detector.detect(chunk)
    assert time.monotonic() - started < 5
    assert detected.groups == ()
    # Hyperscan finds no match and never hands the chunk to ``re``; the Python engine runs ``re`` and is cut off.
    assert ("took over 0.3s" in detected.timed_out) == (engine == "python")
    fine = detector.detect(Chunk(b"team_abc!\n", FileOrigin("fine.txt")))
    assert fine.timed_out == "" and len(fine.groups) == 1


def test_the_pipeline_reports_the_chunk_and_goes_on(tmp_path: Path) -> None:
    (tmp_path / "hostile.txt").write_text(HOSTILE_LINE + "\n", encoding="utf-8")
    (tmp_path / "found.txt").write_text("team_abc!\n", encoding="utf-8")
    spec = RuleSpec("team", "Team", EIGHT_RUNS, ("team_",), "high", "high", source="test")
    config = Config(rules=(spec,), extend_default=False)
    request = ScanRequest(kind="paths", paths=(str(tmp_path),), config=config, regex_budget=0.3, engine="python")
    started = time.monotonic()
    result = run(request)
    assert time.monotonic() - started < 10
    assert [f.path.rsplit("/", 1)[-1] for f in result.findings] == ["found.txt"]
    (issue,) = [i for i in result.issues if i.reason == "regex-timeout"]
    assert issue.path.endswith("hostile.txt")


def test_history_workers_report_the_blob_and_go_on(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from gitrepo import Repo, isolate_git

    isolate_git(monkeypatch, tmp_path / "home")
    repo = Repo.init(tmp_path / "repo")
    repo.commit("hostile", {"hostile.txt": HOSTILE_LINE + "\n"})
    repo.commit("found", {"found.txt": "team_abc!\n"})
    spec = RuleSpec("team", "Team", EIGHT_RUNS, ("team_",), "high", "high", source="test")
    config = Config(rules=(spec,), extend_default=False)
    request = ScanRequest(
        kind="history", paths=(str(repo.path),), config=config, regex_budget=0.3, engine="python", workers=2
    )
    started = time.monotonic()
    result = run(request)
    assert time.monotonic() - started < 20
    assert [f.path for f in result.findings] == ["found.txt"]
    (issue,) = [i for i in result.issues if i.reason == "regex-timeout"]
    assert issue.path.startswith("hostile.txt@")


def test_the_bound_leaves_a_callers_timer_and_other_threads_alone() -> None:
    import signal
    import threading

    signal.setitimer(signal.ITIMER_REAL, 100)
    try:
        with bounded(0.01):
            time.sleep(0.05)  # no RegexTimeout: the caller's timer is running
        assert signal.getitimer(signal.ITIMER_REAL)[0] > 50
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
    errors: list[BaseException] = []

    def in_thread() -> None:
        try:
            with bounded(0.01):
                time.sleep(0.05)
        except BaseException as exc:
            errors.append(exc)

    worker = threading.Thread(target=in_thread)
    worker.start()
    worker.join()
    assert errors == []
    with pytest.raises(RegexTimeout), bounded(0.05):
        time.sleep(1)
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
    assert os.environ  # the process goes on


def test_a_lazy_bound_starts_at_its_first_arm() -> None:
    """Plain chunks arm the bound where a rule's regex is about to run: time before that is not counted."""
    import signal

    with bounded(0.05, lazy=True):
        time.sleep(0.15)  # not armed: no RegexTimeout
        assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
    bound = bounded(0.05, lazy=True)
    with pytest.raises(RegexTimeout), bound:
        bound.arm()
        bound.arm()  # armed already: nothing more
        time.sleep(1)
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
