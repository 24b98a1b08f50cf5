"""``bench/firstbatch.py`` end to end on a small real history: the parent's time to its first batch, split."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from tests.gitrepo import Repo, isolate_git

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))

import firstbatch  # a script in bench/, not a package


def test_firstbatch_splits_the_start_into_cpu_queue_and_blocked_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    if not Path("/proc/self/schedstat").exists() or (os.cpu_count() or 1) < 2:
        pytest.skip("no /proc/self/schedstat here, or one core: no worker, no batch")
    isolate_git(monkeypatch, tmp_path / "home")
    repo = Repo.init(tmp_path / "repo")
    for index in range(150):  # more than two batches' worth of new blobs
        repo.commit(f"change {index}", {f"dir{index % 5}/file{index}.txt": f"line {index}\n"})
    row = firstbatch.run_once(sys.executable, repo.path, tmp_path / "run.json")
    assert row["cpu"] > 0 and row["elapsed"] >= row["cpu"]
    assert row["blocked"] == pytest.approx(row["elapsed"] - row["cpu"] - row["queued"])
    assert firstbatch.main([str(repo.path), "--python", sys.executable, "--runs", "1"]) == 0
    assert f"| {sys.executable} |" in capsys.readouterr().out
