"""A bare mirror per repository in the cache folder: ``git clone --mirror`` the first time, ``git fetch`` after.

The folder's name is a hash of the clone URL (plus a readable tail), so two repositories never share one. A new
mirror is cloned beside its place and renamed into it, so a clone cut short leaves nothing half-made behind.
Git's own error is cut to one line with any URL credentials hidden.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
from pathlib import Path

from scanner.httpsettings import shown_url

TIMEOUT = 3600.0  # seconds one clone or fetch may take
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
# Never ask for a password on a terminal: a private repository the environment cannot read is an issue.
GIT_ENV = {"GIT_TERMINAL_PROMPT": "0", "GIT_ASKPASS": "", "SSH_ASKPASS": "", "GIT_SSH_COMMAND": "ssh -oBatchMode=yes"}


class MirrorError(Exception):
    """A clone or fetch that failed: its message is one line, safe to show."""


def mirror_path(cache: Path, url: str) -> Path:
    digest = hashlib.sha256(url.encode("utf-8", "surrogateescape")).hexdigest()[:16]
    tail = _UNSAFE.sub("_", url.rstrip("/").rsplit("/", 1)[-1])[:40]
    return cache / "mirrors" / f"{digest}-{tail}"


def update(cache: Path, url: str) -> tuple[Path, bool]:
    """The repository's mirror, cloned or fetched now; True when it already existed (fetched)."""
    path = mirror_path(cache, url)
    if (path / "HEAD").is_file():
        _git(["git", "--git-dir", str(path), "fetch", "--prune", "--quiet", "origin"], url)
        return path, True
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f"{path.name}.partial-{os.getpid()}")
    shutil.rmtree(partial, ignore_errors=True)
    try:
        _git(["git", "clone", "--mirror", "--quiet", "--", url, str(partial)], url)
        os.replace(partial, path)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return path, False


def _git(argv: list[str], url: str) -> None:
    env = {**os.environ, **GIT_ENV}
    try:
        done = subprocess.run(
            argv, capture_output=True, env=env, timeout=TIMEOUT, stdin=subprocess.DEVNULL, check=False
        )
    except subprocess.TimeoutExpired:
        raise MirrorError(f"{_shown(url)}: git {argv[1 if argv[1] != '--git-dir' else 3]} timed out") from None
    except OSError as exc:
        raise MirrorError(f"cannot run git: {exc.strerror}") from None
    if done.returncode != 0:
        lines = [line for line in done.stderr.decode("utf-8", "replace").splitlines() if line.strip()]
        last = next((line for line in lines if line.startswith("fatal:")), lines[-1] if lines else "failed")
        raise MirrorError(f"{_shown(url)}: {_hide_credentials(last.strip())}")


def _hide_credentials(text: str) -> str:
    return re.sub(r"(\w+://)[^/@\s]+@", r"\1***@", text)


def _shown(url: str) -> str:
    return shown_url(url) if "://" in url else url
