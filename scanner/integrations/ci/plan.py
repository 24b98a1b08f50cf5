"""From a CI event to what ``leakstop ci`` scans (integrations.md 2.2 and 3.3).

* a push or a pull/merge request: the commits of ``base..head``. Without a base (a new branch or tag), or when the
  base is not in the clone (a force push rewrote it away), what ``head`` has that no other branch of the remote
  has: ``rev-list head --not <the other remote-tracking refs>`` (the pushed branch's own ref already holds
  ``head``, so it is left out);
* a scheduled or manual run: the configured scope, the checked-out tree or the history of every ref;
* an event it does not know: the tree, and it says so.

When commits of the range are not in the clone (a shallow clone, a base that is gone), ``leakstop ci --fetch``
deepens it step by step (``--deepen``, then ``--unshallow``, then the missing ids, then the default branch) until
the range is whole; otherwise, or if that fails, the plan says exactly what was not scanned (``CiPlan.issues``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from scanner.integrations.ci.environment import COMMIT_ID
from scanner.integrations.ci.gitrepo import GitRepo
from scanner.integrations.ci.model import CiEvent, CiPlan, PlanSettings
from scanner.models import ScanIssue

MAX_LISTED = 20  # commit ids an issue lists before "… and N more"
ADVICE = "fetch the whole history (actions/checkout fetch-depth: 0, GIT_DEPTH: 0) or run leakstop ci --fetch"


def plan_scan(event: CiEvent, git: GitRepo, settings: PlanSettings) -> CiPlan:
    if event.kind in ("scheduled", "manual"):
        if settings.scope == "history":
            return _history(git, settings)
        return CiPlan("tree", f"scanning the tree at {_short(event.head or git.head())} (scope tree)")
    if event.kind == "unknown":
        head = _short(event.head or git.head())
        return CiPlan("tree", f"unknown event {event.name!r}: scanning the tree at {head}")
    if event.deleted or not event.head:
        head = git.head()
        return CiPlan("range", f"nothing to scan: the push deleted {event.ref or 'the ref'}", f"{head}..{head}")
    return _range(event, git, settings)


def _history(git: GitRepo, settings: PlanSettings) -> CiPlan:
    notes: list[str] = []
    if settings.fetch and git.is_shallow():
        notes.append(_fetched(git, ["--unshallow", settings.remote]))
    return CiPlan("history", "scanning every commit of every ref (scope history)", notes=tuple(notes))


@dataclass(frozen=True)
class _Look:
    """What the clone holds of an event's range right now, and what it lacks (``wants``)."""

    head: bool
    base: bool
    hidden: tuple[str, ...]  # the base, else the other remote branches' tips
    commits: tuple[str, ...]
    boundary: tuple[str, ...]  # shallow commits in the range: their parents are not in the clone
    cut: tuple[str, ...]  # shallow commits on the base's side: what it has in common with head may be unknown
    wants: frozenset[str]  # "head", "base", "boundary", "branches" (nothing to compare a new branch with)


def _look(event: CiEvent, git: GitRepo, remote: str) -> _Look:
    have = git.present([event.head, event.base])
    head, base = event.head in have, bool(event.base) and event.base in have
    if base:
        hidden: tuple[str, ...] = (event.base,)
    else:
        refs = git.remote_refs(remote)
        hidden = tuple(sorted({sha for name, sha in refs.items() if name != event.branch}))
    commits = tuple(git.rev_list([event.head], hidden)) if head else ()
    shallow = git.shallow_boundary()
    boundary = tuple(c for c in commits if c in shallow)
    # The base's side cut short: the commits head shares with it beyond the cut would be taken for new ones.
    cut = tuple(c for c in git.rev_list(hidden, [event.head]) if c in shallow) if shallow and head else ()
    wants = {"head"} if not head else set()
    if event.base and not base:
        wants.add("base")
    if boundary or cut:
        wants.add("boundary")
    if not base and not hidden:
        wants.add("branches")
    return _Look(head, base, hidden, commits, boundary, cut, frozenset(wants))


# Each step gives the arguments of one ``git fetch`` that may supply what the look wants, or None.
FetchStep = Callable[[CiEvent, _Look, GitRepo, str], "list[str] | None"]
_DEPTH = frozenset({"head", "base", "boundary"})


def _deepen(event: CiEvent, look: _Look, git: GitRepo, remote: str) -> list[str] | None:
    if not look.wants & _DEPTH or not git.is_shallow():
        return None
    known = max(event.commit_count, len(event.commits), len(look.commits))
    return [f"--deepen={50 + 2 * known}", remote]


def _unshallow(event: CiEvent, look: _Look, git: GitRepo, remote: str) -> list[str] | None:
    return ["--unshallow", remote] if look.wants & _DEPTH and git.is_shallow() else None


def _missing_ids(event: CiEvent, look: _Look, git: GitRepo, remote: str) -> list[str] | None:
    ids = [c for c, want in ((event.head, "head"), (event.base, "base")) if want in look.wants]
    return [remote, *ids] if ids else None


def _default_branch(event: CiEvent, look: _Look, git: GitRepo, remote: str) -> list[str] | None:
    name = event.default_branch
    if "branches" not in look.wants or not name or name == event.branch:
        return None
    return [remote, f"+refs/heads/{name}:refs/remotes/{remote}/{name}"]


def _steps(event: CiEvent) -> tuple[FetchStep, ...]:
    """A force push's old tip is gone from the branch: ask for it by id before deepening in vain."""
    if event.forced:
        return (_missing_ids, _deepen, _unshallow, _default_branch)
    return (_deepen, _unshallow, _missing_ids, _default_branch)


def _range(event: CiEvent, git: GitRepo, settings: PlanSettings) -> CiPlan:
    look = _look(event, git, settings.remote)
    notes: list[str] = []
    remaining = list(_steps(event)) if settings.fetch else []
    while look.wants and remaining:
        args = None
        while remaining and args is None:
            args = remaining.pop(0)(event, look, git, settings.remote)
        if args is None:
            break
        notes.append(_fetched(git, args))
        look = _look(event, git, settings.remote)
    if not look.head:
        return _head_missing(event, git, notes)
    return _range_plan(event, look, git, notes, settings.remote)


def _fetched(git: GitRepo, args: list[str]) -> str:
    error = git.fetch(*args)
    shown = " ".join(a[:12] if COMMIT_ID.match(a) else a for a in args)
    return f"ran git fetch {shown}" + (f": failed: {error}" if error else "")


def _head_missing(event: CiEvent, git: GitRepo, notes: list[str]) -> CiPlan:
    where = _range_text(event)
    issue = ScanIssue(
        where,
        "missing-commit",
        f"{event.head[:12]} is not in the clone: the commits of {where} were not scanned (the checked-out tree was"
        f" scanned instead); {ADVICE}",
    )
    description = f"{_short(event.head)} is not in the clone: scanning the tree at {_short(git.head())} instead"
    return CiPlan("tree", description, notes=tuple(notes), issues=(issue,))


def _range_plan(event: CiEvent, look: _Look, git: GitRepo, notes: list[str], remote: str) -> CiPlan:
    head, n = event.head, len(look.commits)
    count = f"{n} commit{'' if n == 1 else 's'}"
    if look.base:
        spec, description = f"{event.base}..{head}", f"scanning {count} {_short(event.base)}..{_short(head)}"
    elif look.hidden:
        spec = " ".join([head, *(f"^{h}" for h in look.hidden)])
        description = f"scanning {count} up to {_short(head)} that no other branch of {remote} has"
    else:
        spec = f"..{head}"
        description = f"scanning {count} up to {_short(head)}: all its history (no other branch in the clone)"
    if event.base and not look.base:
        forced = " (the push was forced)" if event.forced else ""
        instead = f": scanning what {_short(head)} has that no other branch of {remote} has" if look.hidden else ""
        notes.append(f"{event.base[:12]}, the range's base, is not in the clone{forced}{instead}")
    issues = []
    if look.boundary:
        issues.append(_shallow_issue(event, look, git))
    if look.cut:
        cut = ", ".join(c[:12] for c in look.cut)
        issues.append(
            ScanIssue(
                _range_text(event),
                "shallow-base",
                f"the clone is shallow (the base's history ends at {cut} before it meets {_short(head)}'s): commits"
                f" the base already has may be scanned and reported as new; {ADVICE}",
            )
        )
    return CiPlan("range", description, spec, n, tuple(notes), tuple(issues))


def _shallow_issue(event: CiEvent, look: _Look, git: GitRepo) -> ScanIssue:
    """Which commits a shallow clone kept out of the range: by id where the event lists them (a GitHub push),
    else the boundary the clone ends at and how many commits the event says there are."""
    boundary = ", ".join(c[:12] for c in look.boundary)
    missing = [c for c in event.commits if c not in git.present(event.commits)] if event.commits else []
    if missing:
        listed = ", ".join(c[:12] for c in missing[:MAX_LISTED])
        more = f" … and {len(missing) - MAX_LISTED} more" if len(missing) > MAX_LISTED else ""
        what = f"{len(missing)} commits of the push are not in the clone and were not scanned: {listed}{more}"
    else:
        what = f"commits older than {boundary} in the range were not scanned"
        if event.commit_count > len(look.commits):
            what += f" ({event.commit_count - len(look.commits)} of the {event.commit_count} the event counts)"
    return ScanIssue(
        _range_text(event), "shallow-range", f"the clone is shallow (it ends at {boundary}): {what}; {ADVICE}"
    )


def _range_text(event: CiEvent) -> str:
    return f"{event.base[:12]}..{event.head[:12]}" if event.base else event.head[:12]


def _short(commit: str) -> str:
    return commit[:7]
