"""Stored files are written whole or not at all (issue #18): the baseline and cache entries go through
``scanner.atomicfile.write_atomic`` (temp file, fsync, rename)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from scanner.atomicfile import write_atomic


def test_a_write_replaces_the_file_and_keeps_its_mode(tmp_path: Path) -> None:
    target = tmp_path / "baseline.json"
    target.write_text("old", encoding="utf-8")
    target.chmod(0o600)
    write_atomic(target, b"new")
    assert target.read_bytes() == b"new"
    assert target.stat().st_mode & 0o777 == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["baseline.json"]


def test_a_new_file_gets_the_umask_mode(tmp_path: Path) -> None:
    previous = os.umask(0o027)
    try:
        write_atomic(tmp_path / "new.json", b"x")
    finally:
        os.umask(previous)
    assert (tmp_path / "new.json").stat().st_mode & 0o777 == 0o640


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "baseline.json"
    target.write_text("old", encoding="utf-8")

    def disk_full(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(OSError, match="No space left"):
        write_atomic(target, b"new")
    assert target.read_text(encoding="utf-8") == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["baseline.json"]


def test_an_unwritable_directory_is_an_oserror_and_nothing_changes(tmp_path: Path) -> None:
    if os.geteuid() == 0:
        pytest.skip("root writes into a read-only directory")
    directory = tmp_path / "ro"
    directory.mkdir()
    (directory / "baseline.json").write_text("old", encoding="utf-8")
    directory.chmod(0o500)
    try:
        with pytest.raises(OSError):
            write_atomic(directory / "baseline.json", b"new")
    finally:
        directory.chmod(0o700)
    assert (directory / "baseline.json").read_text(encoding="utf-8") == "old"


def test_the_baseline_and_the_cache_use_it() -> None:
    root = Path(__file__).resolve().parents[1] / "scanner"
    for module in ("policy/baseline.py", "cache.py"):
        assert "write_atomic(" in (root / module).read_text(encoding="utf-8"), module
