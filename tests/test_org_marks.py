"""Blob marks in the org store: a blob read clean in one run is not read again in a later one (a revert, the same
content at a new path), a secret's blob always is, ``--full`` reads everything and rewrites the marks, a result
applied twice adds nothing, and a version 2 store is migrated in place. Real repositories, real scans (the local
cluster as threads in this process)."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
from gitrepo import Repo as GitRepo
from gitrepo import isolate_git
from tokens import TokenFactory

from scanner.org.engine import Cluster
from scanner.org.listing import Platform, Repo
from scanner.org.marks import MARK_BYTES, unpack
from scanner.org.merge import OrgRun
from scanner.org.orgscan import OrgRequest, Targets, scan_org
from scanner.org.store import SCHEMA_VERSION, Store, StoreError
from scanner.policy.config import Config

# Plain text no rule matches, big enough that reading it again would show in the bytes scanned.
CLEAN = "".join(f"line {n}: nothing to see here, only words\n" for n in range(200))


@pytest.fixture
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> GitRepo:
    isolate_git(monkeypatch, tmp_path / "home")
    return GitRepo.init(tmp_path / "work")


def scan(tmp_path: Path, work: GitRepo, full: bool = False, config: Config | None = None) -> OrgRun:
    platform = Platform("", "", "GITHUB_TOKEN")
    cache = tmp_path / "cache"
    request = OrgRequest(
        Targets(), cache, cache / "org.sqlite", platform, platform, Cluster(1), full=full, config=config or Config()
    )
    run, issues = scan_org(request, [Repo("work", str(work.path))])
    assert not issues, issues
    return run


def stored_marks(tmp_path: Path) -> frozenset[bytes]:
    store = Store(tmp_path / "cache" / "org.sqlite")
    try:
        return unpack(store.marks("work")[0])
    finally:
        store.close()


def test_a_blob_read_clean_is_not_read_again_in_a_later_run(tmp_path: Path, work: GitRepo) -> None:
    work.commit("one", {"a.txt": CLEAN, "b.txt": "short\n"})
    work.commit("two", {"a.txt": "changed\n"})
    first = scan(tmp_path, work)
    assert first.counts["known_clean"] == 0 and first.counts["bytes"] > len(CLEAN)
    marks = stored_marks(tmp_path)
    # CLEAN and "short": read whole, no match. "changed" was read only where it differs from CLEAN (the walk's
    # own rule): not marked, since what it kept of an earlier version could have held a finding.
    assert len(marks) == 2
    # The revert brings CLEAN back (not in the last run's tip, so the walk alone would read it again), and the
    # same content at a new path: neither is read; only the new small file is.
    work.commit("revert", {"a.txt": CLEAN, "copy.txt": CLEAN, "c.txt": "new\n"})
    second = scan(tmp_path, work)
    assert second.repos[0]["mode"] == "incremental"
    assert second.counts["known_clean"] == 1  # the walk itself reads one blob once per run
    assert second.counts["bytes"] < len(CLEAN)
    assert stored_marks(tmp_path) > marks and len(stored_marks(tmp_path)) == 3  # "new" added
    # --full reads every blob again and rewrites the marks: those of this history only.
    full = scan(tmp_path, work, full=True)
    assert full.counts["known_clean"] == 0 and full.counts["bytes"] > len(CLEAN)
    assert len(stored_marks(tmp_path)) == 3


def test_a_blob_with_a_secret_is_read_again_and_never_marked(
    tmp_path: Path, work: GitRepo, tokens: TokenFactory
) -> None:
    secret = f"GITHUB_TOKEN={tokens.github()}\n"
    work.commit("one", {"a.env": secret})
    work.commit("two", {"a.env": "gone\n", "b.txt": CLEAN})
    first = scan(tmp_path, work)
    assert first.counts["new"] == 1 and len(stored_marks(tmp_path)) == 1  # CLEAN only
    work.commit("back", {"a.env": secret})
    second = scan(tmp_path, work)
    # Read again (a finding's commit can be force-pushed away; a skipped blob would hide the live secret then):
    # the same secret at the same path in a new commit is a new occurrence, as before blob marks.
    assert second.counts["known_clean"] == 0 and second.counts["new"] == 1 and second.counts["present"] == 1
    assert len(stored_marks(tmp_path)) == 1


def test_other_settings_rescan_the_whole_history_even_when_no_ref_moved(
    tmp_path: Path, work: GitRepo, tokens: TokenFactory
) -> None:
    """A rule turned on (or a leakstop with new rules) must see the history scanned before it, not only new pushes."""
    work.commit("one", {"a.env": f"GITHUB_TOKEN={tokens.github()}\n", "b.txt": CLEAN})
    without = Config(disabled_rules=("github-pat",))
    assert scan(tmp_path, work, config=without).counts["new"] == 0
    again = scan(tmp_path, work, config=without)  # same settings, nothing moved: settled, nothing read
    assert again.repos[0]["mode"] == "unchanged" and again.counts["bytes"] == 0
    rescanned = scan(tmp_path, work)  # the rule back on, still no new commit
    assert rescanned.repos[0]["mode"] == "full" and rescanned.counts["new"] == 1
    assert rescanned.counts["known_clean"] == 0 and rescanned.counts["bytes"] > len(CLEAN)
    settled = scan(tmp_path, work)
    assert settled.repos[0]["mode"] == "unchanged" and settled.counts["present"] == 1


def result(marks: bytes, settings: str = "s1", **extra: Any) -> dict[str, Any]:
    base = {"repo": "r", "url": "/r", "error": "", "tips": ["c1"], "commits": ["c1"], "findings": []}
    return {**base, "reachable": [], "mode": "full", "marks": marks, "marks_settings": settings, **extra}


def test_marks_are_a_set_kept_per_settings_and_never_blob_ids(tmp_path: Path) -> None:
    path = tmp_path / "org.sqlite"
    store = Store(path)
    one, two, three = (bytes([n]) * MARK_BYTES for n in (1, 2, 3))
    store.apply(result(one + two), full=False)
    store.apply(result(one + two), full=False)  # a retried task's result: nothing doubles
    assert store.marks("r") == (one + two, "s1")
    store.apply(result(three), full=False)
    assert store.marks("r") == (one + two + three, "s1")
    store.apply(result(two), full=True)  # a full scan's marks replace the old ones
    assert store.marks("r") == (two, "s1")
    store.apply(result(three, "s2"), full=False)  # made under other rules: the old ones no longer count
    assert store.marks("r") == (three, "s2")
    key = store.mark_key
    store.close()
    assert len(key) == 32 and Store(path).mark_key == key  # one random key per store, kept
    assert Store(tmp_path / "other.sqlite").mark_key != key


def test_the_marks_in_a_scanned_store_are_keyed_not_blob_ids(tmp_path: Path, work: GitRepo) -> None:
    work.commit("one", {"a.txt": CLEAN})
    scan(tmp_path, work)
    oid = work.git("rev-parse", "HEAD:a.txt").strip()
    assert len(stored_marks(tmp_path)) == 1
    raw = b"".join(p.read_bytes() for p in (tmp_path / "cache").glob("org.sqlite*"))
    assert oid.encode() not in raw and bytes.fromhex(oid) not in raw and bytes.fromhex(oid)[:MARK_BYTES] not in raw


SCHEMA_2 = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE repos (
    name TEXT PRIMARY KEY, url TEXT NOT NULL, tips TEXT NOT NULL, scanned_at TEXT NOT NULL, refs TEXT NOT NULL
);
CREATE TABLE commits (repo TEXT NOT NULL, oid TEXT NOT NULL, PRIMARY KEY (repo, oid)) WITHOUT ROWID;
CREATE TABLE findings (
    repo TEXT NOT NULL, finding_id TEXT NOT NULL, secret_id TEXT NOT NULL, rule TEXT NOT NULL,
    commit_id TEXT NOT NULL, data TEXT NOT NULL, first_seen TEXT NOT NULL, PRIMARY KEY (repo, finding_id)
);
INSERT INTO meta VALUES ('schema_version', '2');
INSERT INTO repos VALUES ('r', '/r', '["c1"]', '2026-01-01T00:00:00+00:00', 'd1');
INSERT INTO commits VALUES ('r', 'c1');
"""


def test_a_version_2_store_is_migrated_with_no_marks_and_a_new_key(tmp_path: Path) -> None:
    path = tmp_path / "org.sqlite"
    with sqlite3.connect(path) as db:
        db.executescript(SCHEMA_2)
    db.close()
    store = Store(path)
    assert store.known("r") == (("c1",), (), "d1") and store.marks("r") == (b"", "")
    assert store.db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0] == "3"
    key = store.mark_key
    store.apply(result(b"\x07" * MARK_BYTES, refs="d2"), full=False)
    store.close()
    again = Store(path)
    assert again.mark_key == key and again.marks("r") == (b"\x07" * MARK_BYTES, "s1")
    again.db.execute("DELETE FROM meta WHERE key = 'mark_key'")
    again.close()
    with pytest.raises(StoreError, match="no valid blob mark key: refused, not reset"):
        Store(path)
    assert SCHEMA_VERSION == 3
