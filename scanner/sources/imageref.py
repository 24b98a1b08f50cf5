"""Image references and platforms as Docker spells them: ``[host[:port]/]name[:tag][@digest]``, ``os/arch[/variant]``.

No I/O here: :mod:`scanner.sources.registry` pulls what a reference names.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from scanner.errors import InputError, UsageError
from scanner.sources.dockerauth import DOCKER_HUB, HUB_ALIASES

DOCKER_HUB_ENDPOINT = "registry-1.docker.io"

# The reference grammar of distribution/reference (regexp.go), sha256 digests only.
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|[-]*)[a-z0-9]+)*"
_DOMAIN = (
    r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])(?:\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))*"
)
_PATH = re.compile(rf"^{_COMPONENT}(?:/{_COMPONENT})*$")
_HOST = re.compile(rf"^{_DOMAIN}(?::[0-9]+)?$")
_TAG = re.compile(r"^[\w][\w.-]{0,127}$")
DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")


@dataclass(frozen=True)
class Reference:
    """An image reference split as Docker does: ``[host[:port]/]name[:tag][@digest]``."""

    registry: str  # host[:port]; "docker.io" for Docker Hub
    repository: str  # "library/alpine" for Docker Hub's official images
    tag: str = ""
    digest: str = ""

    @property
    def endpoint(self) -> str:
        """Where the API lives: Docker Hub's registry is not at docker.io itself."""
        return DOCKER_HUB_ENDPOINT if self.registry == DOCKER_HUB else self.registry

    @property
    def manifest_ref(self) -> str:
        return self.digest or self.tag

    def __str__(self) -> str:
        return (
            f"{self.registry}/{self.repository}"
            + (f":{self.tag}" if self.tag else "")
            + (f"@{self.digest}" if self.digest else "")
        )


def parse_reference(text: str) -> Reference:
    """Docker's defaults: no host → Docker Hub, a one-part Hub name → ``library/``, no tag or digest → ``latest``."""
    rest = text.removeprefix("docker://")
    digest = ""
    if "@" in rest:
        rest, digest = rest.split("@", 1)
        if not DIGEST.match(digest):
            raise InputError(f"{text}: not an image reference: digest must be sha256:<64 hex digits>")
    tag = ""
    slash, colon = rest.rfind("/"), rest.rfind(":")
    if colon > slash:
        rest, tag = rest[:colon], rest[colon + 1 :]
        if not _TAG.match(tag):
            raise InputError(f"{text}: not an image reference: invalid tag {tag!r}")
    first, _, remainder = rest.partition("/")
    if remainder and ("." in first or ":" in first or first == "localhost" or first != first.lower()):
        registry, repository = first, remainder
        if not _HOST.match(registry):
            raise InputError(f"{text}: not an image reference: invalid registry host {registry!r}")
    else:
        registry, repository = DOCKER_HUB, rest
    if registry.lower() in HUB_ALIASES:
        registry = DOCKER_HUB
    if registry == DOCKER_HUB and "/" not in repository:
        repository = f"library/{repository}"
    if not _PATH.match(repository) or len(registry) + 1 + len(repository) > 255:
        raise InputError(
            f"{text}: not an image reference (repository names are lower-case path components) "
            "and no such file or directory"
        )
    return Reference(registry, repository, tag if tag or digest else "latest", digest)


def names_registry(text: str) -> bool:
    """Whether the reference says which registry (else it is Docker Hub's, by default)."""
    first, slash, _ = text.removeprefix("docker://").partition("/")
    return bool(slash) and ("." in first or ":" in first or first == "localhost")


def looks_like_path(text: str) -> bool:
    """Names a user means as a file: scanned as a path (and reported missing), never pulled."""
    return text.startswith(("/", "./", "../", "~")) or text.endswith((".tar", ".tar.gz", ".tgz", ".tar.zst"))


def _platform_of(desc: dict[str, Any]) -> tuple[str, str, str]:
    platform = desc.get("platform") if isinstance(desc.get("platform"), dict) else {}
    platform = platform or {}
    return str(platform.get("os") or ""), str(platform.get("architecture") or ""), str(platform.get("variant") or "")


def available_platforms(index: dict[str, Any]) -> list[str]:
    shown = []
    for desc in index.get("manifests") or []:
        if isinstance(desc, dict):
            os_, arch, variant = _platform_of(desc)
            if os_ and arch and os_ != "unknown":  # "unknown/unknown": BuildKit attestations, not images
                shown.append("/".join(p for p in (os_, arch, variant) if p))
    return sorted(set(shown))


def select_platform(index: dict[str, Any], wanted: str) -> str | None:
    """The digest of the index entry for ``os/arch[/variant]``; without a variant, any variant matches."""
    want = wanted.split("/")
    want_os, want_arch, want_variant = want[0], want[1] if len(want) > 1 else "", want[2] if len(want) > 2 else ""
    for desc in index.get("manifests") or []:
        if not isinstance(desc, dict) or not isinstance(desc.get("digest"), str):
            continue
        os_, arch, variant = _platform_of(desc)
        if (os_, arch) == (want_os, want_arch) and (not want_variant or variant == want_variant):
            return str(desc["digest"])
    return None


def parse_platform(text: str) -> str:
    parts = text.split("/")
    if not 2 <= len(parts) <= 3 or not all(re.fullmatch(r"[a-z0-9_.-]+", p) for p in parts):
        raise UsageError(f"--platform {text!r}: expected os/arch[/variant], e.g. linux/amd64 or linux/arm/v7")
    return text
