"""What every remote state backend shares: its options, the documents it yields, the ``Remote`` protocol."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Protocol

from scanner.transport import HttpSettings

MAX_STATE_BYTES = 512 * 1024 * 1024


@dataclass(frozen=True)
class RemoteOptions:
    all_versions: bool = False  # S3: every object version, not only the current one
    max_bytes: int = MAX_STATE_BYTES
    http: HttpSettings = field(default_factory=HttpSettings)  # timeouts (S3 too), retries, proxies, CA bundle


@dataclass(frozen=True)
class StateDocument:
    """One state read from a backend. ``shown`` is its location in findings; ``key`` is shared by the versions of
    one object. With ``error`` set, the state could not be read (``reason`` is the issue's reason)."""

    shown: str
    key: str
    data: bytes = b""
    error: str = ""
    reason: str = ""


class Remote(Protocol):
    """A remote location of state. ``listing`` is true when it names several states: then ``documents`` yields
    unreadable ones with an error instead of raising."""

    shown: str
    listing: bool

    def documents(self) -> Iterator[StateDocument]: ...
