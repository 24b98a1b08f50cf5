"""``bench/scaling.py`` end to end on a small real history: a row per worker count, each worker's CPU counted."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from tests.gitrepo import Repo, isolate_git

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))

import scaling  # a script in bench/, not a package


def test_scaling_reports_parent_workers_and_git_cpu(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    isolate_git(monkeypatch, tmp_path / "home")
    repo = Repo.init(tmp_path / "repo")
    for index in range(40):
        repo.commit(f"change {index}", {f"dir{index % 5}/file{index % 7}.txt": f"line {index}\n" * (index + 1)})
    out = tmp_path / "rows.json"
    assert scaling.main([str(repo.path), "--runs", "1", "--workers", "2,1", "--json", str(out)]) == 0
    rows = json.loads(out.read_text())
    assert [row["workers"] for row in rows] == [1, 2]
    one, two = rows
    assert one["workers_cpu"] == 0 and one["parent"] > 0 and one["git"] > 0  # inline: no worker process
    assert two["workers_cpu"] > 0 and two["start"] > 0 and two["speedup"] > 0
    assert two["cpu"] == pytest.approx(two["parent"] + two["workers_cpu"] + two["git"])
    assert "| 2 |" in capsys.readouterr().out


def test_scaling_refuses_a_target_that_is_not_a_repository(tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as stop:
        scaling.main([str(tmp_path), "--runs", "1"])
    assert stop.value.code == 2
