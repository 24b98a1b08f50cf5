"""What libgit2 does for the history walk: the tips of a history scan, the walk itself where ``git log`` cannot
(no usable ``git``, or it failed half way), the blobs of a range's hidden commits, and annotated tags' messages.

A plain history scan takes its tips and tags from ``git`` instead (``gitcli.py``: no pygit2 import on its start);
these are the reference that path is tested against, and what every other case uses.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

from scanner.models import Chunk, GitOrigin
from scanner.sources.base import Skips, printable_path
from scanner.sources.git.repo import pygit2_module

# (commit id, message, [(new mode, new blob id, path) for each added or modified entry])
Change = tuple[str, bytes, list[tuple[int, str, str]]]


def history_tips(repo: Any, skips: Skips) -> list[Any]:
    """Every commit a ref points at (branches, tags, remote-tracking refs; notes aside), HEAD (which may be
    detached) and every stash entry."""
    pygit2 = pygit2_module()
    tips: dict[str, Any] = {}
    for name in repo.references:
        if name.startswith("refs/notes/"):
            continue
        try:
            target = repo.references[name].peel()
        except (pygit2.GitError, KeyError, ValueError) as exc:
            skips.skip(name, "unresolvable-ref", f"cannot resolve: {exc}")
            continue
        if isinstance(target, pygit2.Commit):
            tips[str(target.id)] = target
    if not repo.head_is_unborn:
        try:  # a detached HEAD can hold commits no ref reaches
            head = repo.head.peel(pygit2.Commit)
            tips[str(head.id)] = head
        except (pygit2.GitError, KeyError, ValueError):
            pass
    try:
        for stash in repo.listall_stashes():
            commit = repo.get(stash.commit_id)
            if commit is not None:
                tips[str(commit.id)] = commit
    except pygit2.GitError:
        pass
    return list(tips.values())


def libgit2_changes(
    repo: Any, tips: Sequence[Any], hidden: Sequence[Any], skips: Skips, visited: set[str]
) -> Iterator[Change]:
    pygit2 = pygit2_module()
    walker = repo.walk(None, pygit2.enums.SortMode.TOPOLOGICAL | pygit2.enums.SortMode.REVERSE)
    for tip in tips:
        walker.push(tip.id)
    for commit in hidden:
        walker.hide(commit.id)
    deleted = pygit2.enums.DeltaStatus.DELETED
    skip_binary_check = pygit2.enums.DiffOption.SKIP_BINARY_CHECK
    for commit in walker:
        commit_id = str(commit.id)
        if commit_id in visited:
            continue
        try:
            parents = commit.parents
            # No binary check: it would make libgit2 read blob contents, which the workers read anyway.
            if parents:
                diff = parents[0].tree.diff_to_tree(commit.tree, flags=skip_binary_check)
            else:
                diff = commit.tree.diff_to_tree(swap=True, flags=skip_binary_check)
            entries = [
                (int(d.new_file.mode), str(d.new_file.id), printable_path(d.new_file.path))
                for d in diff.deltas
                if d.status != deleted
            ]
        except (pygit2.GitError, KeyError) as exc:
            # A missing object fails the whole diff: take every readable blob of this commit's tree instead
            # (those seen before are only counted), so one bad object does not hide what later commits add.
            skips.skip(commit_id, "corrupt-object", f"cannot diff the commit against its parent: {exc}")
            entries = []
            _readable_blobs(repo, commit, "", entries, skips)
        yield commit_id, commit.raw_message, entries


def _readable_blobs(repo: Any, tree_owner: Any, prefix: str, out: list[tuple[int, str, str]], skips: Skips) -> None:
    pygit2 = pygit2_module()
    try:
        tree = tree_owner.tree if isinstance(tree_owner, pygit2.Commit) else tree_owner
        entries = list(tree)
    except (pygit2.GitError, KeyError) as exc:
        skips.skip(prefix or "/", "missing-object", f"cannot read tree: {exc}")
        return
    for entry in entries:
        path = f"{prefix}{entry.name}"
        if entry.type_str == "tree":
            try:
                _readable_blobs(repo, repo[entry.id], f"{path}/", out, skips)
            except (pygit2.GitError, KeyError) as exc:
                skips.skip(path, "missing-object", f"cannot read tree: {exc}")
        elif entry.type_str == "blob":
            out.append((int(entry.filemode), str(entry.id), printable_path(path)))


def add_tree_blobs(tree: Any, seen: set[str]) -> None:
    for entry in tree:
        if entry.type_str == "tree":
            add_tree_blobs(tree[entry.name], seen)
        elif entry.type_str == "blob":
            seen.add(str(entry.id))


def tag_messages(repo: Any, skips: Skips) -> Iterator[Chunk]:
    """Annotated tags carry a message of their own (release notes where a token gets pasted)."""
    pygit2 = pygit2_module()
    for name in repo.references:
        if not name.startswith("refs/tags/"):
            continue
        try:
            obj = repo.get(repo.references[name].target)
        except (pygit2.GitError, ValueError) as exc:
            skips.skip(name, "corrupt-object", f"cannot read the tag: {exc}")
            continue
        if isinstance(obj, pygit2.Tag) and obj.message:
            yield tag_message(obj)


def tag_message(tag: Any) -> Chunk:
    """An annotated tag's message, attributed to its tagger and the object it tags."""
    tagger = tag.tagger
    when = ""
    if tagger is not None:
        when = datetime.fromtimestamp(tagger.time, timezone(timedelta(minutes=tagger.offset))).isoformat()
    origin = GitOrigin(
        path="<tag message>",
        commit=str(tag.target),
        author=tagger.name if tagger is not None else "",
        email=tagger.email if tagger is not None else "",
        date=when,
        where="tag-message",
    )
    return Chunk(tag.message.encode("utf-8", "surrogateescape"), origin)
