"""``respond:`` in ``.leakstop.yaml``: what the leak response does with blocking findings, as frozen values.

Policy does not know the providers (they live in ``scanner.respond``, a layer above): the schema's enum names them
for ``actions[].provider``, and ``scanner.respond.plan.check_settings`` checks the rest (``providers`` globs)
with the table at hand. Paths (``outbox``, ``audit_log``) are relative to the config file's directory.

    respond:
      actions:                   # ordered; every entry that matches a finding's rule adds an action for it
        - rules: [github-*]      # globs over rule ids, tags, and the rule's default provider (all that are given)
          do: revoke             # revoke | rotate | notify | none (none: stop: no response for what it matches)
          provider: github       # default: the provider PROVIDERS names for the rule
      outbox: .git/leakstop/outbox.jsonl
      retry: {max_attempts: 8, base_delay: 30, max_delay: 3600}
      on_push: enqueue           # the pre-receive hook: enqueue | execute | off (default off)
      on_ci: execute             # leakstop ci: the same choice
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

Trigger = Literal["enqueue", "execute", "off"]
DO_NONE = "none"


@dataclass(frozen=True)
class ActionRule:
    """One ``actions`` entry. Empty criteria match every rule; ``do`` "" = the provider's default action."""

    index: int
    rules: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    providers: tuple[str, ...] = ()
    do: str = ""  # revoke | rotate | notify | none | "" (the provider's default)
    provider: str = ""  # "" = the table's provider for the rule

    @property
    def where(self) -> str:
        return f"respond/actions/{self.index}"

    def matches(self, rule_id: str, tags: Sequence[str], default_provider: str) -> bool:
        return (
            _any(self.rules, (rule_id,))
            and _any(self.tags, tags)
            and _any(self.providers, (default_provider,) if default_provider else ())
        )


def _any(globs: Sequence[str], values: Sequence[str]) -> bool:
    return not globs or any(fnmatch.fnmatchcase(value, glob) for glob in globs for value in values)


@dataclass(frozen=True)
class RetrySettings:
    """Exponential backoff with jitter between attempts at one action; ``max_attempts`` counts attempts that
    made no progress (a ``RETRY`` carrying new progress is a step of a multi-step action, not a failure)."""

    max_attempts: int = 8
    base_delay: float = 30.0  # seconds before the second attempt; doubles each time (jitter: ½ to 1 of it)
    max_delay: float = 3600.0


@dataclass(frozen=True)
class RespondSettings:
    """The config's ``respond`` section: the action each rule's findings get, where they are queued and logged,
    and when a response starts."""

    source: str = ""  # the config file, for messages and relative paths
    actions: tuple[ActionRule, ...] = ()  # none: each rule's default provider and action (``PROVIDERS``)
    outbox: str = ""  # "" = the command's default (in the repository's git dir)
    audit_log: str = ""  # "" = next to the outbox
    retry: RetrySettings = field(default_factory=RetrySettings)
    sink: Mapping[str, Any] | None = None  # where a rotation's replacement goes: {kind: ..., ...}
    on_push: Trigger = "off"
    on_ci: Trigger = "off"
    providers: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)  # settings by provider name

    def path(self, value: str) -> str:
        """``value`` resolved against the config's directory ("" stays "")."""
        if not value or os.path.isabs(value) or not self.source:
            return value
        return os.path.join(os.path.dirname(os.path.abspath(self.source)), value)


def respond_settings(raw: Mapping[str, Any], source: str) -> RespondSettings:
    """The schema-valid ``respond`` section as settings."""
    actions = tuple(
        ActionRule(
            index=index,
            rules=tuple(entry.get("rules", ())),
            tags=tuple(entry.get("tags", ())),
            providers=tuple(entry.get("providers", ())),
            do=entry.get("do", ""),
            provider=entry.get("provider", ""),
        )
        for index, entry in enumerate(raw.get("actions", []))
    )
    return RespondSettings(
        source=source,
        actions=actions,
        outbox=raw.get("outbox", ""),
        audit_log=raw.get("audit_log", ""),
        retry=RetrySettings(**raw.get("retry", {})),
        sink=dict(raw["sink"]) if "sink" in raw else None,
        on_push=raw.get("on_push", "off"),
        on_ci=raw.get("on_ci", "off"),
        providers={name: dict(settings) for name, settings in raw.get("providers", {}).items()},
    )
