"""A history scan's plan through git (where the repository is, its tips and annotated tags), read in a thread
while the main thread loads the rules and the detector.

The plan is three ``git`` processes run one after the other: ``git version`` (is git new enough), ``rev-parse``
(the repository) and ``for-each-ref`` (the tips): about 12 ms of a history scan's serial start, nearly all of it
waiting, with the second core idle. ``prepare`` (the rules, the Hyperscan database: about 8 ms) needs none of it.

Inside a ``PlanAhead`` block, a ``CommitSource`` opened on the same path for a history scan takes what the thread
read: the same commands, with the same environment, only earlier. Neither step raises (each answers None and the
source opens the repository with pygit2 instead), so no error moves; an unexpected exception in the thread is
raised where the source would have met it. Leaving the block waits for the thread and forgets it.
"""

from __future__ import annotations

import os
import threading

from scanner.sources.git import gitcli
from scanner.sources.git.repo import git_environment, git_usable

# The repository as ``git rev-parse`` locates it and its refs as ``ref_tips`` reads them (None: pygit2 decides).
Plan = tuple[gitcli.Location | None, tuple[list[gitcli.Tip], list[str]] | None]


def located(path: str) -> gitcli.Location | None:
    """Where a working tree's repository is, by git; None to leave it to pygit2 (no git, not a directory, …)."""
    if not git_usable() or not os.path.isdir(path):
        return None
    return gitcli.locate(path, git_environment())


def read_plan(path: str) -> Plan:
    where = located(path)
    return where, gitcli.ref_tips(where.path, where.head, git_environment()) if where is not None else None


class PlanAhead:
    """``read_plan(path)`` in a thread, from the block's start; ``planned`` takes it (once) inside the block."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.plan: Plan = (None, None)
        self.failure: Exception | None = None
        self.thread = threading.Thread(target=self._read, name="leakstop-plan-read", daemon=True)

    def _read(self) -> None:
        try:
            self.plan = read_plan(self.path)
        except Exception as exc:  # given to the scan's thread, where it would have been raised
            self.failure = exc

    def __enter__(self) -> PlanAhead:
        if self.path not in _AHEAD:
            _AHEAD[self.path] = self
            self.thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        if _AHEAD.get(self.path) is self:
            del _AHEAD[self.path]
        if self.thread.is_alive():
            self.thread.join()

    def taken(self) -> Plan:
        self.thread.join()
        if self.failure is not None:
            raise self.failure
        return self.plan


_AHEAD: dict[str, PlanAhead] = {}  # path → the read running for it, inside its ``with`` block


def planned(path: str) -> Plan:
    """The plan the thread read for ``path`` (taken once: a second source reads its own), else read now."""
    ahead = _AHEAD.pop(path, None)
    return ahead.taken() if ahead is not None else read_plan(path)
