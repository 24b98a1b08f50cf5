"""A real git repository for tests, built with the ``git`` CLI: pinned author, committer and clock (each git
call advances the clock by a minute), so commit ids and dates are the same on every run."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

ZERO = "0" * 40
EPOCH = 1_700_000_000  # 2023-11-14T22:13:20Z: the first commit of every test repository
TZ = "+0100"
AUTHOR = ("Alice Example", "alice@example.com")

# Nothing from the developer's git setup or from an enclosing git hook may leak into a test repository.
_GIT_ENV_DROPPED = (
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_CEILING_DIRECTORIES",
    "GIT_PREFIX",
    "PRE_COMMIT_FROM_REF",
    "PRE_COMMIT_TO_REF",
    "PRE_COMMIT_ORIGIN",
    "PRE_COMMIT_SOURCE",
)


def isolate_git(monkeypatch: pytest.MonkeyPatch, home: Path) -> None:
    home.mkdir(parents=True, exist_ok=True)
    for name in _GIT_ENV_DROPPED:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", os.devnull)
    monkeypatch.setenv("GIT_COMMITTER_NAME", "Leakstop Tests")
    monkeypatch.setenv("GIT_COMMITTER_EMAIL", "tests@leakstop.invalid")
    monkeypatch.setenv("GIT_AUTHOR_NAME", AUTHOR[0])
    monkeypatch.setenv("GIT_AUTHOR_EMAIL", AUTHOR[1])


def not_a_repository(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """A directory git finds no repository in (git isolated, its search stopped at ``tmp_path``)."""
    isolate_git(monkeypatch, tmp_path / "home")
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    plain = tmp_path / "plain"
    plain.mkdir()
    return plain


class Repo:
    """A git repository driven through the ``git`` CLI with a pinned identity and clock."""

    def __init__(self, path: Path, clock: list[int]) -> None:
        self.path = path
        self._clock = clock  # shared by every repository of a test, so clones continue the same timeline

    @classmethod
    def init(cls, path: Path, *args: str, clock: list[int] | None = None) -> Repo:
        path.mkdir(parents=True, exist_ok=True)
        repo = cls(path, clock if clock is not None else [EPOCH])
        repo.git("-c", "init.defaultBranch=main", "init", "-q", *args)
        for key, value in (("gc.auto", "0"), ("commit.gpgsign", "false"), ("core.autocrlf", "false")):
            repo.git("config", key, value)
        return repo

    def clone(self, target: Path, *args: str) -> Repo:
        self.git("clone", "-q", *args, str(self.path), str(target))
        return Repo(target, self._clock)

    def git(
        self,
        *args: str,
        stdin: str | None = None,
        check: bool = True,
        env: Mapping[str, str] | None = None,
        author: tuple[str, str] = AUTHOR,
    ) -> str:
        self._clock[0] += 60
        stamp = f"{self._clock[0]} {TZ}"
        full_env = {
            **os.environ,
            "GIT_AUTHOR_NAME": author[0],
            "GIT_AUTHOR_EMAIL": author[1],
            "GIT_AUTHOR_DATE": stamp,
            "GIT_COMMITTER_DATE": stamp,
            **(env or {}),
        }
        proc = subprocess.run(
            ["git", *args], cwd=self.path, input=stdin, capture_output=True, text=True, env=full_env, check=False
        )
        if check and proc.returncode != 0:
            raise AssertionError(f"git {' '.join(args)} failed ({proc.returncode}): {proc.stderr.strip()}")
        return proc.stdout.strip()

    def write(self, files: Mapping[str, str | bytes]) -> None:
        for rel, content in files.items():
            target = self.path / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                target.write_bytes(content)
            else:
                target.write_text(content, encoding="utf-8")

    def commit(
        self, message: str, files: Mapping[str, str | bytes] | None = None, author: tuple[str, str] = AUTHOR
    ) -> str:
        """Write ``files``, stage everything and commit; returns the new commit id."""
        self.write(files or {})
        self.git("add", "-A")
        self.git("commit", "-q", "--allow-empty", "-m", message, author=author)
        return self.head()

    def head(self) -> str:
        return self.rev("HEAD")

    def rev(self, spec: str) -> str:
        return self.git("rev-parse", "--verify", "-q", f"{spec}^{{commit}}")

    def author_date(self, commit: str) -> str:
        seconds, offset = self.git("log", "-1", "--format=%ad", "--date=raw", commit).split()
        sign = -1 if offset.startswith("-") else 1
        tz = timezone(sign * timedelta(hours=int(offset[1:3]), minutes=int(offset[3:5])))
        return datetime.fromtimestamp(int(seconds), tz).isoformat()
