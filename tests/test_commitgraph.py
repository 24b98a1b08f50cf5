"""The history walk's commit-graph (``sources/git/graph.py``): kept in the cache, never in the repository, and the
walk gives the same blobs, attributions and messages with it, without it, and with one older than the tips."""

from __future__ import annotations

import hashlib
import os
import subprocess
from pathlib import Path

import pytest

from scanner.sources.base import Skips
from scanner.sources.git import graph
from scanner.sources.git import walk as git_walk
from scanner.sources.git.graph import commit_graph, with_graph
from scanner.sources.git.libgit2walk import history_tips
from scanner.sources.git.repo import git_environment, open_repository
from tests.gitrepo import Repo, isolate_git


@pytest.fixture
def branchy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Repo:
    """Branches that fork and merge, the same content added on two of them (its attribution depends on the
    walk's order), a tag, a merge that resolves a conflict with new content."""
    isolate_git(monkeypatch, tmp_path / "home")
    monkeypatch.setenv("LEAKSTOP_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(graph, "MIN_PACK", 0)  # a test repository is tiny: its objects are not even packed
    repo = Repo.init(tmp_path / "repo")
    repo.commit("root", {"a.txt": "one\n", "shared.txt": "base\n"})
    for branch, files in (("left", {"l.txt": "left\n", "twin.txt": "same\n"}), ("right", {"twin.txt": "same\n"})):
        repo.git("checkout", "-q", "-b", branch, "main")
        repo.commit(f"{branch} 1", files)
        repo.commit(f"{branch} 2", {"shared.txt": f"{branch}\n"})
    repo.git("checkout", "-q", "main")
    repo.commit("main moves on", {"a.txt": "two\n"})
    repo.git("merge", "-q", "--no-ff", "-m", "merge left", "left")
    repo.git("merge", "-q", "--no-ff", "-m", "merge right", "right", check=False)  # conflicts on shared.txt
    repo.commit("merge right", {"shared.txt": "resolved\n"})
    repo.git("tag", "-a", "-m", "release", "v1")
    return repo


def _walk(repo: Repo, use_graph: bool) -> list[object]:
    handle = open_repository(str(repo.path))
    skips = Skips()
    tips = history_tips(handle, skips)
    items = list(git_walk.walk_commits(handle, tips, [], skips, git_walk.WalkStats(), use_graph=use_graph))
    assert not skips.stats.skipped.get("git-log-failed")
    return items


def _graph_dir(repo: Repo) -> Path:
    graphs = list((repo.path.parent / "cache" / "commit-graph").iterdir())
    assert len(graphs) == 1
    return graphs[0]


def _verify(repo: Repo, directory: Path) -> None:
    env = {**git_environment(), "GIT_ALTERNATE_OBJECT_DIRECTORIES": str(directory)}
    args = ["git", "--git-dir", str(repo.path / ".git"), "commit-graph", "verify", "--object-dir", str(directory)]
    subprocess.run(args, env=env, check=True, capture_output=True)


def test_the_walk_is_the_same_with_the_graph_and_the_graph_is_in_the_cache(branchy: Repo) -> None:
    without = _walk(branchy, use_graph=False)
    assert not (branchy.path.parent / "cache" / "commit-graph").exists()
    first = _walk(branchy, use_graph=True)  # writes the graph beside the walk
    directory = _graph_dir(branchy)
    assert (directory / "info" / "commit-graph").is_file()
    assert not list((branchy.path / ".git" / "objects" / "info").glob("commit-graph*"))  # the repository untouched
    _verify(branchy, directory)
    stamp = (directory / "tips").read_text()
    written = (directory / "info" / "commit-graph").stat().st_mtime_ns
    second = _walk(branchy, use_graph=True)  # reads it; the tips have not changed: not written again
    assert (directory / "info" / "commit-graph").stat().st_mtime_ns == written
    assert (directory / "tips").read_text() == stamp
    assert first == second == without
    twin = [item for item in without if isinstance(item, git_walk.BlobRef) and item.path == "twin.txt"]
    assert len(twin) == 1  # the same content on two branches: one ref, the first in walk order


def test_a_small_repository_gets_no_graph(branchy: Repo, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(graph, "MIN_PACK", 8 << 20)
    branchy.git("gc", "-q")  # one pack, a few KB
    assert _walk(branchy, use_graph=True) == _walk(branchy, use_graph=False)
    assert not (branchy.path.parent / "cache" / "commit-graph").exists()


def test_a_graph_older_than_the_tips_gives_the_same_walk_and_is_rewritten(branchy: Repo) -> None:
    _walk(branchy, use_graph=True)
    directory = _graph_dir(branchy)
    stamp = (directory / "tips").read_text()
    branchy.git("checkout", "-q", "-b", "later", "left")
    branchy.commit("later 1", {"twin.txt": "same\n", "new.txt": "new\n"})
    branchy.git("checkout", "-q", "main")
    branchy.commit("main again", {"a.txt": "three\n"})
    with_old_graph = _walk(branchy, use_graph=True)
    assert (directory / "tips").read_text() != stamp  # rewritten for the new tips
    assert with_old_graph == _walk(branchy, use_graph=False) == _walk(branchy, use_graph=True)


def test_no_usable_cache_means_the_walk_as_before(branchy: Repo, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = branchy.path.parent / "not-a-dir"
    blocker.write_text("")
    monkeypatch.setenv("LEAKSTOP_CACHE_DIR", str(blocker))
    assert _walk(branchy, use_graph=True) == _walk(branchy, use_graph=False)


def test_an_abandoned_walk_leaves_no_writer_and_no_lock(branchy: Repo) -> None:
    handle = open_repository(str(branchy.path))
    skips = Skips()
    walk = git_walk.walk_commits(handle, history_tips(handle, skips), [], skips, git_walk.WalkStats(), use_graph=True)
    next(walk)
    walk.close()  # the writer is ended (or was done) and reaped
    assert not list(_graph_dir(branchy).rglob("*.lock"))


def test_the_graph_directory_joins_a_quarantine() -> None:
    graph = commit_graph("/repo/.git", "")
    env = with_graph({"GIT_ALTERNATE_OBJECT_DIRECTORIES": "/q/one:/q/two", "PATH": "/bin"}, graph)
    assert env["GIT_ALTERNATE_OBJECT_DIRECTORIES"] == f"/q/one:/q/two:{graph.directory}"
    assert env["PATH"] == "/bin"


def test_only_the_most_recent_graphs_are_kept(branchy: Repo, monkeypatch: pytest.MonkeyPatch) -> None:
    root = branchy.path.parent / "cache" / "commit-graph"
    for n in range(4):  # graphs of repositories scanned before, oldest first
        (root / f"old{n}" / "info").mkdir(parents=True)
        os.utime(root / f"old{n}", (1_000_000 + n, 1_000_000 + n))
    monkeypatch.setattr(graph, "KEEP", 3)
    _walk(branchy, use_graph=True)
    assert sorted(entry.name for entry in root.iterdir() if entry.name.startswith("old")) == ["old2", "old3"]
    assert (_newest(root) / "info" / "commit-graph").is_file()


def _newest(root: Path) -> Path:
    return max(root.iterdir(), key=lambda entry: entry.stat().st_mtime)


@pytest.mark.parametrize("checksum", ["left as it was", "made to match"])
def test_a_damaged_graph_is_dropped_and_the_walk_is_the_same(branchy: Repo, checksum: str) -> None:
    expected = _walk(branchy, use_graph=True)
    directory = _graph_dir(branchy)
    path = directory / "info" / "commit-graph"
    data = bytearray(path.read_bytes())
    cdat = _chunk_offset(bytes(data), b"CDAT")  # commit data: tree id, then two parent positions
    # "No parent" reads as a root commit (another walk, silently); a position past the end makes git die.
    position = 0x70000000 if checksum == "left as it was" else 0x00000FFF
    for entry in range(cdat, cdat + 36 * 3, 36):
        data[entry + 20 : entry + 24] = position.to_bytes(4, "big")
    if checksum == "made to match":
        data[-20:] = hashlib.sha1(bytes(data[:-20])).digest()
    path.chmod(0o644)
    path.write_bytes(bytes(data))
    assert _walk(branchy, use_graph=True) == expected  # _walk: and no git-log-failed
    if checksum == "left as it was":  # dropped before the walk, written again beside it
        assert commit_graph(str(branchy.path / ".git"), "").intact
    else:  # git failed on it: dropped, and the walk ran again without it
        assert not directory.exists()
    assert _walk(branchy, use_graph=True) == expected


def _chunk_offset(data: bytes, name: bytes) -> int:
    """Where a commit-graph chunk starts: the table of contents follows the 8-byte header, 12 bytes an entry."""
    for at in range(8, 8 + 12 * data[6], 12):
        if data[at : at + 4] == name:
            return int.from_bytes(data[at + 4 : at + 12], "big")
    raise AssertionError(f"no {name!r} chunk")
