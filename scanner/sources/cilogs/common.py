"""What the CI log sources share: API calls with one-line errors naming the token's variable, bounded paging,
and a log cut into line-aligned chunks (a job log can be far larger than one chunk should be)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import IO, Any

from scanner.errors import InputError
from scanner.models import Chunk, FileOrigin
from scanner.paging import next_page
from scanner.sources.base import Skips
from scanner.transport import HttpClient, HttpError, NetworkError, Response, ResponseTooLarge

PIECE = 4 << 20  # bytes of log per chunk, cut at a line end
MAX_PAGES = 50  # of a listing; an API that keeps answering "next" is stopped here, with an issue
MAX_LISTING = 16 << 20  # bytes of one listing page


class Missing(InputError):
    """404 or 410: what was asked for is not there (a run whose logs expired, a project that does not exist)."""


@dataclass(frozen=True)
class Api:
    """One platform's API: base URL, the headers every call sends (the token among them, never shown), and
    the variable the token came from, for messages."""

    label: str  # github:OWNER/REPO, as the user wrote it
    base: str
    headers: Mapping[str, str]
    token_variable: str
    token_set: bool

    def refused(self, status: int) -> InputError:
        hint = (
            f"{self.token_variable} was not accepted or lacks access"
            if self.token_set
            else f"{self.token_variable} is not set"
        )
        return InputError(f"{self.label}: access denied (HTTP {status}): {hint}")


def get(client: HttpClient, api: Api, url: str, what: str, max_size: int = 0) -> Response:
    """GET an API URL; a failure is one line naming ``what`` (401/403 name the token's variable)."""
    try:
        response = client.get(url, headers=dict(api.headers), max_size=max_size or MAX_LISTING)
    except NetworkError as exc:
        raise InputError(f"{api.label}: cannot reach {api.base}: {exc.reason}") from None
    except ResponseTooLarge:
        raise  # the caller knows what is too large: a listing is an error, an archive an issue
    except HttpError as exc:
        raise InputError(f"{api.label}: {what}: {exc.reason}") from None
    if response.status in (401, 403):
        response.close()
        raise api.refused(response.status)
    if response.status in (404, 410):
        response.close()
        raise Missing(
            f"{api.label}: {what}: not found (HTTP {response.status}):"
            f" gone, never there, or {api.token_variable} cannot see it"
        )
    if not 200 <= response.status < 300:
        response.close()
        raise InputError(f"{api.label}: {what}: unexpected HTTP {response.status}")
    return response


def pages(
    client: HttpClient, api: Api, url: str, what: str, skips: Skips, items: Callable[[Any], list[Any]]
) -> Iterator[Any]:
    """Every item of a paged listing, following ``Link: rel=next`` (GitHub, GitLab) or ``X-Next-Page`` (GitLab);
    at most ``MAX_PAGES`` pages, and never the same page twice."""
    seen: set[str] = set()
    next_url: str | None = url
    while next_url:
        if len(seen) >= MAX_PAGES or next_url in seen:
            why = "repeats a page" if next_url in seen else f"has more than {MAX_PAGES} pages"
            skips.skip(api.label, "incomplete-listing", f"{what}: the listing {why}; stopped there")
            return
        seen.add(next_url)
        try:
            with get(client, api, next_url, what) as response:
                data = response.json()
                next_url = next_page(response, next_url)
        except ValueError:
            raise InputError(f"{api.label}: {what}: the answer is not JSON") from None
        except HttpError as exc:  # over the cap, or cut short
            raise InputError(f"{api.label}: {what}: {exc.reason}") from None
        found = items(data)
        yield from found
        if not found:
            return


def log_chunks(stream: IO[bytes], path: str) -> Iterator[Chunk]:
    """A log as chunks of about ``PIECE`` bytes cut after a newline, each knowing its first line's number."""
    line = 1
    rest = b""
    while True:
        data = stream.read(PIECE)
        if not data:
            break
        data = rest + data
        cut = data.rfind(b"\n") + 1
        if not cut and len(data) < 4 * PIECE:
            rest = data  # a very long line: wait for its end, up to a bound
            continue
        cut = cut or len(data)
        piece, rest = data[:cut], data[cut:]
        yield Chunk(piece, FileOrigin(path), first_line=line)
        line += piece.count(b"\n")
    if rest:
        yield Chunk(rest, FileOrigin(path), first_line=line)
