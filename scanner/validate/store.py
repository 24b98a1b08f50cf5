"""The optional on-disk cache of answers (``validate.cache``): SQLite, one row per keyed fingerprint of validator
and secret, never the secret; an answer is trusted for the time to live. Only clear answers are kept (``live``,
``invalid``): an ``unknown`` is asked again next run."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

from scanner.errors import InputError
from scanner.models import Validation

SCHEMA = """CREATE TABLE IF NOT EXISTS validations (
    fingerprint TEXT PRIMARY KEY, state TEXT NOT NULL, reason TEXT NOT NULL, identity TEXT NOT NULL,
    validator TEXT NOT NULL, checked REAL NOT NULL)"""


class ValidationCache:
    def __init__(self, path: Path, ttl: float, clock: Callable[[], float] = time.time) -> None:
        self.path, self.ttl, self._clock = path, ttl, clock
        try:
            self._db = sqlite3.connect(path, timeout=10, check_same_thread=False)
            self._db.execute(SCHEMA)
            self._db.commit()
        except sqlite3.Error as exc:
            raise InputError(f"{path}: unusable validation cache ({exc})") from None

    def get(self, fingerprint: str) -> Validation | None:
        row = self._db.execute(
            "SELECT state, reason, identity, validator, checked FROM validations WHERE fingerprint = ?", (fingerprint,)
        ).fetchone()
        if row is None or self._clock() - row[4] > self.ttl or row[0] not in ("live", "invalid"):
            return None
        return Validation(row[0], f"{row[1]} (cached)", row[2], row[3])

    def put(self, fingerprint: str, validation: Validation) -> None:
        if validation.state == "unknown":
            return
        self._db.execute(
            "INSERT OR REPLACE INTO validations VALUES (?, ?, ?, ?, ?, ?)",
            (
                fingerprint,
                validation.state,
                validation.reason,
                validation.identity,
                validation.validator,
                self._clock(),
            ),
        )

    def close(self) -> None:
        self._db.commit()
        self._db.close()
