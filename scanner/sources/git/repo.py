"""The repository: opening it, naming commits, and what every git reader shares (pygit2, the git CLI)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from datetime import datetime, timedelta, timezone
from functools import cache
from typing import Any

from scanner.errors import InputError, UsageError
from scanner.models import GitOrigin, ScanIssue

ZERO_OID = "0" * 40

SUBMODULE_MODE = 0o160000


def pygit2_module() -> Any:
    """pygit2, imported on first use: its import alone costs most of a commit hook's time budget."""
    import pygit2

    return pygit2


def open_repository(path: str) -> Any:
    """The repository holding ``path`` (a working tree or a bare repository)."""
    pygit2 = pygit2_module()
    if not os.path.exists(path):
        raise InputError(f"{path}: no such file or directory")
    found = pygit2.discover_repository(path)
    if found is None:
        raise InputError(f"{path}: not a git repository (no .git found here or above)")
    try:
        return pygit2.Repository(found)
    except pygit2.GitError as exc:
        raise InputError(f"{path}: cannot open the git repository: {exc}") from None


def resolve_commit(repo: Any, spec: str) -> Any:
    pygit2 = pygit2_module()
    try:
        return repo.revparse_single(spec).peel(pygit2.Commit)
    except (KeyError, ValueError, pygit2.GitError, pygit2.InvalidSpecError):
        raise UsageError(f"unknown revision {spec!r} in {repo.path}") from None


def commit_origin(commit: Any, path: str, where: str = "blob") -> GitOrigin:
    author = commit.author
    tz = timezone(timedelta(minutes=author.offset))
    return GitOrigin(
        path=path,
        commit=str(commit.id),
        author=author.name,
        email=author.email,
        date=datetime.fromtimestamp(author.time, tz).isoformat(),
        where=where,  # type: ignore[arg-type]
    )


def shallow_issue(repo: Any) -> ScanIssue | None:
    if repo.is_shallow:
        return ScanIssue(repo.path, "shallow", "shallow clone: history before the shallow boundary is not scanned")
    return None


@cache
def git_usable() -> bool:
    """``git`` on PATH and new enough for ``--diff-merges=first-parent`` (2.31)."""
    if shutil.which("git") is None:
        return False
    try:
        out = subprocess.run(["git", "version"], capture_output=True, text=True, timeout=10, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return False
    numbers = [int(n) for n in re.findall(r"\d+", out)[:2]]
    return len(numbers) == 2 and tuple(numbers) >= (2, 31)


def git_environment() -> dict[str, str]:
    """The environment for the ``git`` processes we start: without the ``GIT_*`` variables of a hook that runs
    us, which would point git at another repository or index than the one we opened (libgit2 ignores them too)."""
    return {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
