"""GitHub Actions run logs through the REST API: list the repository's workflow runs (newest first, ``created``
for a date), download each run's logs archive (a zip, one file per step under a folder per job, and one whole
log per job at the top), and yield each step's log in line-aligned chunks.

The archive comes from a redirect to storage on another host: the transport sends the token only to the API's
origin. It is spooled (memory up to 16 MiB, then a temporary file, at most ``MAX_ARCHIVE`` bytes) because a
zip's directory is at its end; members are then read as streams.
"""

from __future__ import annotations

import re
import tempfile
import zipfile
import zlib
from collections.abc import Iterator, Mapping
from typing import IO, Any
from urllib.parse import quote

from scanner.models import Chunk
from scanner.sources.base import Skips
from scanner.sources.cilogs.common import Api, Missing, get, log_chunks, pages
from scanner.transport import HttpClient, HttpError, ResponseTooLarge

DEFAULT_API = "https://api.github.com"
MAX_ARCHIVE = 1 << 30
_JOB_LOG = re.compile(r"^\d+_(.+)\.txt$")


def github_api(label: str, environ: Mapping[str, str]) -> Api:
    token = environ.get("GITHUB_TOKEN", "")
    headers = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    base = (environ.get("GITHUB_API_URL") or DEFAULT_API).rstrip("/")
    return Api(label, base, headers, "GITHUB_TOKEN", bool(token))


def runs(client: HttpClient, api: Api, repo: str, limit: int, since: str, skips: Skips) -> Iterator[dict[str, Any]]:
    url = f"{api.base}/repos/{quote(repo)}/actions/runs?per_page={min(limit, 100) if limit else 100}"
    if since:
        url += "&created=" + quote(f">={since}")
    count = 0
    for run in pages(client, api, url, "workflow runs", skips, _workflow_runs):
        if isinstance(run, dict) and isinstance(run.get("id"), int):
            yield run
            count += 1
            if limit and count >= limit:
                return


def _workflow_runs(data: Any) -> list[Any]:
    found = data.get("workflow_runs") if isinstance(data, dict) else None
    return found if isinstance(found, list) else []


def run_chunks(client: HttpClient, api: Api, repo: str, run: dict[str, Any], skips: Skips) -> Iterator[Chunk]:
    name = str(run.get("name") or run.get("display_title") or "run")
    where = f"{api.label}!run {run['id']} ({name} #{run.get('run_number', '?')})"
    archive = _download(client, api, f"{api.base}/repos/{quote(repo)}/actions/runs/{run['id']}/logs", where, skips)
    if archive is None:
        return
    with archive:
        try:
            zf = zipfile.ZipFile(archive)
        except (zipfile.BadZipFile, OSError) as exc:
            skips.skip(where, "bad-archive", f"logs archive truncated or not a zip: {exc}")
            return
        with zf:
            yield from _members(zf, where, skips)


def _members(zf: zipfile.ZipFile, where: str, skips: Skips) -> Iterator[Chunk]:
    names = [info.filename for info in zf.infolist() if not info.is_dir()]
    # Jobs whose folder holds step logs (``build/2_Run make.txt``); some archives hold only ``system.txt`` there.
    stepped = {name.split("/", 1)[0] for name in names if "/" in name and _JOB_LOG.match(name.split("/", 1)[1])}
    for name in names:
        job = _JOB_LOG.match(name)
        if job and job.group(1) in stepped:
            continue  # a job's whole log: its steps' logs hold the same lines
        try:
            with zf.open(name) as member:
                yield from log_chunks(member, f"{where}!{name}")
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError, RuntimeError) as exc:
            skips.skip(f"{where}!{name}", "bad-archive", f"cannot read this log in the archive: {exc}")


def _download(client: HttpClient, api: Api, url: str, where: str, skips: Skips) -> IO[bytes] | None:
    """The run's logs archive, spooled; None (and an issue) when it is gone or cut short."""
    spool = tempfile.SpooledTemporaryFile(max_size=16 << 20)  # noqa: SIM115 - returned open
    try:
        with get(client, api, url, "run logs", max_size=MAX_ARCHIVE) as response:
            for data in response.iter_bytes():
                spool.write(data)
    except ResponseTooLarge:
        skips.skip(where, "too-large", f"logs archive over {MAX_ARCHIVE} bytes: not scanned")
    except HttpError as exc:  # the connection broke off mid-body
        skips.skip(where, "bad-archive", f"logs archive cut short: {exc.reason}")
    except Missing as exc:
        skips.skip(where, "missing-logs", str(exc).removeprefix(f"{api.label}: "))
    else:
        spool.seek(0)
        return spool
    spool.close()
    return None
