"""Terraform's HTTP backend (and GitLab-managed state, which is one), and the GET every HTTP backend shares:
through :mod:`scanner.transport`, credentials sent only to their own origin, every failure one line."""

from __future__ import annotations

import base64
import os
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

from scanner.errors import InputError, UsageError
from scanner.httpsettings import origin, shown_url
from scanner.sources.tfremote.common import RemoteOptions, StateDocument
from scanner.transport import HttpClient, HttpError, NetworkError, ResponseTooLarge, TooManyRedirects


def display_url(url: str) -> str:
    """A URL fit for a message or a report: no user info, no query (a query may hold a token), no fragment."""
    return shown_url(url)


@dataclass(frozen=True)
class Credentials:
    """Headers for one origin, and what to say when the backend refuses them (never the values)."""

    headers: dict[str, str]
    origin: tuple[str, str, int]
    refused: str


def http_get(
    client: HttpClient,
    url: str,
    shown: str,
    credentials: Credentials,
    options: RemoteOptions,
    not_found: str,
    accept: str = "",
) -> bytes:
    """GET ``url``; 2xx → the body (at most ``options.max_bytes``). ``shown`` names the request in errors. The
    credentials go only to their own origin (a download URL elsewhere gets none), redirects included."""
    headers = {"Accept": accept} if accept else {}
    if origin(url) == credentials.origin:
        headers.update(credentials.headers)
    try:
        with client.get(url, headers=headers, max_size=options.max_bytes) as response:
            if not 200 <= response.status < 300:
                raise status_error(shown, response.status, credentials.refused, not_found)
            return response.read()
    except ResponseTooLarge:
        raise InputError(f"{shown}: state over the {options.max_bytes}-byte cap") from None
    except TooManyRedirects:
        raise InputError(f"{shown}: more than {client.settings.max_redirects} redirects") from None
    except NetworkError as exc:
        raise InputError(f"{shown}: cannot reach the state backend: {exc.reason}") from None
    except HttpError as exc:  # a redirect to something that is not http(s)
        raise InputError(f"{shown}: redirected to {exc.url}: {exc.reason}") from None


def status_error(shown: str, status: int, refused: str, not_found: str) -> InputError:
    if status in (401, 403):
        return InputError(f"{shown}: access denied (HTTP {status}): {refused}")
    if status == 404:
        return InputError(f"{shown}: {not_found} (HTTP 404)")
    return InputError(f"{shown}: unexpected HTTP {status} from the state backend")


class HttpBackend:
    listing = False

    def __init__(self, url: str, options: RemoteOptions) -> None:
        parts = urlsplit(url)
        self.shown = display_url(url)
        if parts.username is not None or parts.password is not None:
            raise UsageError(f"{self.shown}: credentials in the URL: set TF_HTTP_USERNAME and TF_HTTP_PASSWORD instead")
        if not parts.hostname:
            raise UsageError(f"{url}: no host in the URL")
        self.url = url
        self.options = options

    def documents(self) -> Iterator[StateDocument]:
        user = os.environ.get("TF_HTTP_USERNAME", "")
        password = os.environ.get("TF_HTTP_PASSWORD", "")
        headers: dict[str, str] = {}
        if user or password:
            pair = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
            headers["Authorization"] = f"Basic {pair}"
            refused = "Basic auth from TF_HTTP_USERNAME / TF_HTTP_PASSWORD was refused"
        else:
            refused = "no credentials sent: set TF_HTTP_USERNAME and TF_HTTP_PASSWORD"
        credentials = Credentials(headers, origin(self.url), refused)
        client = HttpClient(self.options.http)
        data = http_get(client, self.url, self.shown, credentials, self.options, "no state at this address")
        if not data.strip():
            raise InputError(f"{self.shown}: the backend holds no state (empty response)")
        yield StateDocument(self.shown, self.shown, data)
