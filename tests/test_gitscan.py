"""Internals of history scanning: changed regions cover every added line, and the two walkers agree."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from unittest import mock

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tokens import TokenFactory

from scanner import textdiff
from scanner.detect.engine import Detector
from scanner.models import Chunk, GitOrigin, ScanStats
from scanner.pipeline.detection import ChunkDetector, Detected
from scanner.pipeline.messages import MessageBatch
from scanner.ruleset import Ruleset
from scanner.sources.base import MESSAGE_PATH, BlobRef, CommitMessage, Skips
from scanner.sources.git import walk as git_walk
from scanner.sources.git.blobs import BlobLimits, GitBlobReader
from scanner.sources.git.catfile import WINDOW, CatFile
from scanner.sources.git.libgit2walk import history_tips
from scanner.sources.git.ranges import Base
from scanner.sources.git.repo import git_usable, open_repository
from scanner.sources.git.walk import WalkStats
from scanner.textdiff import changed_regions


def added_lines(old: bytes, new: bytes) -> frozenset[int]:
    """Git's own idea of the added lines (libgit2's diff): the reference the regions are checked against."""
    import pygit2

    patch = pygit2.Patch.create_from(old, new, context_lines=0)
    return frozenset(line.new_lineno for hunk in patch.hunks for line in hunk.lines if line.origin == "+")


lines = st.lists(st.sampled_from([b"alpha", b"beta", b"gamma", b"", b"token = x", b"delta" * 30]), max_size=60)


@settings(max_examples=300, deadline=None)
@given(lines, lines, st.booleans())
def test_changed_regions_cover_every_new_line(old_lines: list[bytes], new_lines: list[bytes], big: bool) -> None:
    if big:  # past NARROW_REGION (lowered here): the line-set narrowing path
        old_lines, new_lines = old_lines * 40, new_lines * 40
    old, new = b"\n".join(old_lines) + b"\n", b"\n".join(new_lines) + b"\n"
    new_by_number = new.split(b"\n")
    covered: dict[int, bytes] = {}
    with mock.patch.object(textdiff, "NARROW_REGION", 32 * 1024):
        regions = list(changed_regions(old, new))
    for region, first in regions:
        for offset, text in enumerate(region.split(b"\n")):
            covered.setdefault(first + offset, text)
    known = set(old.split(b"\n"))
    for number in added_lines(old, new):
        # Content the old version already had at this path was scanned then (a moved or duplicated line).
        if new_by_number[number - 1] not in known:
            assert number in covered, number
            assert covered[number] == new_by_number[number - 1]


def _git(cwd: Path, *args: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(
        GIT_AUTHOR_NAME="A",
        GIT_AUTHOR_EMAIL="a@example.invalid",
        GIT_COMMITTER_NAME="A",
        GIT_COMMITTER_EMAIL="a@example.invalid",
        GIT_AUTHOR_DATE="1700000000 +0000",
        GIT_COMMITTER_DATE="1700000000 +0000",
        GIT_CONFIG_GLOBAL=os.devnull,
        GIT_CONFIG_NOSYSTEM="1",
    )
    subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True)


def test_git_log_and_libgit2_walks_agree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo_dir = tmp_path / "repo"
    repo_dir.mkdir()
    _git(repo_dir, "-c", "init.defaultBranch=main", "init", "-q")
    for i in range(12):
        (repo_dir / f"f{i % 4}.txt").write_text(f"version {i}\n" * (i + 1))
        (repo_dir / "moved").mkdir(exist_ok=True)
        if i == 5:
            _git(repo_dir, "mv", "f1.txt", "moved/f1.txt")
        _git(repo_dir, "add", "-A")
        _git(repo_dir, "commit", "-q", "-m", f"commit {i}")
        if i == 6:
            _git(repo_dir, "checkout", "-q", "-b", "side")
            (repo_dir / "side.txt").write_text("side\n")
            _git(repo_dir, "add", "-A")
            _git(repo_dir, "commit", "-q", "-m", "side")
            _git(repo_dir, "checkout", "-q", "main")
    _git(repo_dir, "merge", "-q", "--no-ff", "-m", "merge side", "side")

    def walk() -> tuple[list[tuple[str, str, str]], list[str]]:
        repo = open_repository(str(repo_dir))
        skips = Skips()
        items = list(git_walk.walk_commits(repo, history_tips(repo, skips), [], skips, WalkStats()))
        blobs = sorted((i.oid, i.path, i.commit) for i in items if isinstance(i, BlobRef))
        messages = sorted(i.content.decode() for i in items if isinstance(i, CommitMessage))
        return blobs, messages

    assert git_usable()
    with_git = walk()
    monkeypatch.setattr(git_walk, "git_usable", lambda: False)
    assert walk() == with_git
    assert len(with_git[0]) >= 13 and len(with_git[1]) == 14


def _blob_store(tmp_path: Path, count: int) -> tuple[Path, list[str], list[bytes]]:
    """A bare repository holding ``count`` blobs (written loose, no commit needed)."""
    repo_dir = tmp_path / "store.git"
    _git(tmp_path, "init", "-q", "--bare", str(repo_dir))
    contents = [f"blob {i}\n".encode() * (i % 7 + 1) for i in range(count)]
    paths = [tmp_path / f"b{i}" for i in range(count)]
    for path, content in zip(paths, contents, strict=True):
        path.write_bytes(content)
    result = subprocess.run(
        ["git", "--git-dir", str(repo_dir), "hash-object", "-w", "--stdin-paths"],
        input="".join(f"{path}\n" for path in paths),
        capture_output=True,
        text=True,
        check=True,
    )
    return repo_dir, result.stdout.split(), contents


def test_catfile_reads_more_ids_than_its_window_in_order(tmp_path: Path) -> None:
    repo_dir, oids, contents = _blob_store(tmp_path, WINDOW * 2 + 5)  # more than fits unread in a pipe window
    reader = CatFile(str(repo_dir), max_size=0)
    try:
        assert [answer.data for answer in reader.read(oids)] == contents
    finally:
        reader.close()


def test_a_blob_reader_starts_its_git_when_made_and_reads_through_it(tmp_path: Path) -> None:
    """A history worker makes its reader before it waits for its first batch: ``cat-file`` is already running
    then (started from the worker, it took 16-25 ms), and the first batch is read through that same process."""
    repo_dir, oids, contents = _blob_store(tmp_path, 3)
    reader = GitBlobReader(str(repo_dir), BlobLimits(0, False), Base())
    try:
        assert reader.catfile is not None
        started = reader.catfile._proc
        assert started is not None and started.poll() is None
        refs = [BlobRef(oid, f"f{i}.txt", "c" * 40, i) for i, oid in enumerate(oids)]
        assert [read.chunks[0].content for read in reader.read(refs)] == contents
        assert reader.catfile._proc is started
    finally:
        reader.close()


def test_catfile_over_the_cap_missing_and_abandoned_batches(tmp_path: Path) -> None:
    repo_dir, oids, contents = _blob_store(tmp_path, 4)
    reader = CatFile(str(repo_dir), max_size=len(contents[0]))
    try:
        answers = list(reader.read([oids[1], "0" * 40, oids[0]]))
        assert [(a.data, a.problem) for a in answers] == [
            (None, "too-large"),  # drained from the pipe, not held
            (None, "missing"),
            (contents[0], ""),
        ]
        abandoned = reader.read(oids)
        next(abandoned)  # the caller stops half way: the rest of that batch's answers are still in the pipe
        abandoned.close()
        assert [a.data for a in reader.read([oids[0]])] == [contents[0]]
    finally:
        reader.close()


def test_catfile_survives_a_corrupt_object(tmp_path: Path) -> None:
    """A corrupt loose object makes git fail: that object is reported as failed (the caller asks libgit2,
    which says why) and a new git process reads the rest."""
    repo_dir, oids, contents = _blob_store(tmp_path, 3)
    loose = repo_dir / "objects" / oids[1][:2] / oids[1][2:]
    loose.chmod(0o644)
    loose.write_bytes(b"x\x9c not zlib at all")
    reader = CatFile(str(repo_dir), max_size=0)
    try:
        answers = list(reader.read(oids))
    finally:
        reader.close()
    assert answers[0].data == contents[0] and answers[2].data == contents[2]
    assert answers[1].data is None and answers[1].problem in {"failed", "missing"}


def test_a_message_batch_makes_a_chunk_only_of_a_message_a_match_touches(
    github_detector: Detector, github_ruleset: Ruleset, tokens: TokenFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The walk yields each message as a ``CommitMessage``; the batch scans them joined and makes a ``Chunk`` (with
    the commit's origin, for the finding) only of the one a match touches, not of the other 49."""
    made: list[int] = []
    chunk_of = CommitMessage.chunk

    def counted(message: CommitMessage) -> Chunk:
        made.append(message.order)
        return chunk_of(message)

    monkeypatch.setattr(CommitMessage, "chunk", counted)
    emitted: list[tuple[Chunk, Detected]] = []
    stats = ScanStats()
    batch = MessageBatch(ChunkDetector(github_detector, github_ruleset), stats, lambda c, d: emitted.append((c, d)))
    messages = [CommitMessage(f"change {i}\n\nplain text".encode(), f"{i:040x}", i) for i in range(50)]
    messages[17] = CommitMessage(f"fix\n\nGITHUB_TOKEN={tokens.github_clean()}".encode(), "a" * 40, 17)
    for message in messages:
        batch.add(message)
    batch.flush()
    assert made == [17]
    [(chunk, detected)] = emitted
    assert chunk.origin == GitOrigin(MESSAGE_PATH, "a" * 40, where="commit-message") and chunk.order == 17
    assert [match.line for _, matches in detected.groups for match in matches] == [3]
    assert stats.items_scanned == 50
