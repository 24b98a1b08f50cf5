"""The git sources: a commit walk (history, a range, a push) and the staged changes."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence

from scanner.models import Bypass, Chunk, GitOrigin, Origin, ScanIssue, Target
from scanner.sources.base import BlobRef, Skips
from scanner.sources.git.blobs import BlobLimits, GitBlobReader
from scanner.sources.git.loose import corrupt_loose, guard, object_dirs_of
from scanner.sources.git.ranges import Base, plan, range_base
from scanner.sources.git.repo import commit_origin, open_repository, shallow_issue
from scanner.sources.git.trailers import trailer_bypass
from scanner.sources.git.walk import WalkStats, tag_message, tag_messages, walk_commits


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
        self.repo = open_repository(path, self.object_dirs)
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
        self.blobs = 0
        self._origins: dict[tuple[str, str, str], GitOrigin] = {}

    def items(self, skips: Skips) -> Iterator[Chunk | BlobRef]:
        repo = self.repo
        skips.issues.extend(ScanIssue(oid, "corrupt-object", why) for oid, why in self.corrupt.items())
        issue = shallow_issue(repo)
        if issue is not None:
            skips.issues.append(issue)
        walk = plan(repo, self.mode, self.range_spec, self.push_lines, skips, self.object_dirs)
        if not walk.tips and not walk.tags and repo.head_is_unborn and not any(True for _ in repo.references):
            skips.issues.append(ScanIssue(repo.path, "empty-repository", "the repository has no commits"))
            return
        self.base = range_base(repo, walk.tips, walk.hidden)
        for item in walk_commits(
            repo, walk.tips, walk.hidden, skips, self.stats, self.object_dirs, use_graph=self.mode == "history"
        ):
            if isinstance(item, BlobRef):
                self.blobs += 1
            yield item
        for tag in walk.tags:
            if tag.message:
                yield tag_message(tag)
        if self.mode == "history":
            yield from tag_messages(repo, skips)
        skips.stats.skipped["duplicate-blob"] += self.stats.appearances

    def detail(self) -> str:
        return f"{self.stats.commits} commits, {self.blobs} unique blobs"

    def reader(self) -> GitBlobReader:
        """Made in each worker after the fork, once ``items`` has planned the walk (the range's base)."""
        return GitBlobReader(self.repo.path, self.limits, self.base, self.object_dirs, self.corrupt)

    def resolve(self, origin: Origin) -> Origin:
        if not isinstance(origin, GitOrigin) or origin.author or origin.where == "tag-message":
            return origin
        key = (origin.commit, origin.path, origin.where)
        full = self._origins.get(key)
        if full is None:
            full = self._origins[key] = commit_origin(self.repo[origin.commit], origin.path, origin.where)
        return dataclasses.replace(full, address=origin.address, attribute=origin.attribute)

    def requested_bypass(self, origin: Origin) -> Bypass | None:
        commit = getattr(origin, "commit", "")
        # Looked up even when the policy refuses trailers, so that the report can say it did.
        return trailer_bypass(self.repo[commit]) if commit and origin.kind == "git" else None
