"""The audit log: an append-only, hash-chained JSON-lines file of decisions someone may have to answer for (a
bypass, a push accepted because its scan ran out of time, a rejection). Fingerprints and rule ids only, never a
secret or a snippet.

Each line is one record, compact JSON with sorted keys, ASCII only::

    {"action":"bypass","actor":"alice","commits":[…],"findings":[{"fingerprint":"…","rule":"github-pat"}],
     "hash":"<sha256>","prev":"<the previous line's hash>","reason":"…","refs":[…],"repository":"…",
     "seq":1,"time":"2026-05-09T10:00:00+00:00","version":1}

``hash`` is the SHA-256 of the record's canonical JSON without ``hash``; ``prev`` is the previous record's
``hash`` (64 zeros for the first) and ``seq`` counts from 1. A sidecar ``<log>.head`` holds the last record's
``seq`` and ``hash``, so cutting lines off the end shows too. ``verify`` names the first line that breaks any of
this. The chain makes tampering evident, not impossible: whoever can write the file can rewrite it whole and its
head with it; ship the records elsewhere as well where that matters.

``append`` holds an exclusive ``flock`` on the log while it reads the last record, writes one line (one
``write`` on an ``O_APPEND`` descriptor) and ``fsync``s it, then replaces the head. A line left without its end
by a crash during a write was never acknowledged: the next append cuts it off.
"""

from __future__ import annotations

import datetime
import fcntl
import hashlib
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scanner.errors import InputError

GENESIS = "0" * 64
VERSION = 1
_TAIL_BLOCK = 8192
_FIELDS = frozenset(
    {"action", "actor", "commits", "findings", "hash", "prev", "reason", "refs", "repository", "seq", "time", "version"}
)


@dataclass(frozen=True)
class AuditFinding:
    rule: str
    fingerprint: str  # the finding id: a keyed hash of rule, secret and path


@dataclass(frozen=True)
class AuditRecord:
    action: str  # bypass, bypass-refused, fail-open, reject; the response and break-glass add theirs
    actor: str
    repository: str
    reason: str = ""
    refs: tuple[str, ...] = ()
    commits: tuple[str, ...] = ()
    findings: tuple[AuditFinding, ...] = ()
    time: str = ""  # ISO 8601; "" = when it is appended
    # Written only when set (records without them verify as before):
    subject: str = ""  # what the record is about: a response action's id, a break-glass request's id
    provider: str = ""  # the response provider that acted
    outcome: str = ""  # the provider's outcome: done, already-done, retry, failed
    secrets: tuple[str, ...] = ()  # secret fingerprints (``secret_id``: rule and secret, keyed), never secrets
    detail: str = ""  # one redacted line


@dataclass(frozen=True)
class Entry:
    """Where a record went: its line number (``seq``) and hash."""

    seq: int
    hash: str


@dataclass(frozen=True)
class Verified:
    """``verify``'s answer: ``bad_line`` is the first bad line (0 = none) and ``problem`` says what is wrong."""

    path: str
    lines: int
    bad_line: int = 0
    problem: str = ""
    anchored: bool = True  # a head file was there to check the end against
    notes: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.bad_line

    def message(self) -> str:
        if self.ok:
            return f"{self.path}: {self.lines} records, chain intact" + ("" if self.anchored else " (no head file)")
        return f"{self.path}: line {self.bad_line}: {self.problem}"


def canonical(record: dict[str, Any]) -> bytes:
    return json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode("ascii")


def record_hash(record: dict[str, Any]) -> str:
    return hashlib.sha256(canonical({k: v for k, v in record.items() if k != "hash"})).hexdigest()


def head_path(path: Path) -> Path:
    return path.with_name(path.name + ".head")


def append(path: Path, record: AuditRecord, now: datetime.datetime | None = None) -> Entry:
    """Append ``record`` after the last one, durably; an ``InputError`` says why it could not be."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
    except OSError as exc:
        raise InputError(f"{path}: cannot open the audit log: {exc.strerror}") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        seq, prev = _last(fd, path)
        doc = _document(record, seq + 1, prev, now)
        doc["hash"] = record_hash(doc)
        os.write(fd, canonical(doc) + b"\n")
        os.fsync(fd)
        _write_head(path, doc["seq"], doc["hash"])
        return Entry(doc["seq"], doc["hash"])
    except OSError as exc:
        raise InputError(f"{path}: cannot write the audit log: {exc.strerror}") from None
    finally:
        os.close(fd)  # releases the lock


def _document(record: AuditRecord, seq: int, prev: str, now: datetime.datetime | None) -> dict[str, Any]:
    when = record.time or (now or datetime.datetime.now(datetime.timezone.utc)).isoformat(timespec="seconds")
    return {
        "version": VERSION,
        "seq": seq,
        "time": when,
        "actor": record.actor,
        "action": record.action,
        "repository": record.repository,
        "refs": list(record.refs),
        "commits": list(record.commits),
        "findings": [{"rule": f.rule, "fingerprint": f.fingerprint} for f in record.findings],
        "reason": record.reason,
        "prev": prev,
        **_optional(record),
    }


def _optional(record: AuditRecord) -> dict[str, Any]:
    fields = {
        "subject": record.subject,
        "provider": record.provider,
        "outcome": record.outcome,
        "secrets": list(record.secrets),
        "detail": record.detail,
    }
    return {name: value for name, value in fields.items() if value}


def _last(fd: int, path: Path) -> tuple[int, str]:
    """The last record's ``seq`` and ``hash`` ((0, GENESIS) for an empty log). An unfinished last line (a write
    cut short) is dropped; a last line that is not a record stops the append: the chain would go on from it."""
    size = os.fstat(fd).st_size
    if size == 0:
        return 0, GENESIS
    tail = b""
    start = size
    while start > 0 and tail.count(b"\n") < 2:
        step = min(_TAIL_BLOCK, start)
        start -= step
        tail = os.pread(fd, step, start) + tail
    if not tail.endswith(b"\n"):
        cut = tail.rfind(b"\n")
        os.ftruncate(fd, start + cut + 1 if cut >= 0 else 0)
        return _last(fd, path)
    last = tail[:-1].rsplit(b"\n", 1)[-1]
    doc, problem = _parsed(last, None)
    if problem:
        raise InputError(f"{path}: the last record is damaged ({problem}); run verify before appending more")
    return int(doc["seq"]), str(doc["hash"])


def _write_head(path: Path, seq: int, digest: str) -> None:
    head = head_path(path)
    temp = head.with_name(f".{head.name}.{os.getpid()}.tmp")
    with open(temp, "wb") as f:
        f.write(canonical({"seq": seq, "hash": digest}) + b"\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(temp, head)


def _parsed(line: bytes, expected_seq: int | None) -> tuple[dict[str, Any], str]:
    """The line's record and what is wrong with it ("" = nothing); parsed once (``verify`` reads 100,000s)."""
    try:
        doc = json.loads(line)
    except ValueError:
        return {}, "not a JSON record"
    if not isinstance(doc, dict):
        return {}, "not an audit record (not a JSON object)"
    if missing := sorted(_FIELDS - doc.keys()):
        return doc, f"not an audit record (no {', '.join(missing)})"
    if not isinstance(doc["seq"], int) or not isinstance(doc["hash"], str) or not isinstance(doc["prev"], str):
        return doc, "not an audit record (seq, hash or prev of the wrong type)"
    if not _hash_matches(line, doc):
        return doc, "edited: its content does not match its hash"
    if expected_seq is not None and doc["seq"] != expected_seq:
        return doc, f"out of place: it is record {doc['seq']} (lines were removed, inserted or reordered before it)"
    return doc, ""


def _hash_matches(line: bytes, doc: dict[str, Any]) -> bool:
    """Whether ``doc["hash"]`` is its hash. A line as ``append`` writes it is its canonical JSON, so the hashed
    bytes are the line without its ``"hash":"…",`` member (keys are sorted: it is never last); any other line
    is re-encoded."""
    member = b'"hash":"' + str(doc["hash"]).encode("ascii", "replace") + b'",'
    if line.count(member) == 1:
        stripped = line.replace(member, b"", 1)
        if hashlib.sha256(stripped).hexdigest() == doc["hash"]:
            return True
    return record_hash(doc) == str(doc["hash"])


def verify(path: Path) -> Verified:
    """Check the whole chain and the head file; the first bad line is named. A missing log is an error."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: cannot read the audit log: {exc.strerror}") from None
    lines = data.split(b"\n")
    complete = lines[:-1]  # the part after the last newline: "" when the file ends properly
    prev = GENESIS
    hashes: list[str] = []
    for number, line in enumerate(complete, 1):
        doc, problem = _parsed(line, number)
        if not problem and doc["prev"] != prev:
            problem = f"does not follow line {number - 1}: the chain is broken there (a line edited or replaced)"
        if problem:
            return Verified(str(path), len(complete), number, problem)
        prev = doc["hash"]
        hashes.append(prev)
    if lines[-1]:
        return Verified(str(path), len(complete), len(lines), "truncated: the last line does not end")
    return _against_head(path, hashes)


def _against_head(path: Path, hashes: Sequence[str]) -> Verified:
    """The chain read whole (``hashes``, one a line) against the head file's last ``seq`` and hash."""
    count = len(hashes)
    try:
        head = json.loads(head_path(path).read_bytes())
        seq, digest = int(head["seq"]), str(head["hash"])
    except FileNotFoundError:
        return Verified(str(path), count, anchored=False)
    except (OSError, ValueError, KeyError, TypeError):
        return Verified(str(path), count, count + 1, f"{head_path(path).name} is damaged: the end is unknown")
    if seq > count:
        problem = f"missing: the log ends after {count} records, its head file says {seq} (truncated)"
        return Verified(str(path), count, count + 1, problem)
    if seq >= 1 and hashes[seq - 1] != digest:
        return Verified(str(path), count, seq, "does not match the head file: the log was rewritten")
    notes = (f"{count - seq} records after the head (a write interrupted before the head was updated)",)
    return Verified(str(path), count, notes=notes if seq < count else ())
