"""The org scan's memory: one SQLite file with, per repository, the tips scanned, the commits scanned, the marks
of the blobs read clean (``marks.py``: keyed hashes, never blob ids) and the findings (fingerprints, rule,
redacted location: never a secret).

Only the parent process writes, one transaction per repository's result, so a task retried after a worker died
cannot write twice: ``apply`` is keyed by (repository, finding id) and (repository, commit), and applying the same
result again changes nothing (blob marks are a set: the same marks twice add nothing). A store from a newer
leakstop, or a file that is not a sound store, is refused with one line; it is never reset.
"""

from __future__ import annotations

import datetime
import json
import secrets
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scanner.errors import InputError
from scanner.org.marks import union

SCHEMA_VERSION = 3
# Version 2 adds ``repos.refs``: the digest of the mirror's refs after the last fetch (``mirror.mirror_refs``), so
# that a repository whose remote still advertises the same refs is neither fetched nor walked. A version 1 store is
# migrated in place (the column added empty: each repository is fetched once more, then skipped while unchanged).
# Version 3 adds ``blob_marks`` (per repository: the settings the marks hold under and the packed marks) and the
# marks' key in ``meta``; a version 1 or 2 store is migrated in place with no marks (blobs are read once more).
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS repos (
    name TEXT PRIMARY KEY, url TEXT NOT NULL, tips TEXT NOT NULL, scanned_at TEXT NOT NULL, refs TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS commits (repo TEXT NOT NULL, oid TEXT NOT NULL, PRIMARY KEY (repo, oid)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS findings (
    repo TEXT NOT NULL, finding_id TEXT NOT NULL, secret_id TEXT NOT NULL, rule TEXT NOT NULL,
    commit_id TEXT NOT NULL, data TEXT NOT NULL, first_seen TEXT NOT NULL, PRIMARY KEY (repo, finding_id)
);
CREATE TABLE IF NOT EXISTS blob_marks (repo TEXT PRIMARY KEY, settings TEXT NOT NULL, marks BLOB NOT NULL);
"""
# What ``data`` may hold: the finding's plain values with nothing that could be the secret itself.
STORED_KEYS = (
    "rule",
    "rule_name",
    "description",
    "severity",
    "confidence",
    "provider",
    "finding_id",
    "secret_id",
    "verdict",
    "reason",
    "path",
    "line",
    "column",
    "end_line",
    "end_column",
    "snippet",
    "redacted",
    "decoded",
    "validation",
    "validation_reason",
    "validation_identity",
    "validator",
    "commit",
    "author",
    "email",
    "date",
    "where",
)


class StoreError(InputError):
    """The store cannot be used: newer, corrupt, or not a store."""


@dataclass
class Delta:
    """One repository's findings against the store: new, still present, gone (each a list of finding dicts)."""

    new: list[dict[str, Any]] = field(default_factory=list)
    present: list[dict[str, Any]] = field(default_factory=list)
    gone: list[dict[str, Any]] = field(default_factory=list)


class Store:
    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self.db = sqlite3.connect(path, isolation_level=None)
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(f"{path}: cannot open the org store: {exc}") from None
        try:
            self._check()
            self.mark_key = self._mark_key()
            # One transaction per repository: WAL with NORMAL sync keeps each atomic without an fsync apiece.
            self.db.execute("PRAGMA journal_mode = WAL")
            self.db.execute("PRAGMA synchronous = NORMAL")
        except sqlite3.DatabaseError as exc:
            self.db.close()
            raise StoreError(f"{path}: not a usable org store ({exc}): refused, not reset") from None
        except StoreError:
            self.db.close()
            raise

    def _check(self) -> None:
        db = self.db
        if db.execute("PRAGMA quick_check").fetchone()[0] != "ok":
            raise StoreError(f"{self.path}: the org store is corrupt: refused, not reset")
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if tables and "meta" not in tables:
            raise StoreError(f"{self.path}: an SQLite file that is not a leakstop org store: refused")
        if not tables:
            with self._transaction():
                self._create()
                db.execute("INSERT INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
            return
        row = db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        version = int(row[0]) if row and str(row[0]).isdigit() else -1
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"{self.path}: the org store is version {version}, newer than this leakstop's {SCHEMA_VERSION}: refused"
            )
        if version in (1, 2):
            with self._transaction():
                if version == 1:
                    db.execute("ALTER TABLE repos ADD COLUMN refs TEXT NOT NULL DEFAULT ''")
                self._create()
                db.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION),))
        elif version != SCHEMA_VERSION:
            raise StoreError(f"{self.path}: the org store has no valid schema version: refused, not reset")

    def _mark_key(self) -> bytes:
        row = self.db.execute("SELECT value FROM meta WHERE key = 'mark_key'").fetchone()
        try:
            return bytes.fromhex(str(row[0]))
        except (TypeError, ValueError):
            raise StoreError(f"{self.path}: the org store has no valid blob mark key: refused, not reset") from None

    def _create(self) -> None:
        """The tables this version lacks, and the key blob marks are made with (random, per store)."""
        for statement in _SCHEMA.split(";"):
            if statement.strip():
                self.db.execute(statement)
        self.db.execute("INSERT OR IGNORE INTO meta VALUES ('mark_key', ?)", (secrets.token_hex(32),))

    def _transaction(self) -> _Transaction:
        return _Transaction(self.db)

    def close(self) -> None:
        self.db.close()

    def known(self, repo: str) -> tuple[tuple[str, ...], tuple[str, ...], str]:
        """The tips the last run scanned, the commits of the stored findings, and the refs digest then."""
        row = self.db.execute("SELECT tips, refs FROM repos WHERE name = ?", (repo,)).fetchone()
        tips, refs = (tuple(json.loads(row[0])), str(row[1])) if row else ((), "")
        commits = tuple(
            r[0] for r in self.db.execute("SELECT DISTINCT commit_id FROM findings WHERE repo = ?", (repo,))
        )
        return tips, commits, refs

    def _refs(self, repo: str) -> str:
        row = self.db.execute("SELECT refs FROM repos WHERE name = ?", (repo,)).fetchone()
        return str(row[0]) if row else ""

    def marks_settings(self, repo: str) -> str:
        """The settings the repository's last scan ran under (its marks' settings), without reading the marks."""
        row = self.db.execute("SELECT settings FROM blob_marks WHERE repo = ?", (repo,)).fetchone()
        return str(row[0]) if row else ""

    def marks(self, repo: str) -> tuple[bytes, str]:
        """The repository's packed blob marks and the settings they hold under (none: ``b""``, "")."""
        row = self.db.execute("SELECT marks, settings FROM blob_marks WHERE repo = ?", (repo,)).fetchone()
        return (bytes(row[0]), str(row[1])) if row else (b"", "")

    def findings(self, repo: str) -> dict[str, dict[str, Any]]:
        rows = self.db.execute("SELECT finding_id, data FROM findings WHERE repo = ? ORDER BY rowid", (repo,))
        return {fid: json.loads(data) for fid, data in rows}

    def commit_count(self, repo: str) -> int:
        return int(self.db.execute("SELECT COUNT(*) FROM commits WHERE repo = ?", (repo,)).fetchone()[0])

    def apply(self, result: dict[str, Any], full: bool) -> Delta:
        """Write one task's result in one transaction; the delta against what was stored before."""
        repo = result["repo"]
        stored = self.findings(repo)
        if result.get("error"):
            return Delta(present=list(stored.values()))  # not scanned this time: nothing known to have changed
        found = {f["finding_id"]: f for f in result["findings"]}
        delta = _delta(stored, found, None if full else set(result["reachable"]))
        refs = str(result.get("refs", ""))
        if result.get("mode") == "unchanged" and not delta.gone and refs == self._refs(repo):
            return delta  # the same tips and refs: nothing to write
        now = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
        with self._transaction():
            self.db.execute(
                "INSERT INTO repos VALUES (?, ?, ?, ?, ?) ON CONFLICT(name) DO UPDATE SET url = excluded.url,"
                " tips = excluded.tips, scanned_at = excluded.scanned_at, refs = excluded.refs",
                (repo, result["url"], json.dumps(result["tips"]), now, refs),
            )
            self.db.executemany(
                "INSERT OR IGNORE INTO commits VALUES (?, ?)", ((repo, oid) for oid in result["commits"])
            )
            self.db.executemany(
                "INSERT OR IGNORE INTO findings VALUES (?, ?, ?, ?, ?, ?, ?)", _rows(repo, delta.new, now)
            )
            self.db.executemany(
                "DELETE FROM findings WHERE repo = ? AND finding_id = ?", ((repo, f["finding_id"]) for f in delta.gone)
            )
            if "marks" in result:
                self._write_marks(repo, result["marks"], str(result["marks_settings"]), full)
        return delta

    def _write_marks(self, repo: str, marks: bytes, settings: str, full: bool) -> None:
        """The new marks added to those stored under the same settings; a full scan's, or other settings', replace
        them (a full scan read every blob again)."""
        stored, stored_settings = self.marks(repo)
        if not full and stored_settings == settings:
            marks = union(stored, marks)
        self.db.execute(
            "INSERT INTO blob_marks VALUES (?, ?, ?) ON CONFLICT(repo) DO UPDATE SET settings = excluded.settings,"
            " marks = excluded.marks",
            (repo, settings, marks),
        )


def _delta(stored: dict[str, dict[str, Any]], found: dict[str, dict[str, Any]], reachable: set[str] | None) -> Delta:
    """``reachable`` None (a full scan): what was not found again is gone. Else (only new commits scanned) a stored
    finding is gone when its commit is no longer reachable from any ref."""
    delta = Delta(new=[f for fid, f in found.items() if fid not in stored])
    for fid, finding in stored.items():
        still = fid in found if reachable is None else (fid in found or finding.get("commit", "") in reachable)
        (delta.present if still else delta.gone).append(found.get(fid, finding))
    return delta


def _rows(repo: str, findings: Iterable[dict[str, Any]], now: str) -> Iterable[tuple[str, ...]]:
    for f in findings:
        data = {k: f[k] for k in STORED_KEYS if k in f}
        yield (repo, f["finding_id"], f["secret_id"], f["rule"], f.get("commit", ""), json.dumps(data), now)


class _Transaction:
    """BEGIN IMMEDIATE … COMMIT, or ROLLBACK on any error: a result is written whole or not at all."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def __enter__(self) -> None:
        self.db.execute("BEGIN IMMEDIATE")

    def __exit__(self, kind: object, exc: object, tb: object) -> None:
        self.db.execute("COMMIT" if kind is None else "ROLLBACK")
