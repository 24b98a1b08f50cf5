"""A history scan's plan through git (where the repository is, its tips and annotated tags), read in a thread
while the main thread loads the rules and the detector.

The plan is three ``git`` processes: ``git version`` (is git new enough), ``rev-parse`` (the repository) and
``for-each-ref`` (the tips). One after the other they were about 12 ms of a history scan's serial start, nearly
all of it waiting, with the second core idle; ``prepare`` (the rules: about 8 ms) needs none of it. They now
start at once, in a thread: the thread needs the interpreter's lock (which ``prepare`` holds most of the time)
only to start them and to read their answers.

Inside a ``PlanAhead`` block, a ``CommitSource`` opened on the same path for a history scan takes what the thread
read: the same answers, only earlier. Nothing here raises for git's sake (a failed or missing git answers None,
and the source opens the repository with pygit2 instead), so no error moves; an unexpected exception in the thread is
raised where the source would have met it. Leaving the block waits for the thread and forgets it.
"""

from __future__ import annotations

import os
import subprocess

from scanner.lifeline import setpriv_path
from scanner.sources.git import gitcli, repo
from scanner.sources.git.ahead import Ahead
from scanner.sources.git.repo import git_environment, git_usable

# The repository ``git rev-parse`` locates and its tips and tags from ``for-each-ref`` (None: pygit2 decides).
Plan = tuple[gitcli.Location | None, tuple[list[gitcli.Tip], list[str]] | None]


def read_plan(path: str) -> Plan:
    """``rev-parse`` (the repository) and ``for-each-ref`` (the tips) start at once, in ``path``, and ``git
    version`` runs meanwhile: one wait instead of three in a row. Their answers count only if git is new enough
    (``git_usable``) and ``rev-parse`` found a plain working tree; ``for-each-ref`` in ``path`` reads the refs of
    the repository ``rev-parse`` found there (both discover it the same way)."""
    if not os.path.isdir(path):
        return None, None
    env = git_environment()
    try:
        where_proc = _start(gitcli.LOCATE, env, path)
    except OSError:  # no git
        return None, None
    try:
        refs_proc = _start(["for-each-ref", gitcli.REFS], env, path)
    except OSError:
        _answer(where_proc)
        return None, None
    setpriv_path()  # the walk's git children start through it: its probe runs here, beside these gits
    usable = git_usable()
    where_answer, refs_answer = _answer(where_proc), _answer(refs_proc)
    where = gitcli.location(*where_answer[:2]) if usable and where_answer is not None else None
    if where is None or refs_answer is None:
        return where, None
    return where, gitcli.tips_of(refs_answer, where.head)


def _start(args: list[str], env: dict[str, str], cwd: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(["git", *args], cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _answer(proc: subprocess.Popen[bytes]) -> gitcli.Answer | None:
    """A started git's status, output and errors; None when it has not ended within ``GIT_READ_TIMEOUT``."""
    with proc:
        try:
            out, err = proc.communicate(timeout=repo.GIT_READ_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            return None
    return proc.returncode, out, err


class PlanAhead(Ahead):
    """``read_plan(path)`` in a thread, from the block's start; ``planned`` takes it (once) inside the block."""

    def __init__(self, path: str) -> None:
        super().__init__(path, "leakstop-plan-read")
        self.plan: Plan = (None, None)

    def work(self) -> None:
        self.plan = read_plan(self.path)


def planned(path: str) -> Plan:
    """The plan the thread read for ``path`` (taken once: a second source reads its own), else read now."""
    ahead = PlanAhead.taken(path)
    if not isinstance(ahead, PlanAhead):
        return read_plan(path)
    if ahead.failure is not None:
        raise ahead.failure
    return ahead.plan
