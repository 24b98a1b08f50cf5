"""What a push sends, from the ref lines git hands its hooks (integrations.md 1.4, 4.1, 4.4).

pre-push (the client):     ``<local ref> SP <local oid> SP <remote ref> SP <remote oid>``  (``ranges.push_ranges``)
pre-receive (the server):  ``<old oid> SP <new oid> SP <ref name>``                         (``received``)

On the server the pushed objects are in the quarantine (the repository is opened with it as an extra object
store) and no ref is updated yet, so what the push adds is what its new tips reach and no ref does: one ``git
rev-list --stdin --boundary … --not --all`` over every new tip, deduplicated across refs, tags peeled. The
boundary (commits the repository has that the new ones build on) is what the walk hides and compares with.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from scanner.errors import InputError
from scanner.sources.git.repo import ZERO_OIDS, git_environment, git_usable, git_version, pygit2_module

LineKind = Literal["pre-push", "pre-receive"]
_HEX = frozenset("0123456789abcdef")
_EXPECTED = (
    "expected '<old-oid> <new-oid> <ref-name>' (pre-receive) or '<local-ref> <local-oid> <remote-ref> <remote-oid>'"
    " (pre-push)"
)


@dataclass(frozen=True)
class RefUpdate:
    """One line of a pre-receive hook's input."""

    old: str
    new: str
    ref: str

    @property
    def deleted(self) -> bool:
        return self.new in ZERO_OIDS


def shown(text: str, limit: int = 80) -> str:
    """A line or ref name quoted for a one-line message: control characters escaped, cut to ``limit``."""
    cut = text if len(text) <= limit else text[: limit - 1] + "…"
    return repr(cut)


def parse_lines(lines: Iterable[str]) -> tuple[LineKind, list[list[str]]]:
    """The fields of git's hook lines (blank lines skipped), and which hook they are for.

    A line that is neither kind, an object id that is not 40 or 64 hex digits (or not the length of the others),
    a ref name with a control character, or both kinds mixed: an ``InputError`` naming the line.
    """
    kind: LineKind | None = None
    width = 0
    parsed: list[list[str]] = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        fields = line.rstrip("\r\n").split(" ")
        this: LineKind | None = "pre-receive" if len(fields) == 3 else "pre-push" if len(fields) == 4 else None
        if this is None:
            raise InputError(f"ref line {number}: {shown(line)}: {_EXPECTED}")
        if kind is not None and this != kind:
            raise InputError(f"ref line {number}: a {this} line after {kind} lines")
        kind = this
        oids = fields[:2] if this == "pre-receive" else fields[1::2]
        refs = fields[2:] if this == "pre-receive" else fields[0::2]
        for oid in oids:
            if len(oid) not in (40, 64) or not _HEX.issuperset(oid):
                raise InputError(f"ref line {number}: {shown(oid)} is not an object id (40 or 64 hex digits)")
            if width and len(oid) != width:
                raise InputError(f"ref line {number}: a {len(oid)}-digit object id among {width}-digit ones")
            width = len(oid)
        for ref in refs:
            if not ref or any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in ref):
                raise InputError(f"ref line {number}: ref name {shown(ref)} is empty or holds a control character")
        parsed.append(fields)
    return kind or "pre-receive", parsed


@dataclass(frozen=True)
class Received:
    """What a pre-receive push adds: its new commits' tips, the boundary they build on, and annotated tags."""

    tips: list[Any] = field(default_factory=list)
    boundary: list[Any] = field(default_factory=list)
    tags: list[Any] = field(default_factory=list)  # pushed annotated tag objects (their messages are scanned)
    commits: int = 0  # new commits


def received(repo: Any, updates: Sequence[RefUpdate], object_dirs: Sequence[str]) -> Received:
    """The new commits of a push, from its ref updates (deletions send nothing)."""
    tips: dict[str, Any] = {}
    tags: dict[str, Any] = {}
    for update in updates:
        if update.deleted or update.new in tips or update.new in tags:
            continue
        commit = _peeled(repo, update, tags)
        tips.setdefault(str(commit.id), commit)
    if not tips:
        return Received(tags=list(tags.values()))
    new, boundary = _rev_list(repo, list(tips), object_dirs) if git_usable() else _walk(repo, list(tips.values()))
    return Received(
        tips=[c for oid, c in tips.items() if oid in new],
        boundary=[repo[oid] for oid in boundary],
        tags=list(tags.values()),
        commits=len(new),
    )


def _peeled(repo: Any, update: RefUpdate, tags: dict[str, Any]) -> Any:
    """The commit a new ref value names, through annotated tags (kept in ``tags``)."""
    pygit2 = pygit2_module()
    obj = repo.get(update.new)
    while isinstance(obj, pygit2.Tag):
        tags.setdefault(str(obj.id), obj)
        obj = repo.get(obj.target)
    if obj is None:
        raise InputError(
            f"{shown(update.ref)}: object {update.new[:12]} is in neither the repository nor the push's quarantine"
        )
    if not isinstance(obj, pygit2.Commit):
        raise InputError(f"{shown(update.ref)}: points at a {obj.type_str}, not a commit: leakstop scans commits")
    return obj


def _rev_list(repo: Any, tips: list[str], object_dirs: Sequence[str]) -> tuple[set[str], list[str]]:
    """``git rev-list --boundary --stdin --not --all``: the new commits and the boundary. Refs hidden from pushers
    (``receive.hideRefs``, git ≥ 2.39) do not count as existing: the pusher cannot have built on them."""
    args = ["git", "--git-dir", repo.path, "rev-list", "--boundary", "--stdin"]
    if git_version() >= (2, 39):
        args.append("--exclude-hidden=receive")
    args += ["--not", "--all"]
    stdin = "".join(f"{oid}\n" for oid in tips).encode("ascii")
    proc = subprocess.run(args, input=stdin, capture_output=True, env=git_environment(object_dirs), check=False)
    if proc.returncode != 0:
        lines = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        raise InputError(f"{repo.path}: git rev-list failed: {lines[-1] if lines else 'no message'}")
    new: set[str] = set()
    boundary: list[str] = []
    for line in proc.stdout.decode("ascii").split():
        if line.startswith("-"):
            boundary.append(line[1:])
        else:
            new.add(line)
    return new, boundary


def _walk(repo: Any, tips: list[Any]) -> tuple[set[str], list[str]]:
    """libgit2's answer where there is no usable git: every ref hidden (hidden refs cannot be told apart)."""
    pygit2 = pygit2_module()
    walker = repo.walk(None)
    for tip in tips:
        walker.push(tip.id)
    for name in repo.references:
        try:
            walker.hide(repo.references[name].peel(pygit2.Commit).id)
        except (pygit2.GitError, KeyError, ValueError):
            continue  # a ref to a tree or blob hides no commit
    new = {str(c.id): c for c in walker}
    boundary = {str(p) for c in new.values() for p in c.parent_ids if str(p) not in new}
    return set(new), sorted(boundary)
