"""Which repositories an org scan covers: GitHub orgs and users, GitLab groups (subgroups included), or a list.

Listing goes through the REST APIs over ``scanner.transport``: pages by ``Link: rel="next"``, at most
``MAX_PAGES``, never the same page twice; a rate limit (429, or 403 with ``X-RateLimit-Remaining: 0``) waits
for ``Retry-After`` / ``X-RateLimit-Reset`` up to ``MAX_WAIT`` seconds, else ends the run with one line. Forks
and archived repositories are left out unless asked for. Tokens and base URLs are given by the edge.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from scanner.errors import InputError
from scanner.paging import next_page
from scanner.safetext import printable
from scanner.transport import HttpClient, HttpError, Response

MAX_PAGES = 100  # of one listing (10,000 repositories at 100 a page)
MAX_WAIT = 120.0  # seconds a rate limit may make the listing wait, in all
MAX_PAGE_SIZE = 16 << 20
ANSWER_BYTES = 64 << 10  # of a refusal's body read for its message
ANSWER_CHARS = 160  # of that message shown
GITHUB_API = "https://api.github.com"
GITLAB_API = "https://gitlab.com/api/v4"


@dataclass(frozen=True)
class Repo:
    """One repository to scan: its name in reports and the store, and where to clone it from."""

    name: str
    url: str
    # The variable whose token a worker sends when cloning over HTTPS from the listing's platform ("" = none). The
    # name, not the token, travels with the task: each worker reads its own environment (``mirror.auth_env``).
    auth: str = ""


@dataclass(frozen=True)
class Platform:
    """One platform's API as the edge read it from the environment."""

    base: str
    token: str  # never shown
    token_variable: str  # GITHUB_TOKEN or GITLAB_TOKEN, for messages

    def headers(self) -> dict[str, str]:
        if not self.token:
            return {}
        if self.token_variable == "GITLAB_TOKEN":
            return {"PRIVATE-TOKEN": self.token}
        return {"Authorization": f"Bearer {self.token}", "Accept": "application/vnd.github+json"}


@dataclass(frozen=True)
class Filters:
    include_forks: bool = False
    include_archived: bool = False


def github_platform(environ: Mapping[str, str]) -> Platform:
    base = (environ.get("GITHUB_API_URL") or GITHUB_API).rstrip("/")
    return Platform(base, environ.get("GITHUB_TOKEN", ""), "GITHUB_TOKEN")


def gitlab_platform(environ: Mapping[str, str]) -> Platform:
    base = (environ.get("CI_API_V4_URL") or GITLAB_API).rstrip("/")
    return Platform(base, environ.get("GITLAB_TOKEN", ""), "GITLAB_TOKEN")


def github_repos(
    client: HttpClient, platform: Platform, owner: str, user: bool, filters: Filters, sleep: Callable[[float], None]
) -> list[Repo]:
    kind = "users" if user else "orgs"
    url = f"{platform.base}/{kind}/{quote(owner, safe='')}/repos?per_page=100&type={'owner' if user else 'all'}"
    label = f"github {'user' if user else 'org'} {owner}"
    repos = []
    for item in _pages(client, platform, url, label, sleep):
        if not isinstance(item, dict) or not isinstance(item.get("clone_url"), str):
            raise InputError(f"{label}: the listing is not a list of repositories")
        if (item.get("fork") and not filters.include_forks) or (item.get("archived") and not filters.include_archived):
            continue
        repos.append(Repo(str(item.get("full_name") or item["clone_url"]), item["clone_url"], platform.token_variable))
    return repos


def gitlab_repos(
    client: HttpClient, platform: Platform, group: str, filters: Filters, sleep: Callable[[float], None]
) -> list[Repo]:
    url = f"{platform.base}/groups/{quote(group, safe='')}/projects?include_subgroups=true&per_page=100"
    if not filters.include_archived:
        url += "&archived=false"
    label = f"gitlab group {group}"
    repos = []
    for item in _pages(client, platform, url, label, sleep):
        if not isinstance(item, dict) or not isinstance(item.get("http_url_to_repo"), str):
            raise InputError(f"{label}: the listing is not a list of projects")
        forked = "forked_from_project" in item
        if (forked and not filters.include_forks) or (item.get("archived") and not filters.include_archived):
            continue
        name = str(item.get("path_with_namespace") or item["http_url_to_repo"])
        repos.append(Repo(name, item["http_url_to_repo"], platform.token_variable))
    return repos


def repos_file(path: str) -> list[Repo]:
    """``--repos FILE``: clone URLs or local paths, one a line; blank lines and ``#`` comments skipped."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read the repository list: {getattr(exc, 'strerror', None) or exc}") from None
    repos = []
    for number, line in enumerate(lines, 1):
        entry = line.strip()
        if not entry or entry.startswith("#"):
            continue
        if any(c.isspace() for c in entry):
            raise InputError(f"{path}:{number}: one clone URL or path a line, got a line with spaces")
        url = entry if "://" in entry or entry.startswith("git@") else str(Path(entry).expanduser().resolve())
        repos.append(Repo(repo_name(entry), url))
    return repos


def repo_name(entry: str) -> str:
    """``https://host/group/sub/name.git`` → ``group/sub/name``; a path → its last component."""
    tail = entry.rstrip("/")
    if tail.endswith(".git"):
        tail = tail[:-4]
    if "://" in tail:
        return tail.split("://", 1)[1].split("/", 1)[-1] or tail
    if tail.startswith("git@") and ":" in tail:
        return tail.split(":", 1)[1]
    return Path(tail).name or tail


def unique(repos: list[Repo]) -> list[Repo]:
    """Each clone URL once; a name given twice by different URLs gets a ``~2`` suffix."""
    seen_urls: set[str] = set()
    names: dict[str, int] = {}
    out = []
    for repo in repos:
        if repo.url in seen_urls:
            continue
        seen_urls.add(repo.url)
        count = names.get(repo.name, 0) + 1
        names[repo.name] = count
        out.append(repo if count == 1 else Repo(f"{repo.name}~{count}", repo.url, repo.auth))
    return out


def _pages(
    client: HttpClient, platform: Platform, url: str, label: str, sleep: Callable[[float], None]
) -> Iterator[Any]:
    seen: set[str] = set()
    waited = [0.0]
    next_url: str | None = url
    while next_url:
        if next_url in seen or len(seen) >= MAX_PAGES:
            why = "repeats a page" if next_url in seen else f"has more than {MAX_PAGES} pages"
            raise InputError(f"{label}: the API's listing {why}: stopped")
        seen.add(next_url)
        with _get(client, platform, next_url, label, sleep, waited) as response:
            try:
                data = response.json()
            except (ValueError, HttpError):
                raise InputError(f"{label}: the API's answer is not JSON") from None
            next_url = next_page(response, next_url)
        if not isinstance(data, list):
            raise InputError(f"{label}: the API's answer is not a list")
        yield from data
        if not data:
            return


def _get(
    client: HttpClient,
    platform: Platform,
    url: str,
    label: str,
    sleep: Callable[[float], None],
    waited: list[float],
) -> Response:
    while True:
        try:
            response = client.get(url, headers=platform.headers(), max_size=MAX_PAGE_SIZE)
        except HttpError as exc:
            raise InputError(f"{label}: cannot list through {platform.base}: {exc.reason}") from None
        if 200 <= response.status < 300:
            return response
        wait = _rate_limit_wait(response)
        if wait is None:
            answer = _answer(response)
            response.close()
            raise _refused(response.status, platform, label, answer)
        response.close()
        if waited[0] + wait > MAX_WAIT:
            raise InputError(f"{label}: rate limited (HTTP {response.status}) for longer than {MAX_WAIT:.0f} s")
        waited[0] += wait
        sleep(wait)


def _rate_limit_wait(response: Response) -> float | None:
    """Seconds to wait when the answer is a rate limit (429; 403 with no requests remaining), else None."""
    if response.status not in (403, 429):
        return None
    retry_after = response.header("retry-after").strip()
    if retry_after.isdigit():
        return float(retry_after)
    if response.header("x-ratelimit-remaining").strip() == "0" or response.status == 429:
        reset = response.header("x-ratelimit-reset").strip()
        return max(0.0, float(reset) - time.time()) + 1 if reset.isdigit() else 60.0
    return None


def _answer(response: Response) -> str:
    """The API's own words on a refusal (GitHub's and GitLab's ``message``, or ``error``), cut to one short line;
    "" when the body says nothing readable."""
    data = b""
    try:
        while len(data) < ANSWER_BYTES and (chunk := response.read_some(ANSWER_BYTES - len(data))):
            data += chunk
        body = json.loads(data)
    except (ValueError, HttpError):
        return ""
    said = body.get("message") or body.get("error") if isinstance(body, dict) else None
    if not isinstance(said, str) or not said.strip():
        return ""
    text = printable(" ".join(said.split()))
    return text if len(text) <= ANSWER_CHARS else text[: ANSWER_CHARS - 1] + "…"


def _refused(status: int, platform: Platform, label: str, answer: str = "") -> InputError:
    said = f' (the API said: "{answer}")' if answer else ""
    if status in (401, 403):
        hint = "was not accepted or lacks access" if platform.token else "is not set"
        return InputError(f"{label}: access denied (HTTP {status}): {platform.token_variable} {hint}{said}")
    if status == 404:
        return InputError(
            f"{label}: not found (HTTP 404): no such name, or {platform.token_variable} cannot see it{said}"
        )
    return InputError(f"{label}: unexpected HTTP {status} from {platform.base}")
