"""What a run learns from its surroundings: the branch, and bypass requests (issue #5).

Bypass channels:

* ``trailer``: a ``Leakstop-Bypass: <reason>`` trailer on the commit that introduced a finding (git modes; read
  by the git source, ``sources.git.trailers``);
* ``env``: ``LEAKSTOP_BYPASS=<reason>`` for one run (CI, or ``git commit`` with ``--staged``, where the commit
  message does not exist yet, like pre-commit's ``SKIP=``);
* ``push-option``: ``git push -o leakstop.bypass=<reason>``, which receive-pack hands a pre-receive hook as
  ``GIT_PUSH_OPTION_COUNT`` / ``GIT_PUSH_OPTION_<n>`` (integrations.md 4.3).

Whether a request applies is the policy's call (``policy.BypassPolicy.refusal``). The hook path reads the branch
from ``.git/HEAD`` directly: no git subprocess, no pygit2.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timezone

from scanner.gitdir import find_repository
from scanner.models import Bypass, clean_reason

ENV_BYPASS = "LEAKSTOP_BYPASS"
PUSH_OPTION = "leakstop.bypass"
# Who pushes, as a server hook sees it: GitLab's user name, GitHub Enterprise's login, GitLab's user or key id,
# else the account the hook runs as (plain git over ssh: the user logged in).
PUSHER_VARIABLES = ("GL_USERNAME", "GITHUB_USER_LOGIN", "GL_ID", "USER", "LOGNAME")
# CI variables naming the branch, most specific first: a pull/merge request's source branch, then the ref built.
BRANCH_VARIABLES = (
    "GITHUB_HEAD_REF",
    "CI_MERGE_REQUEST_SOURCE_BRANCH_NAME",
    "GITHUB_REF_NAME",
    "CI_COMMIT_REF_NAME",
)


def current_branch(repo_path: str, environ: Mapping[str, str], given: str = "") -> str:
    """``given`` (``--branch``), else the CI's variables, else the repository's checked-out branch, else ""."""
    if given:
        return given
    for name in BRANCH_VARIABLES:
        if environ.get(name):
            return environ[name]
    return head_branch(repo_path)


def head_branch(path: str) -> str:
    """The branch ``HEAD`` names in the repository holding ``path``; "" when detached or not in a repository."""
    found = find_repository(path)
    if found is None:
        return ""
    try:
        head = (found.git_dir / "HEAD").read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return ""
    return head.removeprefix("ref: refs/heads/") if head.startswith("ref: refs/heads/") else ""


def _now(now: datetime | None) -> str:
    return (now or datetime.now(timezone.utc)).isoformat(timespec="seconds")


def env_bypass(environ: Mapping[str, str], now: datetime | None = None) -> Bypass | None:
    """``LEAKSTOP_BYPASS`` (set, even empty: an empty reason is a request the policy may refuse)."""
    if ENV_BYPASS not in environ:
        return None
    who = next(
        (environ[n] for n in ("GITLAB_USER_EMAIL", "GITHUB_ACTOR", "GIT_AUTHOR_EMAIL", "USER") if environ.get(n)),
        "",
    )
    return Bypass("env", clean_reason(environ[ENV_BYPASS]), who=who, when=_now(now))


def push_option(environ: Mapping[str, str], wanted: str) -> str | None:
    """The value of the push option ``wanted`` (``name[=value]``, "" without a value) as a pre-receive hook sees
    it (``GIT_PUSH_OPTION_COUNT``, ``GIT_PUSH_OPTION_<n>``); None if absent."""
    try:
        count = int(environ.get("GIT_PUSH_OPTION_COUNT", "0"))
    except ValueError:
        return None
    for index in range(count):
        name, _, value = environ.get(f"GIT_PUSH_OPTION_{index}", "").partition("=")
        if name == wanted:
            return value
    return None


def push_option_bypass(environ: Mapping[str, str], now: datetime | None = None) -> Bypass | None:
    """``leakstop.bypass[=<reason>]`` among a push's options; None if absent."""
    value = push_option(environ, PUSH_OPTION)
    if value is None:
        return None
    return Bypass("push-option", clean_reason(value), who=pusher(environ), when=_now(now))


def pusher(environ: Mapping[str, str]) -> str:
    """Who pushes (``PUSHER_VARIABLES``, the first set); "" when none is."""
    return next((environ[n] for n in PUSHER_VARIABLES if environ.get(n)), "")


def run_bypasses(environ: Mapping[str, str], now: datetime | None = None) -> tuple[Bypass, ...]:
    """The requests that hold for every finding of a run: push option first, then the environment."""
    return tuple(b for b in (push_option_bypass(environ, now), env_bypass(environ, now)) if b is not None)
