"""The ``git log --raw -z`` parser of the history walk, read a read at a time: whatever the reads' sizes, it
gives what libgit2's own walk gives, and a stream cut short never raises."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from scanner.sources.base import Skips
from scanner.sources.git import walk as git_walk
from scanner.sources.git.libgit2walk import history_tips, libgit2_changes
from scanner.sources.git.repo import open_repository
from tests.gitrepo import Repo, isolate_git


@pytest.fixture
def odd_repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Repo:
    """Commits whose messages look like raw entries, odd paths (a newline, spaces, a leading \\x01, bytes that
    are not UTF-8), an empty commit, a deletion, a symlink, an executable and a submodule entry."""
    isolate_git(monkeypatch, tmp_path / "home")
    repo = Repo.init(tmp_path / "repo")
    repo.commit(":000000 100644 " + "0" * 40 + " " + "1" * 40 + " A\nnot an entry", {"a.txt": "one\n"})
    repo.commit("\n:looks like meta after a newline", {"dir with space/b c.txt": "two\n", "new\nline.txt": "x\n"})
    (repo.path / "\x01lead.txt").write_text("three\n")
    (repo.path / b"latin-\xe9.txt".decode("utf-8", "surrogateescape")).write_text("four\n")
    (repo.path / "run.sh").write_text("#!/bin/sh\n")
    (repo.path / "run.sh").chmod(0o755)
    (repo.path / "link").symlink_to("a.txt")
    repo.commit("odd paths")
    repo.git("commit", "-q", "--allow-empty", "-m", "nothing changed")
    repo.git("commit", "-q", "--allow-empty", "--allow-empty-message", "-m", "")
    repo.git("rm", "-q", "a.txt")
    repo.git("update-index", "--add", "--cacheinfo", f"160000,{repo.head()},sub")
    repo.git("commit", "-q", "-m", "delete a, add a submodule")
    repo.commit("edit", {"run.sh": "#!/bin/sh\necho\n"})
    return repo


def _log(repo: Repo) -> bytes:
    args = [
        "git",
        "log",
        "--reverse",
        "--topo-order",
        "--raw",
        "--no-abbrev",
        "--no-renames",
        "--diff-merges=first-parent",
        "--root",
        "--no-color",
        "--format=%x01%H%x00%B",
        "-z",
        "HEAD",
    ]  # fmt: skip  (the walk's own arguments)
    return subprocess.run(args, cwd=repo.path, capture_output=True, check=True).stdout


def _reads(data: bytes, size: int) -> Iterator[list[bytes]]:
    """``_nul_tokens``' lists for reads of ``size`` bytes."""
    rest = b""
    for start in range(0, len(data), size):
        parts = (rest + data[start : start + size]).split(b"\0")
        rest = parts.pop()
        if parts:
            yield parts
    if rest:
        yield [rest]


def _parse(data: bytes, size: int) -> list[git_walk.Change]:
    return _collect(_reads(data, size))


def _collect(lists: Iterator[list[bytes]]) -> list[git_walk.Change]:
    """Every commit the parser yields, then the last one, which it returns."""
    parser = git_walk._parse_log(lists)
    out: list[git_walk.Change] = []
    while True:
        try:
            out.append(next(parser))
        except StopIteration as end:
            if end.value is not None:
                out.append(end.value)
            return out


def test_every_read_size_parses_as_libgit2_walks(odd_repo: Repo) -> None:
    data = _log(odd_repo)
    repo = open_repository(str(odd_repo.path))
    skips = Skips()
    tips = history_tips(repo, skips)
    expected = [
        (commit, message, sorted(entries)) for commit, message, entries in libgit2_changes(repo, tips, [], skips, set())
    ]
    assert len(expected) == 7
    assert any(mode == 0o160000 for _c, _m, entries in expected for mode, _o, _p in entries)
    assert any(path == "latin-\\xe9.txt" for _c, _m, entries in expected for _mode, _o, path in entries)
    whole = _parse(data, len(data))
    assert [(c, m, sorted(e)) for c, m, e in whole] == expected
    for size in (1, 2, 3, 41, 97, 100, 4096):
        assert _parse(data, size) == whole, size


def test_a_stream_cut_anywhere_never_raises(odd_repo: Repo) -> None:
    data = _log(odd_repo)
    whole = _parse(data, len(data))
    for cut in range(1, len(data), 7):
        for size in (5, 64, len(data)):
            parsed = _parse(data[:cut], size)
            assert parsed[:-1] == whole[: len(parsed) - 1]  # every commit before the last is whole
            last_id, _message, entries = parsed[-1]
            assert whole[len(parsed) - 1][0].startswith(last_id)  # the last may be cut anywhere, even its id
            assert all(entry in whole[len(parsed) - 1][2] for entry in entries[:-1])


def test_the_walk_reads_git_log_in_reads_of_any_size(odd_repo: Repo, monkeypatch: pytest.MonkeyPatch) -> None:
    """The walk end to end, with git's output read a few bytes at a time: the same blobs and messages."""
    repo = open_repository(str(odd_repo.path))

    def walk() -> list[object]:
        skips = Skips()
        return list(git_walk.walk_commits(repo, history_tips(repo, skips), [], skips, git_walk.WalkStats()))

    whole = walk()
    real_read = git_walk.os.read
    monkeypatch.setattr(git_walk.os, "read", lambda fd, size: real_read(fd, 13))
    assert walk() == whole
    assert len(whole) > 10


def test_nul_tokens_keep_an_unterminated_last_token() -> None:
    """What a git that died mid-token leaves: the tokens, then the cut one on its own."""
    read_end, write_end = os.pipe()
    entry = b":000000 100644 " + b"0" * 40 + b" " + b"1" * 40 + b" A"
    os.write(write_end, b"\x01" + b"a" * 40 + b"\0message\0\n" + entry + b"\0pa")
    os.close(write_end)
    with os.fdopen(read_end, "rb") as stream:
        lists = list(git_walk._nul_tokens(stream, [False]))
    assert lists[-1] == [b"pa"]
    assert _collect(iter(lists)) == [("a" * 40, b"message", [(0o100644, "1" * 40, "pa")])]
