"""What a git scan covers: the tips to walk from and the commits to hide, for history, ranges and pushes, and
where a range's files came from (its base)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from scanner.sources.base import Skips
from scanner.sources.git.libgit2walk import history_tips
from scanner.sources.git.repo import ZERO_OIDS, pygit2_module, resolve_commit


@dataclass(frozen=True)
class Plan:
    """What a walk covers: the commits it starts from, those it hides (and compares with), and the annotated tags
    a push sends (their messages are scanned)."""

    tips: list[Any] = field(default_factory=list)
    hidden: list[Any] = field(default_factory=list)
    tags: list[Any] = field(default_factory=list)


def push_ranges(repo: Any, lines: Iterable[Sequence[str]]) -> Plan:
    """Tips and hidden commits for what a push sends, from git's pre-push lines' fields:
    ``<local ref> <local oid> <remote ref> <remote oid>``. A deleted ref sends nothing; a new ref sends what no
    remote-tracking ref has yet; an update sends ``remote..local``.
    """
    tips: list[Any] = []
    hidden: list[Any] = []
    for _local_ref, local_oid, _remote_ref, remote_oid in lines:
        if local_oid in ZERO_OIDS:
            continue
        tips.append(resolve_commit(repo, local_oid))
        if remote_oid not in ZERO_OIDS and repo.get(remote_oid) is not None:
            hidden.append(resolve_commit(repo, remote_oid))
        else:
            hidden.extend(remote_tips(repo))
    return Plan(tips, hidden)


def remote_tips(repo: Any) -> list[Any]:
    pygit2 = pygit2_module()
    found = []
    for name in repo.references:
        if name.startswith("refs/remotes/"):
            try:
                found.append(repo.references[name].peel(pygit2.Commit))
            except (pygit2.GitError, ValueError):
                continue
    return found


@dataclass(frozen=True)
class Base:
    """What a range starts from: its base commits, and where files renamed since then came from."""

    commits: tuple[str, ...] = ()
    renamed_from: dict[str, str] = field(default_factory=dict)


def range_base(repo: Any, tips: Sequence[Any], hidden: Sequence[Any]) -> Base:
    """Renames between the base and each tip (libgit2's similarity detection), so that a file renamed and
    edited in the range is compared with its old self instead of being reported whole."""
    renamed: dict[str, str] = {}
    if hidden:  # a history scan hides nothing: pygit2 is not imported for it
        pygit2 = pygit2_module()
        for tip in tips:
            diff = hidden[0].tree.diff_to_tree(tip.tree)
            try:
                diff.find_similar()
            except pygit2.GitError:  # a missing blob: no renames then; the walk lists the object as missing
                continue
            for delta in diff.deltas:
                if delta.old_file.path != delta.new_file.path:
                    renamed[delta.new_file.path] = delta.old_file.path
    return Base(tuple(str(c.id) for c in hidden), renamed)


def plan(
    repo: Any, mode: str, range_spec: str, push_lines: Sequence[str], skips: Skips, object_dirs: Sequence[str] = ()
) -> Plan:
    """Tips to walk from and commits to hide: ``history``; ``range`` (``A..B``, or ``A`` for ``A..HEAD``, or a
    revision list); ``push`` (git's pre-push or pre-receive lines, else HEAD minus every remote-tracking ref)."""
    if mode == "history":
        return Plan(history_tips(repo, skips))
    if mode == "range":
        if " " in range_spec:
            return revision_list(repo, range_spec.split())
        if ".." in range_spec:
            base, _, head = range_spec.partition("..")
            head = head.lstrip(".") or "HEAD"
            return Plan([resolve_commit(repo, head)], [resolve_commit(repo, base)] if base else [])
        return Plan([resolve_commit(repo, "HEAD")], [resolve_commit(repo, range_spec)])
    if push_lines:
        from scanner.sources.git.pushed import RefUpdate, parse_lines, received  # not on the commit hook's path

        kind, lines = parse_lines(push_lines)
        if kind == "pre-push":
            return push_ranges(repo, lines)
        pushed = received(repo, [RefUpdate(*fields) for fields in lines], object_dirs)
        return Plan(pushed.tips, pushed.boundary, pushed.tags)
    if repo.head_is_unborn:
        return Plan()
    return Plan([resolve_commit(repo, "HEAD")], remote_tips(repo))


def revision_list(repo: Any, revisions: Sequence[str]) -> Plan:
    """``B ^A1 ^A2``, git's notation for a range with several bases: what a CI push adds that no other branch
    has (``scanner.integrations.ci``)."""
    tips = [resolve_commit(repo, rev) for rev in revisions if not rev.startswith("^")]
    hidden = [resolve_commit(repo, rev[1:]) for rev in revisions if rev.startswith("^")]
    return Plan(tips, hidden)
