"""The ignore patterns git applies to a directory besides the ``.gitignore`` files inside it (gitignore(5)):
``core.excludesFile`` (default ``$XDG_CONFIG_HOME/git/ignore``), ``$GIT_DIR/info/exclude``, and the
``.gitignore`` files of the directories between the repository's top and the scanned directory.

A directory scan of a repository honours them as git does: for untracked files only. A file in the index is
tracked whatever an ignore file says (``tracked_paths``); outside a repository there are none. The default
``core.excludesFile`` comes from the environment, so the command line works it out and passes it down
(``gitdir.default_excludes_file``); the setting itself is read with ``git config``, which knows includes and ``~``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from scanner.gitdir import RepositoryDirs, find_repository


@dataclass(frozen=True)
class PatternFile:
    """The lines of one ignore file, with the directory its patterns are relative to."""

    lines: list[str]
    base: str  # the directory the patterns are relative to, from the repository's top ('' = the top)
    source: str


@dataclass(frozen=True)
class RepositoryIgnores:
    """The ignore files and the tracked paths that decide which files of a directory in a repository are scanned."""

    prefix: str  # the scanned directory relative to the repository's top, '/'-separated ('' = the top)
    files: list[PatternFile] = field(default_factory=list)  # lowest precedence first
    tracked: frozenset[str] = frozenset()  # paths in the index, from the repository's top
    tracked_dirs: frozenset[str] = frozenset()  # the directories that hold them (every level)


def _read_lines(path: Path) -> list[str] | None:
    try:
        return path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return None


def excludes_file(repo: RepositoryDirs, default: str) -> str:
    """``core.excludesFile`` as git reads it for ``repo``; ``default`` when it is not set (or git cannot say)."""
    import subprocess  # a directory scan inside a repository only: a scan of named files starts no process

    command = ["git", f"--git-dir={repo.git_dir}", f"--work-tree={repo.top}", "config", "--path", "--get"]
    try:
        done = subprocess.run(
            [*command, "core.excludesFile"], cwd=repo.top, capture_output=True, text=True, check=False, timeout=10
        )
    except (OSError, subprocess.SubprocessError):
        return default
    if done.returncode != 0:  # 1: not set
        return default
    value = done.stdout.strip()
    return str(repo.top / value) if value else ""


def tracked_paths(repo: RepositoryDirs) -> frozenset[str]:
    """The paths in ``repo``'s index (``git ls-files``, which honours GIT_INDEX_FILE; libgit2 without git);
    empty when neither can read it -- ignore rules then apply to every file, as before."""
    import subprocess

    command = ["git", f"--git-dir={repo.git_dir}", f"--work-tree={repo.top}", "ls-files", "-z", "--cached"]
    try:
        done = subprocess.run(command, cwd=repo.top, capture_output=True, check=False, timeout=60)
        if done.returncode == 0:
            return frozenset(p.decode("utf-8", "surrogateescape") for p in done.stdout.split(b"\0") if p)
    except (OSError, subprocess.SubprocessError):
        pass
    return _index_paths(repo)


def _index_paths(repo: RepositoryDirs) -> frozenset[str]:
    try:
        import pygit2
    except ImportError:  # pragma: no cover - pygit2 is a dependency
        return frozenset()
    try:
        index = pygit2.Repository(str(repo.git_dir)).index
        return frozenset(entry.path for entry in index)
    except (OSError, ValueError, KeyError, pygit2.GitError):
        return frozenset()


def _parents(paths: frozenset[str]) -> frozenset[str]:
    dirs: set[str] = set()
    for path in paths:
        cut = path.rfind("/")
        while cut > 0 and path[:cut] not in dirs:
            dirs.add(path[:cut])
            cut = path.rfind("/", 0, cut)
    return frozenset(dirs)


def repository_ignores(directory: str, default_excludes: str) -> RepositoryIgnores | None:
    """What git ignores in ``directory`` beyond its own ``.gitignore`` files; None outside a repository."""
    repo = find_repository(directory)
    if repo is None:
        return None
    prefix = Path(directory).resolve().relative_to(repo.top).as_posix()
    prefix = "" if prefix == "." else prefix
    files: list[PatternFile] = []
    user_file = excludes_file(repo, default_excludes)
    candidates = [(Path(user_file), "")] if user_file else []
    candidates.append((repo.common_dir / "info" / "exclude", ""))
    parts = prefix.split("/") if prefix else []
    # .gitignore files above the scanned directory; the walk reads the directory's own.
    candidates += [(repo.top.joinpath(*parts[:i], ".gitignore"), "/".join(parts[:i])) for i in range(len(parts))]
    for path, base in candidates:
        lines = _read_lines(path)
        if lines:
            files.append(PatternFile(lines, base, str(path)))
    tracked = tracked_paths(repo)
    return RepositoryIgnores(prefix, files, tracked, _parents(tracked))
