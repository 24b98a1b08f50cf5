"""Registry credentials found as docker and skopeo find them: the docker config and Docker credential helpers.

The config is ``$DOCKER_CONFIG/config.json`` or ``~/.docker/config.json``. For a registry host, in this order:

1. ``credHelpers[host]``: that helper alone;
2. ``credsStore``: the helper for every host (a host it has nothing for falls back to ``auths``);
3. ``auths[host].auth`` (base64 ``user:password``), or ``auths[host].username`` / ``password``.

A helper is the executable ``docker-credential-NAME`` on ``PATH``, run as ``docker-credential-NAME get`` with the
server URL on stdin (``https://index.docker.io/v1/`` for Docker Hub, else ``host[:port]``); it answers JSON
``{"ServerURL", "Username", "Secret"}``, or "credentials not found" with a non-zero exit. A ``<token>`` user name
means ``Secret`` is an identity token (an OAuth2 refresh token for the registry's token realm). A helper that is
missing, fails, hangs (past ``HELPER_TIMEOUT``) or answers nonsense is a one-line ``InputError`` naming the helper and
the host; what it printed is never shown (it may hold the secret).
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scanner.errors import InputError

DOCKER_HUB = "docker.io"
HUB_ALIASES = frozenset({"docker.io", "index.docker.io", "registry-1.docker.io", "registry.hub.docker.com"})
HUB_SERVER_URL = "https://index.docker.io/v1/"  # the key docker uses for Docker Hub, in auths and for helpers
HELPER_TIMEOUT = 30.0
IDENTITY_TOKEN_USER = "<token>"
_HELPER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_NOT_FOUND = "credentials not found"


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str  # the identity token when ``identity_token``
    source: str  # the docker config file or the helper they came from: named in errors, the values never are
    identity_token: bool = False

    def header(self) -> str:
        return "Basic " + base64.b64encode(f"{self.username}:{self.password}".encode()).decode("ascii")


def docker_config_path() -> Path:
    base = os.environ.get("DOCKER_CONFIG")
    return Path(base) / "config.json" if base else Path.home() / ".docker" / "config.json"


def config_host(key: str) -> str:
    """Docker's ``ConvertToHostname``: ``https://index.docker.io/v1/`` → ``index.docker.io`` → ``docker.io``."""
    key = key.removeprefix("https://").removeprefix("http://")
    host = key.split("/", 1)[0].lower()
    return DOCKER_HUB if host in HUB_ALIASES else host


def load_credentials(registry: str, path: Path) -> tuple[Credentials | None, str]:
    """Credentials for ``registry`` (``docker.io`` for Docker Hub) and a note on why there are none (for errors)."""
    doc = _read_config(path)
    if doc is None:
        return None, f"no docker config at {path}"
    helpers = doc.get("credHelpers") if isinstance(doc.get("credHelpers"), dict) else {}
    helper = next((str(v) for k, v in (helpers or {}).items() if config_host(str(k)) == registry.lower()), "")
    if helper:
        creds = run_helper(helper, registry, path)
        return creds, "" if creds else f"credential helper docker-credential-{helper} has nothing for {registry}"
    store = doc.get("credsStore")
    if isinstance(store, str) and store:
        creds = run_helper(store, registry, path)
        if creds is not None:
            return creds, ""
    found = _from_auths(doc, registry, path)
    if found is not None:
        return found, ""
    if isinstance(store, str) and store:
        return None, f"no credentials for {registry} in docker-credential-{store} (credsStore) nor in {path}"
    return None, f"no auths entry for {registry} in {path}"


def _read_config(path: Path) -> dict[str, Any] | None:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise InputError(f"{path}: cannot read docker config: {exc.strerror or exc}") from None
    try:
        doc = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: docker config is not valid JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise InputError(f"{path}: docker config is not a JSON object")
    return doc


def _from_auths(doc: dict[str, Any], registry: str, path: Path) -> Credentials | None:
    auths = doc.get("auths") if isinstance(doc.get("auths"), dict) else {}
    for key, entry in (auths or {}).items():
        if config_host(str(key)) != registry.lower() or not isinstance(entry, dict):
            continue
        if isinstance(entry.get("identitytoken"), str) and entry["identitytoken"]:
            return Credentials(IDENTITY_TOKEN_USER, entry["identitytoken"], str(path), identity_token=True)
        if isinstance(entry.get("auth"), str) and entry["auth"]:
            try:
                user, sep, password = base64.b64decode(entry["auth"], validate=True).decode("utf-8").partition(":")
            except (ValueError, UnicodeDecodeError):
                raise InputError(f"{path}: auths.{key}.auth is not base64 of user:password") from None
            if not sep:
                raise InputError(f"{path}: auths.{key}.auth is not base64 of user:password")
            return Credentials(user, password, str(path))
        if isinstance(entry.get("username"), str) and isinstance(entry.get("password"), str):
            return Credentials(entry["username"], entry["password"], str(path))
    return None


def run_helper(name: str, registry: str, config: Path) -> Credentials | None:
    """``docker-credential-NAME get`` for ``registry``: its credentials, or None when it has none for the host."""
    program = f"docker-credential-{name}"
    where = f"{registry}: credential helper {program} (from {config})"
    executable = shutil.which(program) if _HELPER_NAME.match(name) else None
    if executable is None:
        raise InputError(f"{where}: not found on PATH")
    server = HUB_SERVER_URL if registry == DOCKER_HUB else registry
    try:
        done = subprocess.run(
            [executable, "get"], input=server.encode(), capture_output=True, timeout=HELPER_TIMEOUT, check=False
        )
    except subprocess.TimeoutExpired:
        raise InputError(f"{where}: no answer within {HELPER_TIMEOUT:g} s") from None
    except OSError as exc:
        raise InputError(f"{where}: cannot run it: {exc.strerror or type(exc).__name__}") from None
    if done.returncode != 0:
        if _NOT_FOUND in done.stdout.decode("utf-8", "replace").lower():
            return None
        raise InputError(f"{where}: failed (exit status {done.returncode})")
    try:
        doc = json.loads(done.stdout)
        username, secret = doc["Username"], doc["Secret"]
    except (ValueError, UnicodeDecodeError, KeyError, TypeError):
        raise InputError(f"{where}: answered something other than JSON with Username and Secret") from None
    if not isinstance(username, str) or not isinstance(secret, str) or not secret:
        raise InputError(f"{where}: answered no usable Username and Secret")
    source = f"credential helper {program}"
    return Credentials(username, secret, source, identity_token=username == IDENTITY_TOKEN_USER)
