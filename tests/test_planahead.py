"""``planahead.PlanAhead``: a history scan's plan (the repository, its tips, its annotated tags) is read by git in a
thread while the rules load; inside the block the history source takes it (the refs as they were when the read
started), errors meet the source where they did without it, and nothing is kept after the block."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from gitrepo import Repo, isolate_git
from helpers import RunCli

from scanner.detect.prefilter import SmallFirstPrefilter
from scanner.errors import InputError
from scanner.pipeline import runner, workers
from scanner.sources.git import planahead
from scanner.sources.git.planahead import PlanAhead
from scanner.sources.git.source import CommitSource


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Repo:
    isolate_git(monkeypatch, tmp_path / "home")
    made = Repo.init(tmp_path / "repo")
    made.commit("initial", {"README.md": "# r\n"})
    return made


def tips(source: CommitSource) -> list[str]:
    assert source.refs is not None
    return [tip.id for tip in source.refs[0]]


def test_a_history_source_in_the_block_takes_what_the_thread_read(repo: Repo) -> None:
    first = repo.head()
    path = str(repo.path)
    with PlanAhead(path) as ahead:
        ahead.thread.join()
        repo.git("checkout", "-q", "-b", "side")
        second = repo.commit("on a branch made after the read", {"b.txt": "b\n"})
        assert tips(CommitSource(path, "history")) == [first]  # the refs as the thread read them
        assert tips(CommitSource(path, "history")) == [first, second]  # taken once: a second source reads itself
    assert planahead._AHEAD == {}


def test_leaving_the_block_forgets_an_unused_read(repo: Repo) -> None:
    path = str(repo.path)
    with PlanAhead(path) as ahead:
        pass
    assert not ahead.thread.is_alive() and planahead._AHEAD == {}
    second = repo.commit("after the block", {"b.txt": "b\n"})
    assert tips(CommitSource(path, "history")) == [second]


def test_outside_a_repository_the_error_is_the_same(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    isolate_git(monkeypatch, tmp_path / "home")
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    plain = tmp_path / "plain"
    plain.mkdir()
    with pytest.raises(InputError) as without:
        CommitSource(str(plain), "history")
    with PlanAhead(str(plain)), pytest.raises(InputError) as within:
        CommitSource(str(plain), "history")
    assert str(within.value) == str(without.value) and "not a git repository" in str(without.value)


def test_an_error_in_the_thread_is_raised_where_the_source_opens(repo: Repo, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*_args: Any) -> None:
        raise RuntimeError("for-each-ref went wrong")

    monkeypatch.setattr(planahead.gitcli, "ref_tips", broken)
    with PlanAhead(str(repo.path)), pytest.raises(RuntimeError, match="for-each-ref went wrong"):
        CommitSource(str(repo.path), "history")


def test_a_history_scan_reads_its_plan_and_loads_its_database_before_the_source_opens(
    repo: Repo, run_cli: RunCli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The plan is read while ``prepare`` runs; with a worker pool, the database the pool loads before its fork is
    loaded before the history source opens (beside the plan's git processes). One worker loads it only when a
    blob needs it; a scan of files reads no plan."""
    if not workers.forks(2):
        pytest.skip("no fork here: the pool scans inline")
    reading: list[list[str]] = []  # the plans being read while prepare ran
    loaded: list[bool] = []  # whether the Hyperscan database was loaded when the history source opened
    detectors: list[Any] = []
    real_prepare, real_open = runner.prepare, runner.SOURCES["history"]

    def watched_prepare(*args: Any) -> Any:
        reading.append(sorted(planahead._AHEAD))
        made = real_prepare(*args)
        detectors[:] = [made.detector]
        return made

    def watched_open(request: Any) -> Any:
        prefilter = detectors[0].prefilter
        if not isinstance(prefilter, SmallFirstPrefilter):
            pytest.skip("no Hyperscan here: there is no database to load")
        loaded.append(prefilter._large is not None)
        return real_open(request)

    monkeypatch.setattr(runner, "prepare", watched_prepare)
    monkeypatch.setitem(runner.SOURCES, "history", watched_open)
    argv = ["scan", "--history", "--no-progress", "--format", "json"]
    assert run_cli(*argv, "--workers", "2", repo.path)[0] == 0
    assert run_cli(*argv, "--workers", "1", repo.path)[0] == 0
    assert run_cli("scan", "--format", "json", repo.path)[0] == 0
    assert reading == [[str(repo.path)], [str(repo.path)], []]
    assert loaded == [True, False]
    assert planahead._AHEAD == {}
