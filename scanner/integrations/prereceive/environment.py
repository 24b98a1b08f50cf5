"""What git, GitLab or GitHub Enterprise Server tell a pre-receive hook in its environment (integrations.md 4.1-4.6):
the repository, where the push's objects are (the quarantine), who pushes, and which host runs the hook.

The one place the hook reads those variables; below it they travel as plain values in the request.
"""

from __future__ import annotations

import getpass
import os
from collections.abc import Mapping
from dataclasses import dataclass

from scanner.errors import InputError
from scanner.policy.context import pusher
from scanner.sources.git import alternates


@dataclass(frozen=True)
class HookEnvironment:
    git_dir: str  # absolute
    object_dirs: tuple[str, ...]  # the quarantine first, then git's other alternates
    quarantined: bool  # git named a quarantine (GIT_QUARANTINE_PATH, or GIT_OBJECT_DIRECTORY as GitLab gives it)
    gitlab: bool  # GitLab shows only lines starting with "GL-HOOK-ERR: " to the pusher
    actor: str  # who pushes
    repository: str  # for the audit log: GitLab's project path, GitHub's owner/repo, else the git dir


def unix_user() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no such variable and no passwd entry (a container's arbitrary uid)
        return f"uid {os.getuid()}"


def object_dirs(environ: Mapping[str, str]) -> tuple[str, ...]:
    """The push's quarantine (``GIT_QUARANTINE_PATH``, else ``GIT_OBJECT_DIRECTORY``: GitLab does not list the
    first) and ``GIT_ALTERNATE_OBJECT_DIRECTORIES``, absolute, each once."""
    found: list[str] = []
    quarantine = environ.get("GIT_QUARANTINE_PATH") or environ.get("GIT_OBJECT_DIRECTORY")
    if quarantine:
        found.append(quarantine)
    try:
        found.extend(alternates.split(environ.get("GIT_ALTERNATE_OBJECT_DIRECTORIES", "")))
    except ValueError as exc:
        raise InputError(f"GIT_ALTERNATE_OBJECT_DIRECTORIES: cannot read it: {exc}") from None
    return tuple(dict.fromkeys(os.path.abspath(d) for d in found))


def hook_environment(environ: Mapping[str, str]) -> HookEnvironment:
    git_dir = os.path.abspath(environ.get("GIT_DIR") or ".")  # git runs the hook in the repository
    return HookEnvironment(
        git_dir=git_dir,
        object_dirs=object_dirs(environ),
        quarantined=bool(environ.get("GIT_QUARANTINE_PATH") or environ.get("GIT_OBJECT_DIRECTORY")),
        gitlab=bool(environ.get("GL_ID") or environ.get("GL_PROTOCOL")),
        actor=pusher(environ) or unix_user(),
        repository=environ.get("GL_PROJECT_PATH") or environ.get("GITHUB_REPO_NAME") or git_dir,
    )
