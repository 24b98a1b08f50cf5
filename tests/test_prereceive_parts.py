"""The pieces under the pre-receive hook: git's alternates list, the clean-blob cache, and the worker pool's
deadline."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from gitrepo import Repo, isolate_git
from hypothesis import given
from hypothesis import strategies as st

from scanner.detect.engine import Detector
from scanner.integrations.prereceive.blobcache import PENDING_TTL, UNUSED_TTL, BlobCache
from scanner.pipeline.detection import ChunkDetector
from scanner.pipeline.refscan import Limits
from scanner.pipeline.workers import GRACE, WorkerPool
from scanner.ruleset import Ruleset
from scanner.sources.base import BlobRead, BlobRef
from scanner.sources.git import alternates

paths = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\0"), min_size=1, max_size=30)


@given(st.lists(paths, max_size=5))
def test_alternates_round_trip(items: list[str]) -> None:
    assert alternates.split(alternates.join(items)) == items


def test_alternates_quote_as_git_does() -> None:
    assert alternates.quote("/srv/objects") == "/srv/objects"
    assert alternates.quote('/srv/a:b"\\\t\x01') == '"/srv/a:b\\"\\\\\\t\\001"'
    assert alternates.split('"/a\\303\\251:b"') == ["/a\u00e9:b"]
    for bad, problem in (('"/a"x', "text after a quoted entry"), ('"/a\\q"', "bad escape"), ('"/a', "does not end")):
        with pytest.raises(ValueError, match=problem):
            alternates.split(bad)


def test_git_reads_an_object_directory_whose_name_needs_quoting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    isolate_git(monkeypatch, tmp_path / "home")
    other = Repo.init(tmp_path / 'odd:dir "x"', "--bare")
    blob = other.git("hash-object", "-w", "--stdin", stdin="only over there\n")
    repo = Repo.init(tmp_path / "repo", "--bare")
    env = {**os.environ, "GIT_ALTERNATE_OBJECT_DIRECTORIES": alternates.join([str(other.path / "objects")])}
    found = subprocess.run(
        ["git", "cat-file", "-p", blob], cwd=repo.path, env=env, capture_output=True, text=True, check=False
    )
    assert found.stdout == "only over there\n"


# --- the clean-blob cache ---


def test_blob_ids_count_as_clean_only_once_their_push_is_in_the_object_store(tmp_path: Path) -> None:
    cache = BlobCache(tmp_path / "c.sqlite", "settings-1")
    cache.add_pending("rules-1", ["b1", "b2"], ["tip"], now=1000.0)
    cache.promote(lambda oids: set(), now=1001.0)  # the push is still in flight (or was rejected later)
    assert not cache.known_clean("rules-1", "b1")
    cache.promote(set, now=1002.0)
    assert cache.known_clean("rules-1", "b1") and cache.known_clean("rules-1", "b2")
    assert not cache.known_clean("rules-2", "b1")  # another ruleset
    assert not BlobCache(tmp_path / "c.sqlite", "settings-2").known_clean("rules-1", "b1")  # other settings
    cache.close()


def test_pending_ids_of_a_push_that_never_landed_are_dropped_and_old_keys_pruned(tmp_path: Path) -> None:
    cache = BlobCache(tmp_path / "c.sqlite", "s")
    cache.add_pending("rules", ["lost"], ["never"], now=0.0)
    cache.add_pending("rules", ["kept"], ["landed"], now=0.0)
    cache.promote(lambda oids: {"landed"}, now=PENDING_TTL + 1)
    assert cache.db is not None
    assert cache.db.execute("SELECT count(*) FROM pending").fetchone() == (0,)
    assert cache.known_clean("rules", "kept") and not cache.known_clean("rules", "lost")
    cache.promote(lambda oids: set(), now=UNUSED_TTL + 1)
    assert not cache.known_clean("rules", "kept")
    cache.add_pending("rules", [], ["tip"])  # nothing to record
    assert cache.db.execute("SELECT count(*) FROM pending").fetchone() == (0,)


def test_a_cache_that_cannot_be_used_switches_off(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    unwritable = BlobCache(blocker / "c.sqlite", "s")
    assert unwritable.db is None and not unwritable.known_clean("r", "b")
    unwritable.add_pending("r", ["b"], ["t"])
    unwritable.promote(set)
    damaged = tmp_path / "damaged.sqlite"
    damaged.write_bytes(b"not a database" * 100)
    assert BlobCache(damaged, "s").db is None
    cache = BlobCache(tmp_path / "c.sqlite", "s")
    with sqlite3.connect(tmp_path / "c.sqlite") as other:
        other.execute("DROP TABLE clean")
    assert not cache.known_clean("r", "b")
    assert cache.db is None  # an error mid-way: off for the rest of the run
    broken = BlobCache(tmp_path / "c2.sqlite", "s")
    with sqlite3.connect(tmp_path / "c2.sqlite") as other:
        other.execute("DROP TABLE pending_blobs")
    broken.add_pending("r", ["b"], ["t"])
    assert broken.db is None
    again = BlobCache(tmp_path / "c3.sqlite", "s")
    with sqlite3.connect(tmp_path / "c3.sqlite") as other:
        other.execute("DROP TABLE pending")
    again.promote(set)
    assert again.db is None


# --- the worker pool's deadline ---


class SlowReader:
    """Takes ``delay`` seconds a blob: a worker busy on a large blob when the deadline passes."""

    def __init__(self, delay: float) -> None:
        self.delay = delay

    def read(self, refs: Sequence[BlobRef]) -> Iterator[BlobRead]:
        for ref in refs:
            time.sleep(self.delay)
            yield BlobRead(ref, 1)

    def close(self) -> None:
        pass


def _refs(count: int) -> list[BlobRef]:
    return [BlobRef(f"{n:040x}", f"f{n}", "c" * 40, n) for n in range(count)]


@pytest.mark.parametrize("workers", [1, 2])
def test_workers_stop_reading_at_the_deadline(github_detector: Detector, github_ruleset: Ruleset, workers: int) -> None:
    detector = ChunkDetector(github_detector, github_ruleset)
    # 100 reads of 0.05 s are 2.5-5 s of work; the deadline leaves the forked workers time to start even on a
    # loaded machine (at 0.3 s, the fresh-clone CI beside three other jobs read none of them in time).
    pool = WorkerPool(lambda: SlowReader(0.05), detector, workers, Limits(time.monotonic() + 1.5))
    for ref in _refs(100):
        pool.submit(ref)
    batches = list(pool.ready()) + list(pool.finish())
    assert sum(b[0] for b in batches) == 100
    late = sum(b[4] for b in batches)
    assert 0 < late < 100


def test_a_worker_that_does_not_answer_after_the_deadline_is_stopped(
    github_detector: Detector, github_ruleset: Ruleset
) -> None:
    detector = ChunkDetector(github_detector, github_ruleset)
    started = time.monotonic()
    pool = WorkerPool(lambda: SlowReader(30), detector, 2, Limits(started + 0.2))
    for ref in _refs(4):
        pool.submit(ref)
    batches = list(pool.finish())
    assert time.monotonic() - started < 0.2 + GRACE + 5
    assert (sum(b[0] for b in batches), sum(b[4] for b in batches)) == (4, 4)
    assert not any(p.is_alive() for p in pool.processes)


def test_the_commit_hook_path_loads_none_of_the_server_hook(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    isolate_git(monkeypatch, tmp_path / "home")
    repo = Repo.init(tmp_path / "repo")
    repo.commit("one", {"a.txt": "a\n"})
    repo.write({"b.txt": "b\n"})
    repo.git("add", "-A")
    code = (
        "import sys\nfrom scanner.cli import main\nmain(['scan', '--staged', '--no-progress', '.'])\n"
        "print(sorted(m for m in sys.modules if m.startswith(('scanner.integrations.prereceive', 'scanner.respond',"
        " 'scanner.sources.git.pushed', 'scanner.sources.git.alternates', 'scanner.policy.pushprotection'))))"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=repo.path, capture_output=True, text=True, check=True)
    assert proc.stdout.splitlines()[-1] == "[]"
