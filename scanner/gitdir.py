"""Where a path's repository is, found as git finds it, by reading files only (no git process, no pygit2): the
commit hook's path uses it to read the branch, directory scans to read the ignore files git reads."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path


def default_excludes_file(environ: Mapping[str, str]) -> str:
    """Git's default ``core.excludesFile``: ``$XDG_CONFIG_HOME/git/ignore``, else ``$HOME/.config/git/ignore``."""
    xdg = environ.get("XDG_CONFIG_HOME")
    if xdg:
        return os.path.join(xdg, "git", "ignore")
    home = environ.get("HOME")
    return os.path.join(home, ".config", "git", "ignore") if home else ""


@dataclass(frozen=True)
class RepositoryDirs:
    """A repository's working tree and its git directory, found without running git."""

    top: Path  # the top of the working tree
    git_dir: Path  # .git, or the directory a .git file names (a linked worktree, a submodule)

    @property
    def common_dir(self) -> Path:
        """Where ``info/``, ``config`` and the objects live: a linked worktree's ``commondir``, else ``git_dir``."""
        try:
            named = (self.git_dir / "commondir").read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError):
            return self.git_dir
        return (self.git_dir / named).resolve() if named else self.git_dir


def find_repository(path: str) -> RepositoryDirs | None:
    """The repository whose working tree holds ``path``: the nearest directory at or above it with a ``.git``
    directory, or a ``.git`` file (``gitdir: <path>``). None when there is none or the ``.git`` file is unreadable
    (git stops there too)."""
    start = Path(path).resolve()
    if not start.is_dir():
        start = start.parent
    for directory in (start, *start.parents):
        dot_git = directory / ".git"
        if dot_git.is_file():
            try:
                target = dot_git.read_text(encoding="utf-8").strip()
            except (OSError, UnicodeDecodeError):
                return None
            if not target.startswith("gitdir:"):
                return None
            dot_git = (directory / target[len("gitdir:") :].strip()).resolve()
        if dot_git.is_dir():
            return RepositoryDirs(directory, dot_git)
    return None
