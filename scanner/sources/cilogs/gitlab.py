"""GitLab CI job logs through the REST API (v4): the project's pipelines (newest first, ``updated_after`` for a
date), each pipeline's jobs, and each job's trace, streamed in line-aligned chunks. The token goes in the
``PRIVATE-TOKEN`` header, which the transport sends to the API's origin only."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import quote

from scanner.models import Chunk
from scanner.sources.base import Skips
from scanner.sources.cilogs.common import Api, Missing, get, log_chunks, pages
from scanner.transport import HttpClient, HttpError, ResponseTooLarge

DEFAULT_API = "https://gitlab.com/api/v4"
MAX_TRACE = 1 << 30


def gitlab_api(label: str, environ: Mapping[str, str]) -> Api:
    token = environ.get("GITLAB_TOKEN", "")
    headers = {"PRIVATE-TOKEN": token} if token else {}
    base = (environ.get("CI_API_V4_URL") or DEFAULT_API).rstrip("/")
    return Api(label, base, headers, "GITLAB_TOKEN", bool(token))


def pipelines(
    client: HttpClient, api: Api, project: str, limit: int, since: str, skips: Skips
) -> Iterator[dict[str, Any]]:
    url = f"{api.base}/projects/{quote(project, safe='')}/pipelines?per_page={min(limit, 100) if limit else 100}"
    if since:
        url += "&updated_after=" + quote(since)
    count = 0
    for pipeline in pages(client, api, url, "pipelines", skips, _listed):
        if isinstance(pipeline, dict) and isinstance(pipeline.get("id"), int):
            yield pipeline
            count += 1
            if limit and count >= limit:
                return


def _listed(data: Any) -> list[Any]:
    return data if isinstance(data, list) else []


def pipeline_chunks(
    client: HttpClient, api: Api, project: str, pipeline: dict[str, Any], skips: Skips
) -> Iterator[Chunk]:
    encoded = quote(project, safe="")
    url = f"{api.base}/projects/{encoded}/pipelines/{pipeline['id']}/jobs?per_page=100"
    for job in pages(client, api, url, f"jobs of pipeline {pipeline['id']}", skips, _listed):
        if not isinstance(job, dict) or not isinstance(job.get("id"), int):
            continue
        where = (
            f"{api.label}!pipeline {pipeline['id']}!job {job['id']} ({job.get('stage', '?')}: {job.get('name', '?')})"
        )
        yield from _trace(client, api, f"{api.base}/projects/{encoded}/jobs/{job['id']}/trace", where, skips)


def _trace(client: HttpClient, api: Api, url: str, where: str, skips: Skips) -> Iterator[Chunk]:
    try:
        with get(client, api, url, "job trace", max_size=MAX_TRACE) as response:
            yield from log_chunks(response.open(), where)
    except Missing as exc:
        skips.skip(where, "missing-logs", str(exc).removeprefix(f"{api.label}: "))
    except ResponseTooLarge:
        skips.skip(where, "too-large", f"trace over {MAX_TRACE} bytes: not scanned")
    except (HttpError, OSError) as exc:  # the body as a file: a broken download or the cap is an OSError
        skips.skip(where, "bad-archive", f"trace cut short, scanned up to there: {exc}")
