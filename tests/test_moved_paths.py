"""A path that moves to another worker brings its last version's id (``BlobRef.previous``): the new worker cuts the
version to what changed, as the path's old worker would have, instead of scanning it whole."""

from __future__ import annotations

from pathlib import Path

import pytest

from scanner.detect.engine import Detector
from scanner.pipeline import workers
from scanner.pipeline.detection import ChunkDetector
from scanner.pipeline.refscan import Limits
from scanner.pipeline.workers import WorkerPool
from scanner.ruleset import Ruleset
from scanner.sources.base import BlobRef, Skips
from scanner.sources.git.source import CommitSource
from tests.gitrepo import Repo, isolate_git

LINES = [f"line {n} of a plain text file with nothing secret in it\n" for n in range(200)]


@pytest.fixture
def versions(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Repo:
    """Two paths, six versions each, every version changing one line far from the file's ends."""
    isolate_git(monkeypatch, tmp_path / "home")
    repo = Repo.init(tmp_path / "repo")
    for version in range(6):
        lines = list(LINES)
        lines[100] = f"changed in version {version}\n"
        lines[50] = f"also changed in version {version}\n"
        text = "".join(lines)
        repo.commit(f"version {version}", {"a.txt": text, "b/c.txt": text.upper()})
    return repo


def _refs(repo: Repo) -> tuple[CommitSource, list[BlobRef]]:
    source = CommitSource(str(repo.path), "history")
    refs = [item for item in source.items(Skips()) if isinstance(item, BlobRef)]
    assert len(refs) == 12
    return source, refs


def _chunks(source: CommitSource, batches: list[list[BlobRef]]) -> list[tuple[bytes, int]]:
    """What one reader makes of the last ref, after reading the batches before it in order."""
    reader = source.reader()
    try:
        reads = [read for batch in batches for read in reader.read(batch)]
    finally:
        reader.close()
    return [(chunk.content, chunk.first_line) for chunk in reads[-1].chunks]


def test_a_moved_version_is_cut_against_the_version_it_came_after(versions: Repo) -> None:
    source, refs = _refs(versions)
    a = [ref for ref in refs if ref.path == "a.txt"]
    in_order = _chunks(source, [[ref] for ref in a[:4]])
    moved = BlobRef(a[3].oid, a[3].path, a[3].commit, a[3].order, previous=a[2].oid)
    assert _chunks(source, [[moved]]) == in_order
    assert sum(len(content) for content, _line in in_order) < len("".join(LINES)) // 2  # a cut, not the whole
    # A worker holding an older version of the path (it had the path before it moved away) follows the id, and
    # its other refs of the same batch still follow its own last version.
    stale = _chunks(source, [[a[0]], [a[1], BlobRef(a[4].oid, a[4].path, a[4].commit, a[4].order, a[3].oid)]])
    assert stale == _chunks(source, [[ref] for ref in a[:5]])


def test_refs_that_move_between_workers_are_never_read_whole_again(
    versions: Repo, github_detector: Detector, github_ruleset: Ruleset, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(workers, "REBALANCE", -1)  # every ref goes to the least busy worker: paths move often
    source, refs = _refs(versions)
    pool = WorkerPool(source.reader, ChunkDetector(github_detector, github_ruleset), 2, Limits(report_clean=True))
    try:
        for ref in refs:
            pool.submit(ref)
        batches = list(pool.ready()) + list(pool.finish())
    finally:
        pool.close()
    assert len({worker for worker, _last in pool.assigned.values()}) == 2
    whole = {oid for batch in batches for oid in batch[3]}  # blobs read whole with no match
    assert whole == {refs[0].oid, refs[1].oid}  # the first version of each path only
