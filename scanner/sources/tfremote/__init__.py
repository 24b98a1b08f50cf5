"""Remote Terraform state: where ``--tfstate URL`` reads state from (integrations.md 6.3). ``tfstate`` parses it.

    s3://BUCKET/KEY                  one object (boto3, the ``s3`` extra; the standard AWS credential chain and
                                     ``AWS_ENDPOINT_URL`` / ``AWS_ENDPOINT_URL_S3``)
    s3://BUCKET/PREFIX/  s3://BUCKET/  every ``*.tfstate`` under the prefix, and the workspaces' copies of them
                                     under ``env:/<workspace>/PREFIX/``
    ... with ``all_versions``        every version of each object (``ListObjectVersions``), oldest first
    http://…  https://…              Terraform's HTTP backend and GitLab-managed state: ``GET`` returns the state;
                                     Basic auth from ``TF_HTTP_USERNAME`` / ``TF_HTTP_PASSWORD``
    tfe://HOST/ORG/WORKSPACE         HCP Terraform / Terraform Enterprise: the workspace's current state version;
    tfe://HOST/ws-ID                 token from ``TF_TOKEN_<host>`` or ``TFE_TOKEN``; ``tfe+http://`` speaks plain
                                     HTTP, to a loopback host only (a test server)

Credentials come only from the environment and never appear in a message, a report or a location: a URL
holding a user name or password is refused. HTTP goes through :mod:`scanner.transport` (``RemoteOptions.http``:
proxies, CA bundle, timeouts, retries), which follows redirects itself and sends a token or password only to the
origin it belongs to (the signed download URL HCP Terraform redirects to gets no token).

Every failure is an ``InputError`` (exit 2) whose one line names the URL and the problem: unreachable backend,
credentials refused or missing (naming the variables tried), nothing at that location. When a location lists
several states (a prefix, versions), a state that cannot be read is a ``StateDocument`` with an ``error``, so the
scan reports it and goes on.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from scanner.errors import UsageError
from scanner.sources.tfremote.common import MAX_STATE_BYTES, Remote, RemoteOptions, StateDocument
from scanner.sources.tfremote.http_backend import HttpBackend, display_url
from scanner.sources.tfremote.s3 import S3Backend
from scanner.sources.tfremote.tfe import TfeBackend, token_variables

__all__ = [
    "BACKENDS",
    "MAX_STATE_BYTES",
    "Remote",
    "RemoteOptions",
    "StateDocument",
    "display_url",
    "is_remote",
    "open_remote",
    "token_variables",
]

_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]+)://")

BACKENDS: dict[str, Callable[[str, RemoteOptions], Remote]] = {
    "s3": S3Backend,
    "http": HttpBackend,
    "https": HttpBackend,
    "tfe": TfeBackend,
    "tfe+http": TfeBackend,
}


def is_remote(source: str) -> bool:
    """``scheme://…`` (a scheme of two or more letters, so ``C://x`` stays a path)."""
    return _SCHEME.match(source) is not None


def open_remote(source: str, options: RemoteOptions) -> Remote:
    match = _SCHEME.match(source)
    scheme = match.group(1).lower() if match else ""
    backend = BACKENDS.get(scheme)
    if backend is None:
        known = ", ".join(f"{name}://" for name in BACKENDS)
        raise UsageError(f"--tfstate {scheme}://…: unsupported state backend (supported: {known})")
    if options.all_versions and scheme != "s3":
        raise UsageError(f"--all-versions reads the versions of s3:// state; {scheme}:// has none to read")
    return backend(source, options)
