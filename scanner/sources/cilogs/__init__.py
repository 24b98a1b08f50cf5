"""CI job logs as a source (``leakstop scan --ci-logs github:OWNER/REPO | gitlab:GROUP/PROJECT``): the last N
runs (or those since a date) through the platform's REST API, each step's or job's log scanned as text. A
finding's path names the run or job and the step (``github:o/r!run 42 (CI #7)!build/3_Run tests.txt``), its
line the line in that log.

The token comes from the environment only (``GITHUB_TOKEN``, ``GITLAB_TOKEN``), as do the API base URLs
(``GITHUB_API_URL``, ``CI_API_V4_URL``): this is a credential lookup, one of the modules the environment may reach.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING

from scanner.errors import UsageError
from scanner.httpsettings import HttpSettings
from scanner.models import Chunk, Target
from scanner.sources.base import PlainSource, Skips

if TYPE_CHECKING:
    from scanner.transport import HttpClient

PLATFORMS = ("github", "gitlab")


def parse_spec(spec: str) -> tuple[str, str]:
    """``github:OWNER/REPO`` or ``gitlab:GROUP[/SUBGROUP…]/PROJECT`` → (platform, project path)."""
    platform, _, project = spec.partition(":")
    parts = project.strip("/").split("/")
    if platform not in PLATFORMS or len(parts) < 2 or not all(parts):
        raise UsageError(f"--ci-logs {spec}: expected github:OWNER/REPO or gitlab:GROUP/PROJECT")
    if platform == "github" and len(parts) != 2:
        raise UsageError(f"--ci-logs {spec}: a GitHub repository is OWNER/REPO")
    return platform, "/".join(parts)


class CiLogSource(PlainSource):
    target: Target = "files"

    def __init__(
        self,
        spec: str,
        runs: int = 10,
        since: str = "",
        http: HttpSettings | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.platform, self.project = parse_spec(spec)
        self.spec = spec
        self.runs = runs
        self.since = since
        self.http = http or HttpSettings()
        self.environ = os.environ if environ is None else environ
        self._detail = ""

    def detail(self) -> str:
        return self._detail

    def items(self, skips: Skips) -> Iterator[Chunk]:
        from scanner.transport import HttpClient

        with HttpClient(self.http) as client:
            counted: list[int] = []
            if self.platform == "github":
                yield from self._github(client, skips, counted)
            else:
                yield from self._gitlab(client, skips, counted)
        noun = "run" if self.platform == "github" else "pipeline"
        self._detail = f"CI logs {self.spec} ({len(counted)} {noun}{'' if len(counted) == 1 else 's'})"

    def _github(self, client: HttpClient, skips: Skips, counted: list[int]) -> Iterator[Chunk]:
        from scanner.sources.cilogs import github

        api = github.github_api(self.spec, self.environ)
        for run in github.runs(client, api, self.project, self.runs, self.since, skips):
            counted.append(run["id"])
            yield from github.run_chunks(client, api, self.project, run, skips)

    def _gitlab(self, client: HttpClient, skips: Skips, counted: list[int]) -> Iterator[Chunk]:
        from scanner.sources.cilogs import gitlab

        api = gitlab.gitlab_api(self.spec, self.environ)
        for pipeline in gitlab.pipelines(client, api, self.project, self.runs, self.since, skips):
            counted.append(pipeline["id"])
            yield from gitlab.pipeline_chunks(client, api, self.project, pipeline, skips)
