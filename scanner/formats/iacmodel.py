"""What the infrastructure-as-code parsers (plans, Pulumi exports, CloudFormation, Kubernetes and Helm) say about
one value of a document: the resource and attribute it belongs to, and whether it is a secret kept in plaintext, an
encrypted value or a reference to a secret kept elsewhere (both left alone), or an ordinary value. Pure.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from scanner.formats.tfstate import Leaf, Path

Kind = Literal["secret", "encrypted", "reference", "value"]


@dataclass(frozen=True)
class Place:
    """Where a value sits and what it is. ``secret`` is the value to report when it is not the leaf's own text (a
    JSON-encoded Pulumi plaintext, a base64 Kubernetes ``data`` value); ``decoded`` names the encoding peeled."""

    address: str
    attribute: str
    kind: Kind = "value"
    secret: str | None = None
    decoded: tuple[str, ...] = ()
    rule: str = ""  # the rule a secret's finding is reported under


def last_key(path: Path) -> str:
    """The innermost mapping key of a path (list indexes skipped)."""
    return next((step for step in reversed(path) if isinstance(step, str)), "")


def named_value(parent: object, step: str | int) -> bool:
    """``{name: DB_PASSWORD, value: …}`` (Kubernetes ``env``, ECS ``Environment``): the value of a pair whose
    name names a secret."""
    if not isinstance(parent, dict) or not isinstance(step, str) or step.lower() != "value":
        return False
    name = parent.get("name", parent.get("Name"))
    return isinstance(name, str) and secret_key(name)


@dataclass(frozen=True)
class Judged:
    """A parsed document: every scalar (``leaves``, character offsets) and the place of each leaf's path."""

    leaves: list[Leaf]
    places: dict[Path, Place]


# A key that names a secret: the last word of the key (camelCase, snake_case, dashes and dots alike).
_SECRET_WORDS = re.compile(
    r"(?:password|passwd|passphrase|secret|secretstring|token|apikey|accesskey|secretkey|privatekey|credentials?"
    r"|connectionstring|auth|pwd|dockerconfigjson|dockercfg)$"
)
_NOT_SECRET = re.compile(r"^(?:existing|use|enable|create|auto|generate|require|rotate|show|no)")


def secret_key(name: str) -> bool:
    """``MasterUserPassword``, ``db_password``, ``api-key``, ``tls.key`` name secrets; ``passwordSecretName``,
    ``existingSecret``, ``secretKeyRef`` name where a secret is, not a secret."""
    if name.endswith((".key", ".pem")) or name == "key":
        return True
    flat = re.sub(r"[-_\s.]", "", name).lower()
    return not _NOT_SECRET.search(flat) and bool(_SECRET_WORDS.search(flat))


_PLACEHOLDER = re.compile(
    r"^(?:<[^>]*>|\$\{[^}]*\}|\{\{.*\}\}|%\(.*\)s|\*+|x+|changeme|change-me|secret|password|null|none|true|false"
    r"|todo|tbd|example|placeholder|redacted|\.\.\.)$",
    re.IGNORECASE,
)


def literal_secret(value: str) -> bool:
    """A value shaped like a literal secret: long enough, not a placeholder, template or reference."""
    text = value.strip()
    if len(text) < 6 or len(text) > 16384 or len(set(text)) < 4:
        return False
    if "{{resolve:" in text or "${" in text or "{{" in text:
        return False
    return not _PLACEHOLDER.match(text)
