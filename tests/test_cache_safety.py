"""Issue #18 item 9: the on-disk cache is data, never code. A planted pickle, an entry of the wrong type, a truncated
entry, a FIFO or a link in place of an entry: each is a miss, the scan rebuilds and passes, nothing runs."""

from __future__ import annotations

import dataclasses
import json
import marshal
import os
import pickle
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from helpers import rule_file

from scanner import cache
from scanner.ruleset.speccache import specs_from_bytes, specs_to_bytes

SECRET = "k3y_q8w7e6r5"


class _Planted:
    """Unpickling this calls ``os.system``: what a planted cache entry could do under the old pickle cache."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.system, (f"touch {self.marker}",))


# ``python -m scanner`` with the built-in rules loaded through the cache directory, as where the package keeps no
# table of its own (``ruleset.builtintable``: a read-only install, or no bytecode written).
_WITHOUT_TABLE = (
    "import sys, scanner.ruleset.builtintable as table; table.table_path = lambda: '/nonexistent/table';"
    "from scanner.cli import console; sys.exit(console())"
)


def _scan(project: Path, cache_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "LEAKSTOP_CACHE_DIR": str(cache_dir)}
    return subprocess.run(
        [sys.executable, "-c", _WITHOUT_TABLE, "scan", "--no-progress", str(project)],
        check=False,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def _steady(report: str) -> str:
    """The text report without its timing (``in 0.01s``), which differs from run to run."""
    return re.sub(r" in \d+\.\d+s", " in (time)", report)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    root.mkdir()
    # The built-in rules (their cache entries) plus one custom rule (the config's entry) that finds the secret.
    rule = "{id: k3y, name: K3y, regex: '\\b(k3y_[a-z0-9]{8})\\b', keywords: [k3y_], severity: high, confidence: high}"
    (root / ".leakstop.yaml").write_text(f"version: 1\nrules: [{rule}]\n", encoding="utf-8")
    (root / "app.txt").write_text(f"x = {SECRET}\n", encoding="utf-8")
    return root


def _plant_everywhere(cache_dir: Path, payload: bytes) -> list[Path]:
    entries = [p for p in cache_dir.iterdir() if not p.name.startswith(".")]
    for entry in entries:
        entry.write_bytes(payload)
    return entries


def test_a_planted_pickle_is_not_run_and_the_cache_is_rebuilt(
    tmp_path: Path, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache_dir = tmp_path / "cache"
    monkeypatch.setenv("LEAKSTOP_CACHE_DIR", str(cache_dir))
    first = _scan(project, cache_dir)
    assert first.returncode == 1, first.stderr
    marker = tmp_path / "pwned"
    planted = pickle.dumps(_Planted(marker))
    assert _plant_everywhere(cache_dir, planted)
    # The frame is not enough either: a well-framed pickle is not JSON.
    for entry in cache_dir.glob("config-*"):
        entry.write_bytes(cache.frame(planted))
    again = _scan(project, cache_dir)
    assert not marker.exists()
    assert (again.returncode, again.stderr) == (first.returncode, first.stderr)
    assert _steady(again.stdout) == _steady(first.stdout)
    rebuilt = [p.name for p in cache_dir.iterdir() if not p.name.startswith(".")]
    assert all(cache.read(name) is not None or cache.read_self_checked(name) is not None for name in rebuilt)


@pytest.mark.parametrize(
    "damage",
    ["truncated", "wrong-type", "well-framed-wrong-type", "fifo", "symlink", "directory"],
)
def test_a_doubtful_entry_is_a_miss(tmp_path: Path, project: Path, damage: str) -> None:
    cache_dir = tmp_path / "cache"
    first = _scan(project, cache_dir)
    entries = sorted(p for p in cache_dir.iterdir() if not p.name.startswith("."))
    assert {p.name.split("-")[0] for p in entries} >= {"rules", "config"}
    for entry in entries:
        data = entry.read_bytes()
        entry.unlink()
        if damage == "truncated":
            entry.write_bytes(data[: len(data) // 2])
        elif damage == "wrong-type":
            entry.write_bytes(b'["not", "a", "mapping"]')
        elif damage == "well-framed-wrong-type":
            entry.write_bytes(cache.frame(json.dumps([{"id": 3}] if entry.name.startswith("rules") else [1]).encode()))
        elif damage == "fifo":
            os.mkfifo(entry)
        elif damage == "symlink":
            entry.symlink_to("/dev/zero")
        else:
            entry.mkdir()
    again = _scan(project, cache_dir)
    assert (again.returncode, _steady(again.stdout)) == (first.returncode, _steady(first.stdout)), again.stderr
    assert "Traceback" not in again.stderr


def test_the_frame_rejects_every_change() -> None:
    framed = cache.frame(b'{"a": 1}')
    assert cache.unframe(framed) == b'{"a": 1}'
    assert cache.unframe(framed[:-1]) is None
    assert cache.unframe(framed[:10]) is None
    assert cache.unframe(framed.replace(b"leakstop-cache 1", b"leakstop-cache 9")) is None
    assert cache.unframe(framed[:-2] + b"2}") is None


def test_entries_read_back_whole_or_not_at_all(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``read`` on a real file: the payload back exactly; a changed, cut or grown file is a miss."""
    monkeypatch.setenv("LEAKSTOP_CACHE_DIR", str(tmp_path))
    payload = b"3,7\n" + bytes(range(256)) * 40
    cache.write("db-1", payload)
    assert cache.read("db-1") == payload
    framed = (tmp_path / "db-1").read_bytes()
    for position in (0, 20, 90, len(framed) // 2, len(framed) - 1):
        changed = bytearray(framed)
        changed[position] ^= 0x01
        (tmp_path / "db-1").write_bytes(bytes(changed))
        assert cache.read("db-1") is None, position
    for damaged in (framed[:-1], framed + b"x", framed[:50]):
        (tmp_path / "db-1").write_bytes(damaged)
        assert cache.read("db-1") is None


def test_writing_a_kind_removes_its_retired_versions_and_keeps_the_newest_few(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A new entry format (``hs5`` → ``hs6``) would otherwise leave the old 5.6 MB databases for good."""
    monkeypatch.setenv("LEAKSTOP_CACHE_DIR", str(tmp_path))
    for name in ("hs5-a.db", "hs4-b.db", "hs5k-c", "rules-d", "config-e.json"):
        cache.write(name, b"old")
    cache.write_self_checked("hs6-f.db", b"1,2", b"body")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config-e.json", "hs5k-c", "hs6-f.db", "rules-d"]
    for number in range(cache.KEEP_PER_KIND + 2):
        cache.write(f"rules-{number}", b"x")
    assert len(list(tmp_path.glob("rules-*"))) == cache.KEEP_PER_KIND


def test_an_older_build_leaves_a_newer_builds_entries(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two builds share the cache (a pre-commit environment pinned to an older release, a newer CLI): the older
    one writing ``hs5k`` must not make the newer one compile its ``hs6k`` again at every run."""
    monkeypatch.setenv("LEAKSTOP_CACHE_DIR", str(tmp_path))
    cache.write_self_checked("hs6k-new", b"", b"body")
    cache.write("hs5k-old", b"old")
    assert cache.read_self_checked("hs6k-new") == (b"", b"body")
    cache.write_self_checked("hs6k-other", b"", b"body")  # the newer build compiles: the older version goes
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hs6k-new", "hs6k-other"]


def test_a_self_checked_entry_checks_its_header_line_and_size(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``read_self_checked``: the header line and the body's size are the frame's to check (the body is checked
    where it is used: tests/test_cache_and_fallbacks.py); the other kind of entry is a miss to either reader."""
    monkeypatch.setenv("LEAKSTOP_CACHE_DIR", str(tmp_path))
    body = bytes(range(256)) * 40 + b"\n\nmore lines\n"
    cache.write_self_checked("hs-1", b"3,7", body)
    assert cache.read_self_checked("hs-1") == (b"3,7", body)
    assert cache.read("hs-1") is None
    framed = (tmp_path / "hs-1").read_bytes()
    line_at = framed.index(b"\n") + 1
    for position in (0, 20, line_at, line_at + 1, line_at + 3):  # the magic, the digest, the line, its newline
        changed = bytearray(framed)
        changed[position] ^= 0x01
        (tmp_path / "hs-1").write_bytes(bytes(changed))
        assert cache.read_self_checked("hs-1") is None, position
    for damaged in (framed[:-1], framed + b"x", framed[:50]):
        (tmp_path / "hs-1").write_bytes(damaged)
        assert cache.read_self_checked("hs-1") is None
    cache.write("plain-1", b"3,7\n" + body)
    assert cache.read_self_checked("plain-1") is None
    cache.write_self_checked("hs-2", b"two\nlines", body)
    cache.write_self_checked("hs-3", b"1" * cache.MAX_HEADER_LINE, body)
    assert not (tmp_path / "hs-2").exists() and not (tmp_path / "hs-3").exists()


def test_write_json_skips_what_json_cannot_hold(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEAKSTOP_CACHE_DIR", str(tmp_path / "c"))
    cache.write_json("x-bytes", {"a": b"raw"})
    cache.write_json("x-keys", {1: "int key"})
    cache.write_json("x-nan", float("nan"))
    assert not (tmp_path / "c").exists()
    cache.write_json("x-ok", {"a": [1, "b"]})
    assert cache.read_json("x-ok") == {"a": [1, "b"]}
    (tmp_path / "c" / "x-bad").write_bytes(cache.frame(b"{not json"))
    assert cache.read_json("x-bad") is None
    assert cache.read_json("x-absent") is None


def test_an_unwritable_cache_dir_costs_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setenv("LEAKSTOP_CACHE_DIR", str(blocker / "sub"))
    cache.write("x-1", b"data")
    assert cache.read("x-1") is None


def test_rule_specs_round_trip_and_refuse_wrong_types(tmp_path: Path) -> None:
    from scanner.ruleset import load_rule_files

    path = rule_file(tmp_path / "r.yaml", {"id": "k3y", "name": "K3y", "regex": "k3y_[a-z]{8}", "keywords": ["k3y_"]})
    spec = load_rule_files([path])[0]
    data = specs_to_bytes([spec])
    assert specs_from_bytes(data) == [spec]
    layout, names, (row,) = marshal.loads(data)

    def entry(rows: Any, fields: tuple[str, ...] = names) -> bytes:
        return marshal.dumps((layout, fields, rows))

    def with_value(field: str, bad: Any) -> bytes:
        changed = list(row)
        changed[names.index(field)] = bad
        return entry([tuple(changed)])

    for field, bad in [
        ("severity", "urgent"),
        ("severity", ["high"]),  # unhashable: a miss, not a TypeError
        ("keywords", "k3y_"),
        ("keywords", [1]),
        ("min_entropy", True),
        ("secret_group", "1"),
        ("window", 1.5),
        ("generic", "no"),
        ("id", None),
    ]:
        assert specs_from_bytes(with_value(field, bad)) is None, field
    assert specs_from_bytes(entry([(*row, 1)], (*names, "extra"))) is None
    assert specs_from_bytes(entry({"not": "a list"})) is None
    assert specs_from_bytes(entry([row, 3])) is None
    assert specs_from_bytes(entry([row])) == [spec]


def test_a_cached_spec_whose_regex_does_not_compile_is_rebuilt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from scanner.ruleset import load_ruleset

    monkeypatch.setenv("LEAKSTOP_CACHE_DIR", str(tmp_path / "c"))
    path = rule_file(tmp_path / "r.yaml", {"id": "k3y", "name": "K3y", "regex": "k3y_[a-z]{8}", "keywords": ["k3y_"]})
    load_ruleset([path])
    (entry,) = (tmp_path / "c").glob("rules-*")
    (spec,) = specs_from_bytes(cache.unframe(entry.read_bytes())) or []
    broken = dataclasses.replace(spec, regex="k3y_[a-z", secret_group=None)  # a group to derive: compiled on load
    entry.write_bytes(cache.frame(specs_to_bytes([broken])))
    assert [rule.spec.regex for rule in load_ruleset([path]).rules] == ["k3y_[a-z]{8}"]


def test_no_pickle_left_in_the_package() -> None:
    package = Path(__file__).resolve().parents[1] / "scanner"
    users = [p for p in package.rglob("*.py") if "import pickle" in p.read_text(encoding="utf-8")]
    assert users == []
