"""The repository: opening it, naming commits, and what every git reader shares (pygit2, the git CLI)."""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from functools import cache
from typing import Any

from scanner.errors import InputError, UsageError
from scanner.models import GitOrigin, ScanIssue

ZERO_OID = "0" * 40
ZERO_OIDS = frozenset({ZERO_OID, "0" * 64})  # SHA-1 and SHA-256 repositories

# Seconds a git process we read from may go without an answer before it is killed (the watchdog): a blob of
# hundreds of megabytes comes well within it.
GIT_READ_TIMEOUT = 60.0


def pygit2_module() -> Any:
    """pygit2, imported on first use: its import alone costs most of a commit hook's time budget."""
    import pygit2

    return pygit2


def open_repository(path: str, object_dirs: Sequence[str] = ()) -> Any:
    """The repository holding ``path`` (a working tree or a bare repository), reading objects from
    ``object_dirs`` too (a pre-receive hook's quarantine: the pushed objects are there, not in the repository)."""
    pygit2 = pygit2_module()
    if not os.path.exists(path):
        raise InputError(f"{path}: no such file or directory")
    found = pygit2.discover_repository(path)
    if found is None:
        raise InputError(f"{path}: not a git repository (no .git found here or above)")
    try:
        repo = pygit2.Repository(found)
    except (pygit2.GitError, ValueError) as exc:  # ValueError: an object format libgit2 cannot read (SHA-256)
        raise InputError(f"{path}: cannot open the git repository: {exc}") from None
    add_object_dirs(repo, object_dirs)
    return repo


def add_object_dirs(repo: Any, object_dirs: Sequence[str]) -> None:
    """Give libgit2 each directory as an extra object store (the repository's own is skipped)."""
    own = os.path.realpath(os.path.join(repo.path, "objects"))
    for directory in object_dirs:
        if os.path.realpath(directory) == own:
            continue
        if not os.path.isdir(directory):
            raise InputError(f"{directory}: object directory not found (the push's quarantine is gone?)")
        repo.odb.add_disk_alternate(directory)


def in_own_store(git_dir: str, oids: Sequence[str]) -> set[str]:
    """The ids among ``oids`` that the repository's own object store holds: not a quarantine (libgit2 ignores the
    ``GIT_*`` variables that point at one), so an object there was accepted."""
    pygit2 = pygit2_module()
    try:
        odb = pygit2.Repository(git_dir).odb
    except (pygit2.GitError, ValueError):
        return set()
    return {oid for oid in oids if odb.exists(oid)}


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
def git_version() -> tuple[int, int]:
    """The ``git`` on PATH as (major, minor); (0, 0) when there is none."""
    import shutil  # here: the commit hook's path imports this module and starts git without them (pipes.py)
    import subprocess

    if shutil.which("git") is None:
        return (0, 0)
    try:
        out = subprocess.run(["git", "version"], capture_output=True, text=True, timeout=10, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return (0, 0)
    numbers = [int(n) for n in re.findall(r"\d+", out)[:2]]
    return (numbers[0], numbers[1]) if len(numbers) == 2 else (0, 0)


def git_usable() -> bool:
    """``git`` on PATH and new enough for ``--diff-merges=first-parent`` (2.31)."""
    return git_version() >= (2, 31)


def git_environment(object_dirs: Sequence[str] = ()) -> dict[str, str]:
    """The environment for the ``git`` processes we start: without the ``GIT_*`` variables of a hook that runs
    us, which would point git at another repository or index than the one we opened (libgit2 ignores them too);
    ``object_dirs`` (a push's quarantine) become git's alternate object directories, read-only."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    if object_dirs:
        from scanner.sources.git import alternates

        env["GIT_ALTERNATE_OBJECT_DIRECTORIES"] = alternates.join(object_dirs)
    return env
