"""HCP Terraform / Terraform Enterprise: the workspace's current state version, read through the API."""

from __future__ import annotations

import ipaddress
import json
import os
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote, urljoin, urlsplit

from scanner.errors import InputError, UsageError
from scanner.httpsettings import origin
from scanner.sources.tfremote.common import RemoteOptions, StateDocument
from scanner.sources.tfremote.http_backend import Credentials, display_url, http_get
from scanner.transport import HttpClient

JSON_API = "application/vnd.api+json"


def _is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def token_variables(host: str) -> list[str]:
    """Terraform's name for a host's token: ``TF_TOKEN_`` + the host with dots as ``_`` and dashes as ``__``
    (a port is not part of it), then the tfe provider's ``TFE_TOKEN``."""
    return [f"TF_TOKEN_{host.replace('-', '__').replace('.', '_')}", "TFE_TOKEN"]


def _find_token(names: list[str]) -> tuple[str, str]:
    """(variable, token); Terraform matches the host part of ``TF_TOKEN_*`` names case-insensitively."""
    wanted = [name.upper() for name in names]
    for name in wanted:
        for variable, value in os.environ.items():
            if variable.upper() == name and value:
                return variable, value
    return "", ""


class TfeBackend:
    listing = False

    def __init__(self, url: str, options: RemoteOptions) -> None:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        host = parts.hostname or ""
        segments = [s for s in parts.path.split("/") if s]
        self.shown = f"{scheme}://{parts.netloc.rpartition('@')[2]}/{'/'.join(segments)}"
        if parts.username is not None or parts.password is not None:
            raise UsageError(f"{self.shown}: credentials in the URL: set {token_variables(host)[0]} instead")
        if not host:
            raise UsageError(f"{url}: no host in the URL")
        if scheme == "tfe+http" and not _is_loopback(host):
            raise UsageError(f"{self.shown}: tfe+http:// sends the token in clear: loopback hosts only (use tfe://)")
        if len(segments) == 1 and segments[0].startswith("ws-"):
            self.organization, self.workspace, self.workspace_id = "", "", segments[0]
        elif len(segments) == 2:
            self.organization, self.workspace, self.workspace_id = segments[0], segments[1], ""
        else:
            raise UsageError(f"{self.shown}: expected tfe://HOST/ORGANIZATION/WORKSPACE or tfe://HOST/ws-ID")
        self.base = f"{'http' if scheme == 'tfe+http' else 'https'}://{parts.netloc.rpartition('@')[2]}"
        self.host = host
        self.options = options

    def documents(self) -> Iterator[StateDocument]:
        names = token_variables(self.host)
        variable, token = _find_token(names)
        if not token:
            raise InputError(f"{self.shown}: no API token: set {names[0]} or {names[1]}")
        credentials = Credentials(
            {"Authorization": f"Bearer {token}", "Content-Type": JSON_API},
            origin(self.base),
            f"the token from {variable} was refused",
        )
        client = HttpClient(self.options.http)
        workspace_id = self.workspace_id
        if not workspace_id:
            path = (
                f"/api/v2/organizations/{quote(self.organization, safe='')}/workspaces/{quote(self.workspace, safe='')}"
            )
            found = self._api(
                client, path, credentials, f"no workspace here, or the token from {variable} cannot see it"
            )
            workspace_id = str(_dig(found, "data", "id") or "")
            if not workspace_id:
                raise InputError(f"{self.shown}: unexpected API response: the workspace has no id")
        version = self._api(
            client,
            f"/api/v2/workspaces/{quote(workspace_id, safe='')}/current-state-version",
            credentials,
            "the workspace has no state yet, or the token cannot read it",
        )
        download = _dig(version, "data", "attributes", "hosted-state-download-url")
        if not isinstance(download, str) or not download:
            raise InputError(f"{self.shown}: the current state version has no hosted-state-download-url yet")
        url = urljoin(self.base + "/", download)
        data = http_get(client, url, self.shown, credentials, self.options, "state not found")
        yield StateDocument(self.shown, self.shown, data)

    def _api(self, client: HttpClient, path: str, credentials: Credentials, not_found: str) -> Any:
        body = http_get(client, self.base + path, self.shown, credentials, self.options, not_found, accept=JSON_API)
        try:
            return json.loads(body)
        except ValueError:
            where = display_url(self.base + path)
            raise InputError(f"{self.shown}: unexpected API response: not JSON ({where})") from None


def _dig(doc: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(doc, dict):
            return None
        doc = doc.get(key)
    return doc
