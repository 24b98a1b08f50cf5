"""A real git server for pre-receive tests: a bare repository with ``hooks/pre-receive`` (this checkout's script)
installed, pushed to with real ``git push`` over a local path, so git's own quarantine is in play."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gitrepo import Repo
from helpers import config_text

ROOT = Path(__file__).resolve().parents[1]
HOOK_SCRIPT = ROOT / "hooks" / "pre-receive"
LEAKSTOP = Path(sys.executable).with_name("leakstop")


@dataclass
class Server:
    """``path`` is the bare repository; ``config`` its ``leakstop.yaml``; pushes go through ``push``."""

    path: Path
    repo: Repo

    @property
    def config(self) -> Path:
        return self.path / "leakstop.yaml"

    @property
    def audit_log(self) -> Path:
        return self.path / "leakstop" / "audit.jsonl"

    def configure(self, **extra: Any) -> None:
        """The server's config: the github-pat rule only, plus ``extra`` top-level keys."""
        self.config.write_text(config_text(**extra), encoding="utf-8")

    def audit(self) -> list[dict[str, Any]]:
        if not self.audit_log.exists():
            return []
        return [json.loads(line) for line in self.audit_log.read_text().splitlines()]

    def has(self, oid: str) -> bool:
        proc = subprocess.run(["git", "cat-file", "-e", oid], cwd=self.path, capture_output=True, check=False)
        return proc.returncode == 0

    def rev(self, ref: str) -> str:
        return self.repo.git("rev-parse", "--verify", "-q", ref, check=False)


def make_server(path: Path, *init_args: str) -> Server:
    repo = Repo.init(path, "--bare", *init_args)
    repo.git("config", "receive.advertisePushOptions", "true")
    hooks = path / "hooks"
    hooks.mkdir(exist_ok=True)
    shutil.copy(HOOK_SCRIPT, hooks / "pre-receive")
    server = Server(path, repo)
    server.configure()
    return server


def seeded_clone(server: Server, path: Path) -> Repo:
    """A clone whose main branch (one clean commit) the server has."""
    work = server.repo.clone(path)
    work.git("config", "commit.gpgsign", "false")
    work.commit("initial", {"README.md": "# app\n"})
    proc = push(work, "origin", "HEAD:refs/heads/main")
    assert proc.returncode == 0, proc.stderr
    return work


def push(work: Repo, *args: str, env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``git push`` from ``work``; the hook finds this checkout's leakstop through ``LEAKSTOP``."""
    full_env = {**os.environ, "LEAKSTOP": str(LEAKSTOP), **(env or {})}
    return subprocess.run(
        ["git", "push", *args],
        cwd=work.path,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        env=full_env,
        check=False,
    )


def remote_lines(proc: subprocess.CompletedProcess[str]) -> list[str]:
    """What the hook said, as the pusher sees it (``remote: `` and git's padding taken off)."""
    return [line[len("remote: ") :].rstrip() for line in proc.stderr.splitlines() if line.startswith("remote: ")]
