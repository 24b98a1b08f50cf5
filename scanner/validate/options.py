"""How one run validates: time, concurrency, rate, the on-disk cache. Plain values the edge fills in."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from scanner.httpsettings import HttpSettings

VALIDATION_HTTP = HttpSettings(connect_timeout=5.0, read_timeout=10.0)


@dataclass(frozen=True)
class ValidationOptions:
    """``deadline``: seconds for all of a run's validation (what is not answered by then is ``unknown``);
    ``workers`` requests in flight in all, ``per_provider`` to one provider, at most ``rate`` a second to one
    provider. ``cache``: an SQLite file of answers keyed by fingerprint (never the secret), trusted for ``ttl``
    seconds (0: no on-disk cache). ``routes`` send a validator's origin elsewhere: tests and benchmarks only."""

    http: HttpSettings = VALIDATION_HTTP
    deadline: float = 60.0
    workers: int = 16
    per_provider: int = 4
    rate: float = 20.0
    cache: str = ""
    ttl: float = 24 * 3600.0
    routes: Mapping[str, str] = field(default_factory=dict)
