"""What a CI run says happened (``CiEvent``) and what ``leakstop ci`` decides to scan (``CiPlan``): frozen values,
no I/O. The platforms' modules fill the event from their environment; ``plan`` turns it into a plan."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from scanner.models import ScanIssue

Platform = Literal["github", "gitlab"]
# What leakstop makes of the platform's event name (``CiEvent.name``).
EventKind = Literal["push", "tag", "change-request", "scheduled", "manual", "unknown"]
Scope = Literal["range", "tree", "history"]

ZERO_IDS = frozenset({"0" * 40, "0" * 64})


def is_zero(commit: str) -> bool:
    """The all-zero id a platform gives for "no commit" (a new branch's before, a deleted ref's after)."""
    return commit in ZERO_IDS


@dataclass(frozen=True)
class CiEvent:
    """The facts of one CI run that decide what to scan, read from its environment and event payload.

    ``head`` is the commit to scan up to (a pull request's head, never the test merge commit); ``base`` what the
    range starts from ("" when the platform gives none: a new branch or tag). ``branch`` names the branch whose
    remote-tracking ref already holds the new commits (it must not hide them). ``commits`` are the ids the event
    lists (a GitHub push lists up to 2048), ``commit_count`` the size it states (a pull request): both only say
    precisely what a shallow clone left out.
    """

    platform: Platform
    name: str  # the platform's own word: push, pull_request, merge_request_event, schedule, workflow_dispatch…
    kind: EventKind
    head: str = ""
    base: str = ""
    ref: str = ""  # the ref built: refs/heads/main, refs/tags/v1.2
    branch: str = ""
    forced: bool = False
    deleted: bool = False
    commits: tuple[str, ...] = ()
    commit_count: int = 0
    default_branch: str = ""

    @property
    def label(self) -> str:
        """``github pull_request``: how the one-line decision names the run."""
        return f"{self.platform} {self.name}"


@dataclass(frozen=True)
class CiPlan:
    """What to scan: a range (``range_spec`` in ``ScanRequest`` notation), the checked-out tree, or the history of
    every ref; what to say about it (``description``, ``notes``), and what it could not scan (``issues``, added to
    the result so that every report shows them)."""

    scope: Scope
    description: str
    range_spec: str = ""
    commits: int = 0
    notes: tuple[str, ...] = ()
    issues: tuple[ScanIssue, ...] = ()


@dataclass(frozen=True)
class PlanSettings:
    """How far ``leakstop ci`` may go: the scope of scheduled and manual runs, and whether it may ``git fetch``."""

    scope: Literal["tree", "history"] = "tree"
    fetch: bool = False
    remote: str = "origin"
