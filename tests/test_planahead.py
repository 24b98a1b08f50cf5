"""``planahead.PlanAhead``: a history scan's plan (the repository, its tips, its annotated tags) is read by git in a
thread while the rules load; inside the block the history source takes it (the refs as they were when the read
started), errors meet the source where they did without it, and nothing is kept after the block."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from gitrepo import Repo, isolate_git, not_a_repository
from helpers import RunCli, reads_while_preparing
from tokens import TokenFactory

from scanner import lifeline
from scanner.detect.engine import Detector
from scanner.errors import InputError
from scanner.pipeline import workers
from scanner.sources.git import gitcli, planahead, walk
from scanner.sources.git import source as source_module
from scanner.sources.git.planahead import PlanAhead
from scanner.sources.git.repo import git_environment
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
    assert planahead.PlanAhead.running == {}


def test_leaving_the_block_forgets_an_unused_read(repo: Repo) -> None:
    path = str(repo.path)
    with PlanAhead(path) as ahead:
        pass
    assert not ahead.thread.is_alive() and planahead.PlanAhead.running == {}
    second = repo.commit("after the block", {"b.txt": "b\n"})
    assert tips(CommitSource(path, "history")) == [second]


def test_outside_a_repository_the_error_is_the_same(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    plain = not_a_repository(monkeypatch, tmp_path)
    with pytest.raises(InputError) as without:
        CommitSource(str(plain), "history")
    with PlanAhead(str(plain)), pytest.raises(InputError) as within:
        CommitSource(str(plain), "history")
    assert str(within.value) == str(without.value) and "not a git repository" in str(without.value)


def test_an_error_in_the_thread_is_raised_where_the_source_opens(repo: Repo, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*_args: Any) -> None:
        raise RuntimeError("for-each-ref went wrong")

    monkeypatch.setattr(planahead.gitcli, "tips_of", broken)
    with PlanAhead(str(repo.path)), pytest.raises(RuntimeError, match="for-each-ref went wrong"):
        CommitSource(str(repo.path), "history")


def test_a_history_scan_reads_its_plan_while_the_rules_load(
    repo: Repo, run_cli: RunCli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The plan is being read while ``prepare`` runs; a scan of files reads none."""
    reading = reads_while_preparing(monkeypatch, planahead.PlanAhead)
    assert run_cli("scan", "--history", "--no-progress", "--format", "json", repo.path)[0] == 0
    assert run_cli("scan", "--format", "json", repo.path)[0] == 0
    assert reading == [[str(repo.path)], []] and planahead.PlanAhead.running == {}


def test_with_a_pool_git_log_starts_first_and_the_pool_forks_before_the_walk_reads(
    repo: Repo, run_cli: RunCli, tokens: TokenFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With a worker pool, the walk's ``git log`` is started, then the pool loads the Hyperscan database and forks,
    and only then does the walk read that same ``git log`` (no second one); with one worker, or a walk libgit2
    plans, git log starts when walked and the pool comes at the first blob, as before. The findings are the same."""
    if not workers.forks(2):
        pytest.skip("no fork here: the pool scans inline")
    for n in range(3):
        repo.commit(f"c{n}", {f"f{n}.env": f"GITHUB_TOKEN={tokens.github_clean()}\n"})
    events: list[str] = []

    def record(owner: Any, attribute: str, name: str) -> None:
        real = getattr(owner, attribute)

        def recorded(*args: Any, **kwargs: Any) -> Any:
            events.append(name)
            return real(*args, **kwargs)

        monkeypatch.setattr(owner, attribute, recorded)

    record(source_module, "start_log", "early git log")
    record(walk, "start_log", "git log")
    record(source_module, "walk_commits", "walk")
    record(Detector, "load_all", "database")
    record(workers.WorkerPool, "__init__", "pool")
    reports = []
    for count in ("2", "1", "2 planned by libgit2"):
        if count.endswith("libgit2"):
            monkeypatch.setattr(planahead, "read_plan", lambda _path: (None, None))
        argv = ["scan", "--history", "--no-progress", "--format", "json", "--show-secrets", "--workers", count[0]]
        code, out, _err = run_cli(*argv, repo.path)
        report = json.loads(out)
        del report["summary"]["duration_s"]
        reports.append((code, report))
        events.append("|")
    assert events == [
        *["early git log", "pool", "database", "walk", "|"],
        *["walk", "git log", "pool", "|"],
        *["walk", "git log", "pool", "database", "|"],  # no early start: the pool comes at the first blob, as before
    ]
    assert reports[0] == reports[1] == reports[2] and len(reports[0][1]["findings"]) == 3


def test_a_git_log_started_for_a_walk_that_never_runs_is_stopped(repo: Repo) -> None:
    source = CommitSource(str(repo.path), "history")
    source.start_walk()
    assert source.log is not None
    proc = source.log.proc
    source.close()
    assert proc.returncode is not None and source.log is None


def test_the_plan_read_at_once_is_the_plan_read_one_step_after_the_other(repo: Repo, tmp_path: Path) -> None:
    """``for-each-ref`` run in the path (beside ``rev-parse``) reads the refs of the repository ``rev-parse``
    finds there: the repository's top, a subdirectory, a linked worktree on another branch, an annotated tag."""
    repo.commit("more", {"sub/dir/a.txt": "a\n"})
    repo.git("tag", "-a", "v1", "-m", "release")
    repo.git("worktree", "add", "-q", "-b", "other", str(tmp_path / "linked"))
    for path in (repo.path, repo.path / "sub" / "dir", tmp_path / "linked"):
        where, refs = planahead.read_plan(str(path))
        assert where is not None and refs is not None and (where, refs) == one_after_the_other(str(path))
    assert planahead.read_plan(str(tmp_path / "missing")) == (None, None)


def one_after_the_other(path: str) -> planahead.Plan:
    """The plan as it was read before: ``rev-parse`` in the path, then ``for-each-ref`` in the git directory it
    named (``--git-dir``, no discovery)."""
    env = git_environment()

    def git(args: list[str], cwd: str | None = None) -> tuple[int, bytes, bytes]:
        done = subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, check=False)
        return done.returncode, done.stdout, done.stderr

    where = gitcli.location(*git(gitcli.LOCATE, cwd=path)[:2])
    assert where is not None
    return where, gitcli.tips_of(git(["--git-dir", where.path, "for-each-ref", gitcli.REFS]), where.head)


def test_the_plan_thread_probes_setpriv_so_the_walk_s_git_log_does_not_wait_for_it(repo: Repo) -> None:
    """``lifeline.guarded`` starts the walk's git children through ``setpriv`` once a probe has run it (2-4 ms of
    waiting): the plan thread runs that probe beside its own git processes, and the answer is kept."""
    lifeline.setpriv_path.cache_clear()
    try:
        with PlanAhead(str(repo.path)) as ahead:
            ahead.thread.join()
            assert lifeline.setpriv_path.cache_info().currsize == 1  # asked in the thread, before the walk
            hits = lifeline.setpriv_path.cache_info().hits
            source = CommitSource(str(repo.path), "history")
            assert source.start_walk()
            source.close()
            assert lifeline.setpriv_path.cache_info().hits == hits + 1  # the walk's git log: no second probe
    finally:
        lifeline.setpriv_path.cache_clear()
