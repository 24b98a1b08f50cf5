"""Blob ids already scanned clean, so that content pushed again (a rebased branch, a cherry-pick, a fork's copy)
is not scanned again: a SQLite file (stdlib ``sqlite3``), in the git dir by default.

A blob id counts as clean under one key: the ruleset's hash and the hook's settings (the config file's bytes,
leakstop's version, the size limits). Only blobs read whole as plain text with no match at all are recorded, and
only from pushes the repository took: a push's ids go in as pending, with the push's new tips, and count once
those tips are in the repository's own object store (the quarantine was migrated). Ids from a rejected push's
quarantine never count. Blob ids are not secrets; no content, path or snippet is stored.

Every failure (a locked, damaged or unwritable file) costs speed, never the decision: the cache switches off.
"""

from __future__ import annotations

import hashlib
import sqlite3
import time
from collections.abc import Callable, Sequence
from pathlib import Path

PENDING_TTL = 24 * 3600  # seconds a push's ids wait for its tips to reach the object store
UNUSED_TTL = 30 * 24 * 3600  # seconds a key (an old ruleset or config) is kept unused
BUSY_TIMEOUT = 0.5  # seconds to wait on another push's write: the hook has a time budget

_SCHEMA = """
CREATE TABLE IF NOT EXISTS clean (key TEXT NOT NULL, oid TEXT NOT NULL, PRIMARY KEY (key, oid)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS keys (key TEXT PRIMARY KEY, used REAL NOT NULL);
CREATE TABLE IF NOT EXISTS pending (batch INTEGER PRIMARY KEY, key TEXT NOT NULL, tips TEXT NOT NULL,
                                    created REAL NOT NULL);
CREATE TABLE IF NOT EXISTS pending_blobs (batch INTEGER NOT NULL, oid TEXT NOT NULL);
"""


class BlobCache:
    """``known_clean`` for the pipeline (``pipeline.request.CleanBlobs``); ``promote`` and ``add_pending`` for the
    hook, before and after its scan."""

    def __init__(self, path: Path, settings_key: str) -> None:
        self.path = path
        self.settings_key = settings_key
        self._keys: dict[str, str] = {}
        self.db: sqlite3.Connection | None = None
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self.db = sqlite3.connect(path, timeout=BUSY_TIMEOUT, isolation_level=None)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.executescript(_SCHEMA)
        except (OSError, sqlite3.Error):
            self.close()

    def key(self, ruleset_hash: str) -> str:
        if ruleset_hash not in self._keys:
            text = f"{ruleset_hash}\0{self.settings_key}".encode()
            self._keys[ruleset_hash] = hashlib.sha256(text).hexdigest()[:32]
        return self._keys[ruleset_hash]

    def known_clean(self, ruleset_hash: str, oid: str) -> bool:
        if self.db is None:
            return False
        try:
            row = self.db.execute("SELECT 1 FROM clean WHERE key = ? AND oid = ?", (self.key(ruleset_hash), oid))
            return row.fetchone() is not None
        except sqlite3.Error:
            self.close()
            return False

    def promote(self, stored: Callable[[Sequence[str]], set[str]], now: float | None = None) -> None:
        """Pending pushes whose tips ``stored`` finds in the object store count from now on; those still missing
        after ``PENDING_TTL`` (rejected further down the hook chain) are dropped, as are keys long unused."""
        if self.db is None:
            return
        now = time.time() if now is None else now
        try:
            batches = self.db.execute("SELECT batch, key, tips, created FROM pending").fetchall()
            tips = [tip for *_, listed, _ in batches for tip in listed.split()]
            present = stored(tips) if tips else set()
            with self.db:
                self.db.execute("BEGIN IMMEDIATE")
                for batch, key, listed, created in batches:
                    if present.issuperset(listed.split()):
                        self.db.execute(
                            "INSERT OR IGNORE INTO clean SELECT ?, oid FROM pending_blobs WHERE batch = ?", (key, batch)
                        )
                    elif now - created < PENDING_TTL:
                        continue
                    self.db.execute("DELETE FROM pending_blobs WHERE batch = ?", (batch,))
                    self.db.execute("DELETE FROM pending WHERE batch = ?", (batch,))
                stale = (now - UNUSED_TTL,)
                self.db.execute("DELETE FROM clean WHERE key IN (SELECT key FROM keys WHERE used < ?)", stale)
                self.db.execute("DELETE FROM keys WHERE used < ?", stale)
        except sqlite3.Error:
            self.close()

    def add_pending(
        self, ruleset_hash: str, oids: Sequence[str], tips: Sequence[str], now: float | None = None
    ) -> None:
        """The clean blob ids of a push the hook accepts; they count once ``tips`` are in the object store."""
        if self.db is None or not oids or not tips:
            return
        now = time.time() if now is None else now
        key = self.key(ruleset_hash)
        try:
            with self.db:
                self.db.execute("BEGIN IMMEDIATE")
                batch = self.db.execute(
                    "INSERT INTO pending (key, tips, created) VALUES (?, ?, ?)", (key, " ".join(tips), now)
                ).lastrowid
                self.db.executemany("INSERT INTO pending_blobs VALUES (?, ?)", ((batch, oid) for oid in oids))
                self.db.execute("INSERT OR REPLACE INTO keys VALUES (?, ?)", (key, now))
        except sqlite3.Error:
            self.close()

    def close(self) -> None:
        if self.db is not None:
            self.db.close()
        self.db = None
