"""Reading a CI's environment: which platform runs us, and its variables as checked values.

Every problem is a ``UsageError`` (exit 2) in one line naming the variable (or the payload file and field), so a
misconfigured job says what to fix instead of scanning the wrong thing.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from scanner.errors import UsageError
from scanner.integrations.ci.model import Platform

# The variable each platform sets to "true" in every job (integrations.md 2, 3).
PLATFORM_VARIABLES: dict[Platform, str] = {"github": "GITHUB_ACTIONS", "gitlab": "GITLAB_CI"}

COMMIT_ID = re.compile(r"^(?:[0-9a-f]{40}|[0-9a-f]{64})$")


def detect(environ: Mapping[str, str]) -> Platform:
    for platform, variable in PLATFORM_VARIABLES.items():
        if environ.get(variable) == "true":
            return platform
    names = " nor ".join(PLATFORM_VARIABLES.values())
    raise UsageError(f"leakstop ci runs in GitHub Actions or GitLab CI: neither {names} is set to true")


def require(environ: Mapping[str, str], name: str, why: str = "") -> str:
    value = environ.get(name, "")
    if not value:
        raise UsageError(f"{name} is not set{f' ({why})' if why else ''}")
    return value


def commit_id(value: Any, where: str) -> str:
    """A full commit id (SHA-1 or SHA-256, lower-case hex); ``where`` names the variable or payload field."""
    if not isinstance(value, str) or not COMMIT_ID.match(value):
        raise UsageError(f"{where}: not a commit id: {str(value)[:80]!r}")
    return value


def env_commit(environ: Mapping[str, str], name: str, why: str = "") -> str:
    return commit_id(require(environ, name, why), name)


def load_payload(environ: Mapping[str, str], name: str) -> dict[str, Any]:
    """The JSON object in the file the variable ``name`` points at (GitHub's ``GITHUB_EVENT_PATH``)."""
    path = require(environ, name, "the event payload file")
    try:
        with open(path, encoding="utf-8") as handle:
            doc = json.load(handle)
    except OSError as exc:
        raise UsageError(f"{name}: cannot read {path}: {exc.strerror}") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise UsageError(f"{name}: {path} is not JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise UsageError(f"{name}: {path} holds no JSON object")
    return doc


def field(doc: Mapping[str, Any], dotted: str, where: str) -> Any:
    """``doc["a"]["b"]`` for ``"a.b"``; a missing field is an error naming it and ``where`` it was looked for."""
    value: Any = doc
    for key in dotted.split("."):
        if not isinstance(value, Mapping) or value.get(key) is None:
            raise UsageError(f"{where}: {dotted} is missing")
        value = value[key]
    return value
