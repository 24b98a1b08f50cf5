"""The git sources: a commit walk (history, a range, a push) and the staged changes."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence
from typing import Any

from scanner.models import Bypass, Chunk, GitOrigin, Origin, ScanIssue, Target
from scanner.sources.base import BlobRef, CommitMessage, Skips
from scanner.sources.git import gitcli
from scanner.sources.git.blobs import BlobLimits, GitBlobReader
from scanner.sources.git.libgit2walk import tag_message, tag_messages
from scanner.sources.git.loose import corrupt_loose, guard, object_dirs_of
from scanner.sources.git.planahead import planned
from scanner.sources.git.ranges import Base, Plan, plan, range_base
from scanner.sources.git.repo import commit_origin, git_environment, git_usable, open_repository, shallow_issue
from scanner.sources.git.trailers import trailer_bypass
from scanner.sources.git.walk import LogStart, WalkStats, start_log, stop_log, walk_commits


class CommitSource:
    """``history``, ``range`` or ``push``: new blobs as refs (read by the pipeline's workers), commit messages as
    chunks, and for history the annotated tags' messages. A finding's commit metadata is looked up only then."""

    target: Target = "git"

    def __init__(
        self,
        path: str,
        mode: str,
        range_spec: str = "",
        push_lines: Sequence[str] = (),
        max_size: int = 0,
        scan_binary: bool = False,
        object_dirs: Sequence[str] = (),
    ) -> None:
        self.object_dirs = tuple(object_dirs)  # a push's quarantine: where its objects are until it is accepted
        # A plain history scan plans its walk through git's command line: no pygit2 on its start (gitcli.py).
        located, self.refs = planned(path) if mode == "history" and not object_dirs else (None, None)
        self.repo: Any = LazyRepository(located) if located is not None and self.refs is not None else None
        if self.repo is None:
            self.repo = open_repository(path, self.object_dirs)
        self.objects = gitcli.Objects(self.repo.path, git_environment()) if self.refs is not None else None
        # Corrupt loose objects are found first: libgit2 would spin forever on a truncated one (loose.py).
        self.corrupt = corrupt_loose(object_dirs_of(self.repo.path, self.object_dirs))
        guard(self.repo, object_dirs_of(self.repo.path, self.object_dirs), self.corrupt)
        self.root: str = self.repo.workdir or self.repo.path
        self.mode = "range" if mode == "push" and range_spec else mode
        self.range_spec = range_spec
        self.push_lines = tuple(push_lines)
        self.limits = BlobLimits(max_size, scan_binary, only_added_lines=self.mode != "history")
        self.base = Base()
        self.stats = WalkStats()
        self._origins: dict[tuple[str, str, str], GitOrigin] = {}
        self.log: LogStart | None = None  # ``start_walk``'s git log, until ``items`` walks it

    def items(self, skips: Skips) -> Iterator[Chunk | BlobRef | CommitMessage]:
        repo = self.repo
        skips.issues.extend(ScanIssue(oid, "corrupt-object", why) for oid, why in self.corrupt.items())
        issue = shallow_issue(repo)
        if issue is not None:
            skips.issues.append(issue)
        if self.refs is not None:
            walk = Plan(list(self.refs[0]))
        else:
            walk = plan(repo, self.mode, self.range_spec, self.push_lines, skips, self.object_dirs)
        if not walk.tips and not walk.tags and repo.head_is_unborn and not any(True for _ in repo.references):
            skips.issues.append(ScanIssue(repo.path, "empty-repository", "the repository has no commits"))
            return
        self.base = range_base(repo, walk.tips, walk.hidden)
        started, self.log = self.log, None
        yield from walk_commits(  # not a loop here: a generator step per item of the walk, 14,000 on requests
            repo, walk.tips, walk.hidden, skips, self.stats, self.object_dirs, self.mode == "history", started
        )
        for tag in walk.tags:
            if tag.message:
                yield tag_message(tag)
        if self.mode == "history":
            yield from self._tag_messages(skips)
        skips.stats.skipped["duplicate-blob"] += self.stats.appearances

    def _tag_messages(self, skips: Skips) -> Iterator[Chunk]:
        """The annotated tags' messages: read by git when the plan was git's and each tag parses as libgit2 would."""
        tags = self.objects.tags(self.refs[1]) if self.objects is not None and self.refs is not None else None
        if tags is None or None in tags:
            yield from tag_messages(self.repo, skips)
            return
        yield from (tag_message(tag) for tag in tags if tag is not None and tag.message)

    def _commit(self, oid: str) -> Any:
        """A commit's metadata for a finding: from git's ``cat-file`` on the fast path, else libgit2's."""
        found = self.objects.commit(oid) if self.objects is not None else None
        return found if found is not None else self.repo[oid]

    def start_walk(self) -> bool:
        """A history planned by git starts its ``git log`` now, before ``items``: git orders the commits (all of
        them before it prints the first) while the caller loads what the scan still needs. False: not started
        (libgit2 plans this walk, or ``git`` is missing or too old)."""
        if self.refs is not None and self.mode == "history" and self.log is None and git_usable():
            self.log = start_log(self.repo.path, self.refs[0], (), git_environment(self.object_dirs), True)
        return self.log is not None

    def close(self) -> None:
        """The commit reader's git process ends (once the findings are resolved), and a ``git log`` started for a
        walk that never ran."""
        if self.objects is not None:
            self.objects.close()
        if self.log is not None:
            stop_log(self.log)
            self.log = None

    def detail(self) -> str:
        return f"{self.stats.commits} commits, {self.stats.blobs} unique blobs"

    def reader(self) -> GitBlobReader:
        """Made in each worker after the fork, once ``items`` has planned the walk (the range's base)."""
        return GitBlobReader(self.repo.path, self.limits, self.base, self.object_dirs, self.corrupt)

    def resolve(self, origin: Origin) -> Origin:
        if not isinstance(origin, GitOrigin) or origin.author or origin.where == "tag-message":
            return origin
        key = (origin.commit, origin.path, origin.where)
        full = self._origins.get(key)
        if full is None:
            full = self._origins[key] = commit_origin(self._commit(origin.commit), origin.path, origin.where)
        return dataclasses.replace(full, address=origin.address, attribute=origin.attribute)

    def requested_bypass(self, origin: Origin) -> Bypass | None:
        commit = getattr(origin, "commit", "")
        # Looked up even when the policy refuses trailers, so that the report can say it did.
        return trailer_bypass(self._commit(commit)) if commit and origin.kind == "git" else None


class LazyRepository:
    """What ``git rev-parse`` located, with pygit2's attribute names; pygit2 opens the repository only when asked
    for anything else (the libgit2 fallbacks: a failed ``git log``, a commit or tag git's reading leaves to it)."""

    def __init__(self, location: gitcli.Location) -> None:
        self.path, self.workdir, self.is_shallow = location.path, location.workdir, location.shallow
        self._opened: Any = None

    def _repository(self) -> Any:
        if self._opened is None:
            self._opened = open_repository(self.path)
        return self._opened

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):  # a probe (copy, pickle, hasattr) opens nothing
            raise AttributeError(name)
        return getattr(self._repository(), name)

    def __getitem__(self, key: str) -> Any:
        return self._repository()[key]
