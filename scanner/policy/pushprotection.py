"""``push_protection`` in ``.leakstop.yaml``: how the server's pre-receive hook decides (``leakstop hook
pre-receive``). Only what the config says; the hook's flags and defaults are applied at the edge."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal

from scanner.errors import ConfigError

Undecided = Literal["fail-closed", "fail-open"]
_SPAN_UNITS = {"m": "minutes", "h": "hours", "d": "days"}


@dataclass(frozen=True)
class BreakGlassSettings:
    """``push_protection.breakglass``: whether tokens are issued and taken, for how long, approved by whom."""

    enabled: bool = False
    max_ttl: timedelta = timedelta(hours=24)  # the longest a token lives after approval
    approval_window: timedelta = timedelta(hours=24)  # a request not approved within this expires
    approvers: tuple[str, ...] = ()  # unix users who may approve; empty: anyone but the requester
    store: str = ""  # "" = not set (the default place in the git dir)


@dataclass(frozen=True)
class PushProtection:
    budget: float | None = None  # seconds to decide a push in; None: not set
    when_undecided: Undecided | None = None  # the budget ran out or the push could not be read; None: not set
    audit_log: str = ""  # "" = not set
    cache: str | bool = True  # a path, True (the default place) or False (no cache)
    breakglass: BreakGlassSettings = BreakGlassSettings()


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


def parse_span(text: str) -> timedelta:
    """``30m``, ``4h`` or ``1d`` (the schema checks the form; ``--ttl`` is checked at the edge)."""
    amount, unit = int(text[:-1]), text[-1]
    return timedelta(**{_SPAN_UNITS[unit]: amount})


def push_protection(raw: dict[str, Any], source: str) -> PushProtection:
    budget = raw.get("budget")
    glass = raw.get("breakglass", {})
    return PushProtection(
        budget=None if budget is None else parse_duration(budget, f"{source}: push_protection/budget"),
        when_undecided=raw.get("when_undecided"),
        audit_log=raw.get("audit_log", ""),
        cache=raw.get("cache", True),
        breakglass=BreakGlassSettings(
            enabled=glass.get("enabled", False),
            max_ttl=parse_span(glass.get("max_ttl", "24h")),
            approval_window=parse_span(glass.get("approval_window", "24h")),
            approvers=tuple(glass.get("approvers", ())),
            store=glass.get("store", ""),
        ),
    )
