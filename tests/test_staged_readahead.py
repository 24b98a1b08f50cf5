"""``staged.ReadAhead``: inside its block a staged source takes what the thread read (the index as it was when
the read started), errors meet the source where they did without it, and nothing is kept after the block."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from gitrepo import Repo, isolate_git, not_a_repository
from helpers import RunCli, reads_while_preparing
from tokens import TokenFactory

from scanner.errors import InputError
from scanner.models import FileOrigin
from scanner.sources.base import Skips
from scanner.sources.git import staged
from scanner.sources.git.staged import ReadAhead, StagedSource


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Repo:
    isolate_git(monkeypatch, tmp_path / "home")
    made = Repo.init(tmp_path / "repo")
    made.write({"README.md": "# r\n"})
    made.commit("initial")
    return made


def staged_paths(source: StagedSource) -> list[str]:
    paths = []
    for chunk in source.items(Skips()):
        assert isinstance(chunk.origin, FileOrigin)
        paths.append(chunk.origin.path)
    return paths


def test_a_source_in_the_block_takes_what_the_thread_read(repo: Repo) -> None:
    repo.write({"a.txt": "first\n"})
    repo.git("add", "a.txt")
    path = str(repo.path)
    with ReadAhead(path) as ahead:
        ahead.thread.join()
        repo.write({"b.txt": "second\n"})
        repo.git("add", "b.txt")  # staged after the read: this source does not see it
        assert staged_paths(StagedSource(path)) == ["a.txt"]
        assert staged_paths(StagedSource(path)) == ["a.txt", "b.txt"]  # taken once: a second source reads itself
    assert staged.ReadAhead.running == {}
    assert staged_paths(StagedSource(path)) == ["a.txt", "b.txt"]


def test_leaving_the_block_forgets_an_unused_read(repo: Repo) -> None:
    repo.write({"a.txt": "first\n"})
    repo.git("add", "a.txt")
    with ReadAhead(str(repo.path)) as ahead:
        pass
    assert not ahead.thread.is_alive() and staged.ReadAhead.running == {}
    repo.write({"b.txt": "second\n"})
    repo.git("add", "b.txt")
    assert staged_paths(StagedSource(str(repo.path))) == ["a.txt", "b.txt"]


def test_outside_a_repository_the_error_is_the_same(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    plain = not_a_repository(monkeypatch, tmp_path)
    with pytest.raises(InputError) as without:
        StagedSource(str(plain))
    with ReadAhead(str(plain)), pytest.raises(InputError) as within:
        StagedSource(str(plain))
    assert str(within.value) == str(without.value) and "not a git repository" in str(without.value)


def test_a_failed_diff_is_raised_when_the_source_is_read(repo: Repo) -> None:
    """A damaged index: the repository opens (rev-parse does not read the index), git diff fails."""
    (repo.path / ".git" / "index").write_bytes(b"DIRC not an index")
    path = str(repo.path)
    with pytest.raises(InputError) as without:
        staged_paths(StagedSource(path))
    with ReadAhead(path):
        source = StagedSource(path)  # opens
        with pytest.raises(InputError) as within:
            staged_paths(source)
    assert str(within.value) == str(without.value) and "git diff failed" in str(without.value)


def test_a_staged_scan_reads_while_its_rules_load(repo: Repo, run_cli: RunCli, monkeypatch: pytest.MonkeyPatch) -> None:
    """The pipeline opens the read before it loads the rules and detector (``prepare``), and the scan's source
    takes it; a scan of files reads nothing ahead."""
    repo.write({"a.txt": "first\n"})
    repo.git("add", "a.txt")
    seen = reads_while_preparing(monkeypatch, staged.ReadAhead)
    monkeypatch.chdir(repo.path)
    assert run_cli("scan", "--staged", "--format", "json")[0] == 0
    assert run_cli("scan", "a.txt", "--format", "json")[0] == 0
    assert seen == [["."], []] and staged.ReadAhead.running == {}


# The installed command (``console``: git started before the scan's imports) and ``main`` (the pipeline starts it),
# each in a fresh process; the audit hook notes what ``ReadAhead`` runs when the rules' loader is imported.
_COMMAND = """
import sys
seen = []
def hook(event, args):
    if event == "import" and args[0] == "scanner.ruleset.load":
        staged = sys.modules.get("scanner.sources.git.staged")
        seen.append(sorted(staged.ReadAhead.running) if staged else None)
sys.addaudithook(hook)
import atexit
atexit.register(lambda: print("early:", seen, file=sys.stderr))
from scanner.cli import console, main
how = sys.argv.pop(1)
raise SystemExit(console() if how == "console" else main(sys.argv[1:]))
"""


def _run(how: str, cwd: Path, *args: str) -> tuple[int, object, str, str]:
    """(exit code, the JSON report without its duration, stderr without the audit line, the audit line)."""
    done = subprocess.run(
        [sys.executable, "-c", _COMMAND, how, "scan", "--staged", "--format", "json", *args],
        cwd=cwd, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    report = json.loads(done.stdout) if done.stdout else None
    if isinstance(report, dict):
        report["summary"].pop("duration_s")
    err, _, early = done.stderr.rpartition("early: ")
    return done.returncode, report, err, early.strip()


def test_the_command_starts_git_before_its_imports_and_answers_as_before(
    repo: Repo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``leakstop scan --staged`` starts its git calls before the scan's modules load (the rules' loader among
    them); findings, reports, errors and exit codes are ``main``'s: a staged secret, nothing staged, a PATH, no
    repository, a bare one, inside ``.git``, two PATHs (a usage error: nothing started)."""
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    plain = tmp_path / "plain"
    plain.mkdir()
    Repo.init(tmp_path / "bare.git", "--bare")
    cases: list[tuple[Path, tuple[str, ...], int, str]] = [
        (repo.path, (), 0, "[['.']]"),
        (tmp_path, (str(repo.path),), 0, f"[[{str(repo.path)!r}]]"),
        (plain, (), 2, "[['.']]"),
        (tmp_path / "bare.git", (), 2, "[['.']]"),
        (repo.path / ".git", (), 2, "[['.']]"),
        (repo.path, (".", "."), 2, "[None]"),
    ]
    for cwd, args, code, early in cases:
        assert _run("console", cwd, *args) == (code, *_run("main", cwd, *args)[1:3], early), (cwd, args)
    repo.write({"app.env": f"TOKEN={TokenFactory(7).github()}\n", "plain.txt": "nothing\n"})
    repo.git("add", "app.env", "plain.txt")
    code, report, err, early = _run("console", repo.path)
    assert (code, early) == (1, "[['.']]") and isinstance(report, dict) and report["summary"]["findings"] == 1
    assert (code, report, err) == _run("main", repo.path)[:3]
