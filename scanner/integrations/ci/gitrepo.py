"""The repository a CI job checked out, asked through the ``git`` command line: which commits it has, what a
range holds, where a shallow clone ends, and ``git fetch`` when ``leakstop ci`` may deepen it.

One short ``git`` process per question (a few per run); the scan itself reads the repository like ``leakstop
scan --range`` does. Fetches never prompt for credentials (the CI's checkout configured them, or they fail).
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterable, Sequence
from pathlib import Path

from scanner.errors import InputError
from scanner.sources.git.repo import git_environment

FETCH_TIMEOUT = 900  # seconds; a CI job has its own, longer limit


class GitRepo:
    def __init__(self, path: str) -> None:
        self.env = {**git_environment(), "GIT_TERMINAL_PROMPT": "0"}
        self.root = path
        proc = self._run(["-C", path, "rev-parse", "--show-toplevel"], check=False)
        if proc.returncode != 0:
            raise InputError(f"{path}: not a git work tree: {_first_line(proc.stderr)}")
        self.root = proc.stdout.strip()

    def _run(
        self, args: Sequence[str], stdin: str | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        try:
            proc = subprocess.run(
                ["git", *args], input=stdin, capture_output=True, text=True, env=self.env, check=False,
                timeout=FETCH_TIMEOUT,
            )  # fmt: skip
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise InputError(f"git {_command(args)}: cannot run: {exc}") from None
        if check and proc.returncode != 0:
            raise InputError(f"git {_command(args)} failed in {self.root}: {_first_line(proc.stderr)}")
        return proc

    def git(self, *args: str, stdin: str | None = None) -> str:
        return self._run(["-C", self.root, *args], stdin).stdout

    def present(self, ids: Iterable[str]) -> set[str]:
        """The ids among ``ids`` that name a commit in the repository."""
        wanted = [i for i in dict.fromkeys(ids) if i]
        out = self.git("cat-file", "--batch-check=%(objectname) %(objecttype)", stdin="".join(f"{i}\n" for i in wanted))
        found = {line.split()[0] for line in out.splitlines() if line.endswith(" commit")}
        return {i for i in wanted if i in found}

    def head(self) -> str:
        proc = self._run(["-C", self.root, "rev-parse", "--verify", "-q", "HEAD^{commit}"], check=False)
        if proc.returncode != 0:
            raise InputError(f"{self.root}: HEAD names no commit (an empty repository?)")
        return proc.stdout.strip()

    def commit(self, revision: str) -> str:
        """The commit id ``revision`` names; an ``InputError`` naming it when it names none."""
        proc = self._run(["-C", self.root, "rev-parse", "--verify", "-q", f"{revision}^{{commit}}"], check=False)
        if proc.returncode != 0:
            raise InputError(f"{revision}: no such commit in {self.root}")
        return proc.stdout.strip()

    def file_at(self, commit: str, path: str) -> tuple[str, bytes] | None:
        """The blob id and bytes of ``path`` (from the root) in ``commit``; None when it has no such file."""
        proc = self._run(["-C", self.root, "rev-parse", "--verify", "-q", f"{commit}:{path}"], check=False)
        if proc.returncode != 0:
            return None
        oid = proc.stdout.strip()
        try:
            blob = subprocess.run(
                ["git", "-C", self.root, "cat-file", "blob", oid], capture_output=True, env=self.env, check=True,
                timeout=FETCH_TIMEOUT,
            )  # fmt: skip
        except (OSError, subprocess.SubprocessError) as exc:
            raise InputError(f"{commit[:12]}:{path}: cannot read: {exc}") from None
        return oid, blob.stdout

    def last_change(self, tip: str, hidden: Sequence[str], path: str) -> str:
        """The newest commit of ``tip --not hidden`` that changes ``path`` ("" when none does)."""
        revisions = "".join(f"{r}\n" for r in (tip, *(f"^{h}" for h in hidden)))
        return self.git("rev-list", "-1", "--stdin", "--", path, stdin=revisions).strip()

    def is_shallow(self) -> bool:
        return self.git("rev-parse", "--is-shallow-repository").strip() == "true"

    def shallow_boundary(self) -> set[str]:
        """The commits a shallow clone has without their parents (git's ``shallow`` file)."""
        path = Path(self.root, self.git("rev-parse", "--git-path", "shallow").strip())
        try:
            return set(path.read_text(encoding="ascii").split())
        except (OSError, UnicodeDecodeError):
            return set()

    def rev_list(self, tips: Sequence[str], hidden: Sequence[str]) -> list[str]:
        """``git rev-list tips --not hidden``: the commits of the range, newest first."""
        if not tips:
            return []
        revisions = [*tips, *(f"^{h}" for h in hidden)]
        return self.git("rev-list", "--stdin", stdin="".join(f"{r}\n" for r in revisions)).split()

    def remote_refs(self, remote: str) -> dict[str, str]:
        """The remote's branches as remote-tracking refs (``refs/remotes/<remote>/<branch>``) by branch name;
        symbolic refs (``origin/HEAD``) are left out: they name another ref."""
        prefix = f"refs/remotes/{remote}/"
        out = self.git("for-each-ref", "--format=%(objectname) %(symref) %(refname)", prefix)
        refs: dict[str, str] = {}
        for line in out.splitlines():
            parts = line.split(" ", 2)
            if len(parts) == 3 and not parts[1]:
                refs[parts[2][len(prefix) :]] = parts[0]
        return refs

    def fetch(self, *args: str) -> str:
        """``git fetch --no-tags <args>``; returns "" when it worked, else git's first error line."""
        proc = self._run(["-C", self.root, "fetch", "--no-tags", "-q", *args], check=False)
        return "" if proc.returncode == 0 else _first_line(proc.stderr) or f"exit code {proc.returncode}"


def _command(args: Sequence[str]) -> str:
    """How an error names a git command: its first words, without ``-C <directory>``."""
    words = list(args[2:] if args[:1] == ["-C"] else args)
    return " ".join(words[:3])


def _first_line(text: str) -> str:
    return next((line.strip() for line in text.splitlines() if line.strip()), "")
