"""The durable outbox: append-only JSON lines of what the response must do and what became of it.

One record per line, each written with one ``write`` on an ``O_APPEND`` descriptor under an exclusive ``flock``
and ``fsync``'d before the call returns. The state of an action is the fold of its records, in order::

    enqueue   the action: id, secret id, rule, kind, provider, redacted secret, places, guide
    attempt   written (and synced) before the provider is called
    outcome   the provider's answer: done, already-done, retry (with when to try again), failed; detail, progress
    rescan    the credential could not be found again at its places: the action waits for a rescan

Never a secret: the secret needed to act is re-derived by rescanning the places (``Executor``), and only its
fingerprint, the redacted form and non-secret progress strings are written. A line cut short by a crash was
never acknowledged: the reader skips it and the next append cuts it off.

An attempt without an outcome is an interrupted call: revoke and notify are attempted again (providers answer
"already done"), a rotate is never repeated blindly (``interrupted``).
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from scanner.errors import InputError
from scanner.respond.model import ActionKind, Outcome
from scanner.respond.plan import Place, PlannedAction

FINAL = frozenset({Outcome.DONE.value, Outcome.ALREADY_DONE.value, Outcome.FAILED.value})
PENDING, IN_FLIGHT, NEEDS_RESCAN = "pending", "in-flight", "needs-rescan"


@dataclass(frozen=True)
class ActionState:
    action: PlannedAction
    status: str = PENDING  # pending, in-flight, needs-rescan, or a final outcome (done, already-done, failed)
    attempts: int = 0  # attempts that count against ``max_attempts`` (not a RETRY that made progress)
    due: float = 0.0  # not before (a time.time() value)
    detail: str = ""
    progress: str = ""
    reference: str = ""

    @property
    def final(self) -> bool:
        return self.status in FINAL


def _place(doc: dict[str, Any]) -> Place:
    return Place(doc["kind"], doc["path"], doc.get("root", ""), doc.get("commit", ""), doc.get("line", 0),
                 doc.get("finding_id", ""))  # fmt: skip


def _action(doc: dict[str, Any]) -> PlannedAction:
    return PlannedAction(
        id=doc["id"],
        secret_id=doc["secret_id"],
        rule_id=doc["rule"],
        kind=ActionKind(doc["kind"]),
        provider=doc["provider"],
        redacted=doc["redacted"],
        places=tuple(_place(p) for p in doc["places"]),
        guide=doc.get("guide", ""),
    )


def _enqueue_record(action: PlannedAction) -> dict[str, Any]:
    places = [
        {"kind": p.kind, "path": p.path, "root": p.root, "commit": p.commit, "line": p.line, "finding_id": p.finding_id}
        for p in action.places
    ]
    return {
        "type": "enqueue",
        "id": action.id,
        "secret_id": action.secret_id,
        "rule": action.rule_id,
        "kind": action.kind.value,
        "provider": action.provider,
        "redacted": action.redacted,
        "places": places,
        "guide": action.guide,
    }


def fold(records: Sequence[dict[str, Any]]) -> dict[str, ActionState]:
    """Every action's state from the records, in their order (unknown types are skipped: a newer writer)."""
    states: dict[str, ActionState] = {}
    for doc in records:
        kind, aid = doc.get("type"), doc.get("id", "")
        if kind == "enqueue":
            states.setdefault(aid, ActionState(_action(doc)))
            continue
        state = states.get(aid)
        if state is None or state.final:
            continue  # a record for an unknown or finished action changes nothing
        if kind == "attempt":
            states[aid] = replace(state, status=IN_FLIGHT)
        elif kind == "rescan":
            states[aid] = replace(state, status=NEEDS_RESCAN, detail=doc.get("detail", ""))
        elif kind == "outcome":
            states[aid] = _after_outcome(state, doc)
    return states


def _after_outcome(state: ActionState, doc: dict[str, Any]) -> ActionState:
    outcome = doc["outcome"]
    progress = doc.get("progress", "") or state.progress
    made_progress = outcome == Outcome.RETRY.value and progress != state.progress
    return replace(
        state,
        status=outcome if outcome in FINAL else PENDING,
        attempts=state.attempts + (0 if made_progress or outcome in FINAL else 1),
        due=float(doc.get("due", 0.0)),
        detail=doc.get("detail", ""),
        progress=progress,
        reference=doc.get("reference", "") or state.reference,
    )


class Outbox:
    """The outbox file at ``path``; ``lock()`` is held by whoever acts on it (one executor at a time)."""

    def __init__(self, path: Path, clock: Callable[[], float] = time.time) -> None:
        self.path, self.clock = path, clock

    def records(self) -> list[dict[str, Any]]:
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise InputError(f"{self.path}: cannot read the outbox: {exc.strerror}") from None
        records = []
        for number, line in enumerate(data.split(b"\n")[:-1], 1):  # the part after the last newline: unfinished
            try:
                doc = json.loads(line)
            except ValueError:
                raise InputError(f"{self.path}: line {number}: not a JSON record (the outbox is damaged)") from None
            if isinstance(doc, dict):
                records.append(doc)
        return records

    def states(self) -> dict[str, ActionState]:
        return fold(self.records())

    def enqueue(self, actions: Sequence[PlannedAction]) -> list[str]:
        """Record the actions not in the outbox yet; returns their ids (one already there is not added again)."""
        known = {doc.get("id") for doc in self.records() if doc.get("type") == "enqueue"}
        new = [a for a in {a.id: a for a in actions}.values() if a.id not in known]
        self.append([_enqueue_record(a) for a in new])
        return [a.id for a in new]

    def attempt(self, ids: Sequence[str]) -> None:
        self.append([{"type": "attempt", "id": aid} for aid in ids])

    def outcome(self, aid: str, outcome: Outcome, detail: str = "", due: float = 0.0, progress: str = "",
                reference: str = "") -> None:  # fmt: skip
        doc: dict[str, Any] = {"type": "outcome", "id": aid, "outcome": outcome.value, "detail": detail}
        extra = {"due": round(due, 3), "progress": progress, "reference": reference}
        self.append([{**doc, **{k: v for k, v in extra.items() if v}}])

    def needs_rescan(self, aid: str, detail: str) -> None:
        self.append([{"type": "rescan", "id": aid, "detail": detail}])

    def append(self, docs: Sequence[dict[str, Any]]) -> None:
        """Write ``docs`` as lines in one write, durably; an unfinished last line is cut off first."""
        if not docs:
            return
        now = round(self.clock(), 3)
        data = b"".join(
            json.dumps({**doc, "time": now}, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode() + b"\n"
            for doc in docs
        )
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
        except OSError as exc:
            raise InputError(f"{self.path}: cannot open the outbox: {exc.strerror}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            _cut_unfinished(fd)
            os.write(fd, data)
            os.fsync(fd)
        except OSError as exc:
            raise InputError(f"{self.path}: cannot write the outbox: {exc.strerror}") from None
        finally:
            os.close(fd)

    @contextmanager
    def lock(self) -> Iterator[bool]:
        """Hold the executor's lock (``<outbox>.lock``) while acting; yields False when another process holds it."""
        lock_path = self.path.with_name(self.path.name + ".lock")
        try:
            lock_path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise InputError(f"{lock_path}: cannot open the outbox's lock: {exc.strerror}") from None
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield False
                return
            yield True
        finally:
            os.close(fd)


def _cut_unfinished(fd: int) -> None:
    """Drop the bytes after the last newline (a write cut short by a crash)."""
    end = os.fstat(fd).st_size
    if end == 0 or os.pread(fd, 1, end - 1) == b"\n":
        return
    position = end
    while position > 0:
        start = max(0, position - 65536)
        cut = os.pread(fd, position - start, start).rfind(b"\n")
        if cut >= 0:
            os.ftruncate(fd, start + cut + 1)
            return
        position = start
    os.ftruncate(fd, 0)
