"""The hash-chained audit log (``scanner.respond.audit_log``): any sequence of appends verifies; any edit,
reordering, removal, insertion or truncation is caught at the first line it breaks."""

from __future__ import annotations

import itertools
import json
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scanner.errors import InputError
from scanner.respond.audit_log import (
    GENESIS,
    AuditFinding,
    AuditRecord,
    append,
    canonical,
    head_path,
    record_hash,
    verify,
)

text = st.text(max_size=40)  # any unicode, surrogates and line breaks included
hexes = st.text("0123456789abcdef", min_size=40, max_size=40)
records = st.builds(
    AuditRecord,
    action=st.sampled_from(["bypass", "fail-open", "reject"]),
    actor=text,
    repository=text,
    reason=text,
    refs=st.lists(text, max_size=3).map(tuple),
    commits=st.lists(hexes, max_size=3).map(tuple),
    findings=st.lists(st.builds(AuditFinding, rule=text, fingerprint=hexes), max_size=3).map(tuple),
)
logs = st.lists(records, min_size=2, max_size=8)


@contextmanager
def written(items: list[AuditRecord]) -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="audit-") as folder:
        path = Path(folder) / "audit.jsonl"
        for item in items:
            append(path, item)
        yield path


def lines(path: Path) -> list[bytes]:
    return path.read_bytes().split(b"\n")[:-1]


def rewrite(path: Path, new: list[bytes]) -> None:
    path.write_bytes(b"".join(line + b"\n" for line in new))


@given(logs)
def test_any_log_verifies_and_holds_what_was_appended(items: list[AuditRecord]) -> None:
    with written(items) as path:
        result = verify(path)
        assert (result.ok, result.lines, result.anchored, result.notes) == (True, len(items), True, ())
        docs = [json.loads(line) for line in lines(path)]
        assert [d["seq"] for d in docs] == list(range(1, len(items) + 1))
        assert docs[0]["prev"] == GENESIS
        assert all(b["prev"] == a["hash"] for a, b in itertools.pairwise(docs))
        assert [(d["action"], d["reason"], d["refs"]) for d in docs] == [
            (r.action, r.reason, list(r.refs)) for r in items
        ]
        assert all(line.isascii() for line in lines(path))


@given(logs, st.data())
def test_an_edited_line_is_named(items: list[AuditRecord], data: st.DataObject) -> None:
    with written(items) as path:
        body = lines(path)
        at = data.draw(st.integers(0, len(body) - 1))
        doc = json.loads(body[at])
        doc["reason"] += " (edited)"
        body[at] = canonical(doc)
        rewrite(path, body)
        assert (verify(path).bad_line, verify(path).problem) == (at + 1, "edited: its content does not match its hash")


@given(logs, st.data())
def test_an_edit_with_its_hash_recomputed_is_caught_at_the_next_line_or_the_head(
    items: list[AuditRecord], data: st.DataObject
) -> None:
    with written(items) as path:
        body = lines(path)
        at = data.draw(st.integers(0, len(body) - 1))
        doc = json.loads(body[at])
        doc["actor"] = "someone else"
        doc["hash"] = record_hash(doc)
        body[at] = canonical(doc)
        rewrite(path, body)
        result = verify(path)
        if at + 1 < len(body):
            assert (result.bad_line, result.problem.split(":")[0]) == (at + 2, f"does not follow line {at + 1}")
        else:
            assert (result.bad_line, result.problem) == (at + 1, "does not match the head file: the log was rewritten")


@given(logs, st.data())
def test_reordered_removed_or_inserted_lines_are_named(items: list[AuditRecord], data: st.DataObject) -> None:
    with written(items) as path:
        body = lines(path)
        first, second = sorted(data.draw(st.lists(st.integers(0, len(body) - 1), min_size=2, max_size=2, unique=True)))
        how = data.draw(st.sampled_from(["swap", "remove", "duplicate"]))
        if how == "swap":
            body[first], body[second] = body[second], body[first]
            expected = first + 1
        elif how == "remove":
            del body[first]
            expected = first + 1 if first < len(body) else len(body) + 1  # the last line gone: the head says so
        else:
            body.insert(second, body[first])
            expected = second + 1
        rewrite(path, body)
        result = verify(path)
        assert result.bad_line == expected, (how, first, second, result.message())


@given(logs, st.data())
def test_a_truncated_log_is_named(items: list[AuditRecord], data: st.DataObject) -> None:
    with written(items) as path:
        raw = path.read_bytes()
        body = lines(path)
        keep = data.draw(st.integers(0, len(raw) - 1))
        path.write_bytes(raw[:keep])
        whole_lines = raw[:keep].count(b"\n")
        result = verify(path)
        assert not result.ok
        assert result.bad_line == whole_lines + 1
        if raw[:keep].endswith(b"\n") or keep == 0:
            assert result.problem.startswith(f"missing: the log ends after {whole_lines} records, its head file says")
        else:
            assert result.problem == "truncated: the last line does not end"
        assert len(body) == len(items)


def test_the_messages_name_the_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    append(path, AuditRecord("bypass", "alice", "repo", "test key"))
    assert verify(path).message() == f"{path}: 1 records, chain intact"
    head_path(path).unlink()
    assert verify(path).message() == f"{path}: 1 records, chain intact (no head file)"
    path.write_bytes(path.read_bytes() + b"[1, 2]\n" + b'{"seq": 2}\n')
    assert verify(path).message() == f"{path}: line 2: not an audit record (not a JSON object)"
    path.write_bytes(path.read_bytes().replace(b"[1, 2]\n", b""))
    assert verify(path).message().startswith(f"{path}: line 2: not an audit record (no action, actor, commits")
    path.write_bytes(b"not json\n")
    assert verify(path).message() == f"{path}: line 1: not a JSON record"


def test_a_damaged_head_file_and_a_missing_log(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    append(path, AuditRecord("reject", "bob", "repo"))
    head_path(path).write_text("{")
    assert verify(path).problem == "audit.jsonl.head is damaged: the end is unknown"
    with pytest.raises(InputError, match="cannot read the audit log"):
        verify(tmp_path / "none.jsonl")


def test_an_interrupted_write_is_cut_off_by_the_next_append_and_the_head_may_lag(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    append(path, AuditRecord("reject", "bob", "repo"))
    head = head_path(path).read_bytes()
    append(path, AuditRecord("reject", "bob", "repo"))
    head_path(path).write_bytes(head)  # a crash after the line's fsync, before the head was replaced
    assert verify(path).notes == ("1 records after the head (a write interrupted before the head was updated)",)
    with open(path, "ab") as f:
        f.write(b'{"action":"byp')  # a crash half way through a line
    assert verify(path).problem == "truncated: the last line does not end"
    entry = append(path, AuditRecord("bypass", "carol", "repo", "why"))
    assert entry.seq == 3
    assert verify(path).ok


def test_appending_after_a_damaged_last_record_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    append(path, AuditRecord("reject", "bob", "repo"))
    path.write_bytes(path.read_bytes().replace(b'"bob"', b'"eve"'))
    with pytest.raises(InputError, match=r"the last record is damaged \(edited: its content does not match"):
        append(path, AuditRecord("reject", "bob", "repo"))


def test_an_audit_log_that_cannot_be_written_is_an_input_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(InputError, match="cannot open the audit log"):
        append(blocker / "audit.jsonl", AuditRecord("reject", "bob", "repo"))
    path = tmp_path / "audit.jsonl"
    head_path(path).mkdir()  # the head cannot be replaced
    with pytest.raises(InputError, match="cannot write the audit log"):
        append(path, AuditRecord("reject", "bob", "repo"))


def test_concurrent_appends_keep_one_chain(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    threads = [
        threading.Thread(target=lambda n=n: [append(path, AuditRecord("reject", f"u{n}", "r")) for _ in range(10)])
        for n in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    result = verify(path)
    assert (result.ok, result.lines) == (True, 80)
