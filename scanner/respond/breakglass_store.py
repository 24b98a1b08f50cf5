"""Where break-glass requests live: a SQLite file (stdlib ``sqlite3``), in the git dir by default.

One row a request, indexed by its public id (the token's middle part). Of a token only a hash of its secret part
is kept (``breakglass.token_digest``): a copy of the file lets nobody push. Every change happens in a
``transaction`` (``BEGIN IMMEDIATE``: one writer at a time), so the caller can write the audit record inside it
and roll the change back when the record cannot be written; a token is consumed by one conditional ``UPDATE``
(``consume``), so of two pushes with the same token exactly one wins.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from scanner.errors import InputError

BUSY_TIMEOUT = 2.0  # seconds to wait for another writer (a push, an approval)
STATES = ("pending", "approved", "used", "revoked", "expired")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS requests (
    id TEXT PRIMARY KEY,
    requester TEXT NOT NULL,
    reason TEXT NOT NULL,
    repository TEXT NOT NULL,
    ref TEXT NOT NULL,
    ttl REAL NOT NULL,
    created REAL NOT NULL,
    state TEXT NOT NULL,
    approver TEXT NOT NULL DEFAULT '',
    expires REAL NOT NULL DEFAULT 0,
    digest TEXT NOT NULL DEFAULT '',
    ended REAL NOT NULL DEFAULT 0,
    ended_by TEXT NOT NULL DEFAULT ''
) WITHOUT ROWID;
"""
_COLUMNS = "id, requester, reason, repository, ref, ttl, created, state, approver, expires, digest, ended, ended_by"


@dataclass(frozen=True)
class Request:
    """One break-glass request. ``expires`` is set on approval (created + the approval window before);
    ``digest`` is the hash of the token's secret part, never the token; ``ended`` and ``ended_by``: when and by
    whom it was used, revoked or found expired."""

    id: str
    requester: str
    reason: str
    repository: str
    ref: str  # "" = any ref
    ttl: float  # seconds the token lives once approved
    created: float
    state: str
    approver: str = ""
    expires: float = 0.0
    digest: str = ""
    ended: float = 0.0
    ended_by: str = ""


class Store:
    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self.db = sqlite3.connect(path, timeout=BUSY_TIMEOUT, isolation_level=None)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.executescript(_SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise InputError(f"{path}: cannot open the break-glass store: {exc}") from None

    def close(self) -> None:
        self.db.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One writer at a time; committed when the block ends, rolled back when it raises."""
        try:
            self.db.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise InputError(f"{self.path}: the break-glass store is busy or damaged: {exc}") from None
        try:
            yield
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    def add(self, request: Request) -> None:
        values = tuple(getattr(request, name) for name in _COLUMNS.split(", "))
        self.db.execute(f"INSERT INTO requests ({_COLUMNS}) VALUES ({', '.join('?' * len(values))})", values)

    def get(self, request_id: str) -> Request | None:
        row = self.db.execute(f"SELECT {_COLUMNS} FROM requests WHERE id = ?", (request_id,)).fetchone()
        return Request(*row) if row else None

    def listed(self, states: tuple[str, ...] = STATES) -> list[Request]:
        marks = ", ".join("?" * len(states))
        query = f"SELECT {_COLUMNS} FROM requests WHERE state IN ({marks}) ORDER BY created"
        return [Request(*row) for row in self.db.execute(query, states)]

    def approve(self, request_id: str, approver: str, expires: float, digest: str) -> bool:
        cursor = self.db.execute(
            "UPDATE requests SET state = 'approved', approver = ?, expires = ?, digest = ?"
            " WHERE id = ? AND state = 'pending'",
            (approver, expires, digest, request_id),
        )
        return cursor.rowcount == 1

    def end(self, request_id: str, state: str, when: float, by: str, was: tuple[str, ...]) -> bool:
        """Move a request in one of the states ``was`` to ``state`` (used, revoked, expired); False if it was not
        in one of them any more (another process got there first)."""
        marks = ", ".join("?" * len(was))
        cursor = self.db.execute(
            f"UPDATE requests SET state = ?, ended = ?, ended_by = ? WHERE id = ? AND state IN ({marks})",
            (state, when, by, request_id, *was),
        )
        return cursor.rowcount == 1

    def consume(self, request_id: str, when: float, by: str) -> bool:
        """Use an approved, unexpired token once (its digest checked before): one conditional ``UPDATE``, so of
        two pushes racing with one token, one changes the row and the other finds it used."""
        cursor = self.db.execute(
            "UPDATE requests SET state = 'used', ended = ?, ended_by = ?"
            " WHERE id = ? AND state = 'approved' AND expires > ?",
            (when, by, request_id, when),
        )
        return cursor.rowcount == 1

    def overdue(self, now: float) -> list[Request]:
        """Pending requests past their approval window and approved tokens past their expiry."""
        query = f"SELECT {_COLUMNS} FROM requests WHERE state IN ('pending', 'approved') AND expires <= ?"
        return [Request(*row) for row in self.db.execute(query, (now,))]
