"""``push_protection`` in ``.leakstop.yaml``: how the server's pre-receive hook decides (``leakstop hook
pre-receive``). Only what the config says; the hook's flags and defaults are applied at the edge."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from scanner.errors import ConfigError

Undecided = Literal["fail-closed", "fail-open"]


@dataclass(frozen=True)
class PushProtection:
    budget: float | None = None  # seconds to decide a push in; None: not set
    when_undecided: Undecided | None = None  # the budget ran out or the push could not be read; None: not set
    audit_log: str = ""  # "" = not set
    cache: str | bool = True  # a path, True (the default place) or False (no cache)


def parse_duration(value: float | str, where: str = "") -> float:
    """Seconds from a number or ``4s`` / ``500ms`` / ``1.5s`` (the schema checks the form); must be above 0."""
    if isinstance(value, str):
        text = value.strip()
        seconds = float(text[:-2]) / 1000 if text.endswith("ms") else float(text.removesuffix("s"))
    else:
        seconds = float(value)
    if seconds <= 0:
        raise ConfigError(f"{where}: a duration must be more than 0 (got {value!r})")
    return seconds


def push_protection(raw: dict[str, Any], source: str) -> PushProtection:
    budget = raw.get("budget")
    return PushProtection(
        budget=None if budget is None else parse_duration(budget, f"{source}: push_protection/budget"),
        when_undecided=raw.get("when_undecided"),
        audit_log=raw.get("audit_log", ""),
        cache=raw.get("cache", True),
    )
