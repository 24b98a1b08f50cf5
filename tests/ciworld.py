"""A CI run for tests: a bare "origin" on disk, a developer's clone that pushes to it, and the runner's checkout
(full or shallow, fetched through a file:// URL as actions/checkout and the GitLab runner fetch), with the
environment and event payload GitHub Actions or GitLab CI would give the job.

Payload templates are in ``tests/data/ci/github``; their ``__NAME__`` placeholders are filled with the commit ids
of the repository the test built.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
from gitrepo import EPOCH, Repo, isolate_git

PAYLOADS = Path(__file__).resolve().parent / "data" / "ci" / "github"
CI_PREFIXES = ("GITHUB_", "GITLAB_", "CI_", "RUNNER_")


def fill(value: Any, values: Mapping[str, str]) -> Any:
    """``value`` with every ``__NAME__`` in its strings replaced by ``values[NAME]``."""
    if isinstance(value, dict):
        return {k: fill(v, values) for k, v in value.items()}
    if isinstance(value, list):
        return [fill(v, values) for v in value]
    if isinstance(value, str):
        for name, replacement in values.items():
            value = value.replace(f"__{name}__", replacement)
    return value


class World:
    """origin.git, the developer's repository ``dev`` (branch main, remote origin) and runner checkouts."""

    def __init__(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        isolate_git(monkeypatch, tmp_path / "home")
        for name in list(os.environ):
            if name.startswith(CI_PREFIXES):
                monkeypatch.delenv(name)
        self.tmp = tmp_path
        self.monkeypatch = monkeypatch
        self.clock = [EPOCH]  # one timeline for every repository of the test
        self.origin = Repo.init(tmp_path / "origin.git", "--bare", clock=self.clock)
        self.dev = Repo.init(tmp_path / "dev", clock=self.clock)
        self.dev.git("remote", "add", "origin", str(self.origin.path))
        self.url = f"file://{self.origin.path}"
        self.runs = 0

    def commit(self, message: str, files: Mapping[str, str] | None = None) -> str:
        return self.dev.commit(message, files)

    def push(self, *refspecs: str, force: bool = False) -> None:
        self.dev.git("push", "-q", *(["--force"] if force else []), "origin", *refspecs)

    def checkout(
        self, commit: str, refspecs: Iterable[str] = ("+refs/heads/*:refs/remotes/origin/*",), depth: int = 0
    ) -> Repo:
        """The runner's checkout: a new repository fetching ``refspecs`` from origin (``depth`` commits deep, 0 =
        all), then ``commit`` checked out detached, as actions/checkout and the GitLab runner do."""
        self.runs += 1
        runner = Repo.init(self.tmp / f"runner-{self.runs}", clock=self.clock)
        runner.git("remote", "add", "origin", self.url)
        depth_args = [f"--depth={depth}"] if depth else []
        runner.git("fetch", "-q", "--no-tags", *depth_args, "origin", *refspecs)
        runner.git("checkout", "-q", "--detach", commit)
        return runner

    def payload(self, name: str, values: Mapping[str, str], commits: Sequence[str] | int | None = None) -> Path:
        """The event file from ``tests/data/ci/github/<name>.json`` with ``values`` filled in. ``commits``: a push's
        list of commit ids (entries shaped like the template's first), or a pull request's commit count."""
        doc = fill(json.loads((PAYLOADS / f"{name}.json").read_text(encoding="utf-8")), values)
        if isinstance(commits, int):
            doc["pull_request"]["commits"] = commits
        elif commits is not None:
            shape = doc["commits"][0]
            doc["commits"] = [{**shape, "id": c, "url": shape["url"].rsplit("/", 1)[0] + "/" + c} for c in commits]
        path = self.tmp / f"event-{self.runs}-{name}.json"
        path.write_text(json.dumps(doc, indent=2), encoding="utf-8")
        return path

    def github(self, runner: Repo, event: str, payload: Path, **extra: str) -> dict[str, str]:
        """The variables GitHub Actions sets in a step (integrations.md 2), for ``runner``'s checkout."""
        files = self.tmp / f"step-{self.runs}"
        files.mkdir(exist_ok=True)
        env = {
            "CI": "true",
            "GITHUB_ACTIONS": "true",
            "GITHUB_EVENT_NAME": event,
            "GITHUB_EVENT_PATH": str(payload),
            "GITHUB_SHA": runner.head(),
            "GITHUB_WORKSPACE": str(runner.path),
            "GITHUB_REPOSITORY": "octo-org/demo",
            "GITHUB_ACTOR": "octocat",
            "GITHUB_OUTPUT": str(files / "output"),
            "GITHUB_STEP_SUMMARY": str(files / "summary"),
            "RUNNER_TEMP": str(files),
        }
        for name in ("output", "summary"):
            (files / name).touch()
        return {**env, **extra}

    def gitlab(self, runner: Repo, source: str, **variables: str) -> dict[str, str]:
        """The predefined variables of a GitLab CI job (integrations.md 3.3) for ``runner``'s checkout."""
        return {
            "CI": "true",
            "GITLAB_CI": "true",
            "CI_PIPELINE_SOURCE": source,
            "CI_COMMIT_SHA": runner.head(),
            "CI_PROJECT_DIR": str(runner.path),
            "CI_DEFAULT_BRANCH": "main",
            "CI_JOB_ID": "4242",
            **variables,
        }

    def enter(self, runner: Repo, env: Mapping[str, str]) -> None:
        """Run as the job does: in the checkout, with the job's variables."""
        self.monkeypatch.chdir(runner.path)
        for name, value in env.items():
            self.monkeypatch.setenv(name, value)


def findings(report: str) -> list[tuple[str, str, str]]:
    """(path, commit, redacted secret) of each finding of a JSON report, in order."""
    doc = json.loads(report)
    return [(f["location"]["path"], f["location"].get("commit", ""), f["secret_redacted"]) for f in doc["findings"]]
