"""Blocking findings → the response's plan: one action per credential, kind and provider.

A credential found in 30 places is acted on once: findings are grouped by ``secret_id`` (the keyed fingerprint of
rule and secret), and the action keeps every finding id and place. Which actions a credential gets is the policy's
(``respond.actions``, else the rule's default provider and action in ``PROVIDERS``). A rule no provider acts on,
or a provider that does not support the kind for the rule, is listed as "no adapter: nothing attempted".

The plan holds the secrets only in memory (``Plan.credentials``); everything else in it may be written down.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TextIO

from scanner.errors import ConfigError
from scanner.models import Finding, GitOrigin, ScanResult, Secret
from scanner.policy.respond import DO_NONE, RespondSettings
from scanner.respond.model import ActionKind, Credential
from scanner.respond.providers import PROVIDERS, provider_for_rule
from scanner.respond.providers.base import Provider

MAX_PLACES_SHOWN = 3


@dataclass(frozen=True)
class Place:
    """Where a credential was found: enough to find it again by a rescan, nothing secret."""

    kind: str  # the origin's kind: file, git, image, tfstate
    path: str  # absolute for files; for git, relative to ``root`` (the repository's top)
    root: str = ""
    commit: str = ""
    line: int = 0
    finding_id: str = ""

    def describe(self) -> str:
        at = f"{self.path}:{self.line}" if self.line else self.path
        return f"{at} (commit {self.commit[:12]})" if self.commit else at


@dataclass(frozen=True)
class PlannedAction:
    id: str  # action_id(secret_id, kind, provider): the same credential, kind and provider is one action
    secret_id: str
    rule_id: str
    kind: ActionKind
    provider: str
    redacted: str  # the secret's redacted form (``ghp_…(40)``), for people
    places: tuple[Place, ...]
    guide: str = ""


@dataclass(frozen=True)
class Unhandled:
    """A blocking credential nothing will be attempted for, and why."""

    rule_id: str
    secret_id: str
    redacted: str
    places: tuple[Place, ...]
    why: str


@dataclass(frozen=True)
class Plan:
    actions: tuple[PlannedAction, ...] = ()
    unhandled: tuple[Unhandled, ...] = ()
    credentials: Mapping[str, Credential] = field(default_factory=dict)  # by secret id; in memory only


ProviderLookup = Callable[[str], "Provider | None"]  # a provider by name, None when it cannot be made here


def action_id(secret_id: str, kind: ActionKind, provider: str) -> str:
    return hashlib.sha256(f"{secret_id}\0{kind.value}\0{provider}".encode()).hexdigest()[:24]


def check_settings(settings: RespondSettings) -> None:
    """Provider names the schema cannot check (globs in ``providers``, and ``provider`` for configs that bypass
    the schema): a ConfigError naming the path."""
    known = sorted(PROVIDERS)
    for entry in settings.actions:
        if entry.provider and entry.provider not in PROVIDERS:
            raise ConfigError(
                f"{settings.source}: {entry.where}/provider: unknown provider {entry.provider!r}"
                f" (known: {', '.join(known)})"
            )
        for index, glob in enumerate(entry.providers):
            if not any(_glob(name, glob) for name in known):
                raise ConfigError(
                    f"{settings.source}: {entry.where}/providers/{index}: {glob!r} matches no provider"
                    f" (known: {', '.join(known)})"
                )
    for name in settings.providers:
        if name not in PROVIDERS:
            raise ConfigError(f"{settings.source}: respond/providers/{name}: unknown provider {name!r}")


def _glob(name: str, glob: str) -> bool:
    import fnmatch

    return fnmatch.fnmatchcase(name, glob)


def targets(finding: Finding, settings: RespondSettings) -> list[tuple[str, str]]:
    """(kind, provider) pairs the policy asks for a finding's credential; kind or provider "" = none known."""
    default_provider = provider_for_rule(finding.rule.id)
    if not settings.actions:
        entry = PROVIDERS.get(default_provider)
        return [(entry.action.value, default_provider)] if entry else [("", "")]
    chosen: list[tuple[str, str]] = []
    for rule in settings.actions:
        if not rule.matches(finding.rule.id, finding.rule.tags, default_provider):
            continue
        if rule.do == DO_NONE:
            break
        provider = rule.provider or default_provider
        entry = PROVIDERS.get(provider)
        kind = rule.do or (entry.action.value if entry else "")
        chosen.append((kind, provider))
    known = [target for target in chosen if target[1]]  # an entry naming no provider adds nothing if others did
    return list(dict.fromkeys(known or chosen[:1]))


def place_of(finding: Finding, root: str) -> Place:
    origin = finding.origin
    commit = origin.commit if isinstance(origin, GitOrigin) else ""
    path = origin.path
    if origin.kind == "file" and path != "-":
        path = os.path.abspath(path)
    return Place(origin.kind, path, root, commit, finding.match.line, finding.finding_id)


def make_plan(result: ScanResult, settings: RespondSettings, lookup: ProviderLookup, root: str = "") -> Plan:
    """The plan for ``result``'s blocking findings. ``lookup`` makes providers (for ``supports`` and the guide);
    ``root`` is the scanned repository's top (git places are relative to it)."""
    blocking = [f for f in result.findings if f.verdict == "block"]
    by_secret: dict[str, list[Finding]] = {}
    for finding in blocking:
        by_secret.setdefault(finding.secret_id, []).append(finding)
    actions: dict[str, PlannedAction] = {}
    unhandled: list[Unhandled] = []
    credentials: dict[str, Credential] = {}
    for secret_id, found in by_secret.items():
        first = found[0]
        places = tuple(dict.fromkeys(place_of(f, root) for f in found))
        redacted = first.match.secret.redacted()
        wanted = targets(first, settings)
        if not wanted:
            why = "no response: respond.actions ask for none for this rule"
            unhandled.append(Unhandled(first.rule.id, secret_id, redacted, places, why))
        for kind_name, provider_name in wanted:
            why = _no_adapter(first.rule.id, kind_name, provider_name, lookup)
            if why:
                unhandled.append(Unhandled(first.rule.id, secret_id, redacted, places, why))
                continue
            kind = ActionKind(kind_name)
            provider = lookup(provider_name)
            aid = action_id(secret_id, kind, provider_name)
            guide = provider.guide if provider is not None else ""
            actions[aid] = PlannedAction(aid, secret_id, first.rule.id, kind, provider_name, redacted, places, guide)
            credentials[secret_id] = credential_of(first, result.findings)
    return Plan(tuple(actions.values()), tuple(unhandled), credentials)


def available(provider_name: str) -> bool:
    """Whether the provider's module is in this build (a table line may come before its module)."""
    import importlib.util

    return importlib.util.find_spec(f"scanner.respond.providers.{PROVIDERS[provider_name].module}") is not None


def _no_adapter(rule_id: str, kind: str, provider_name: str, lookup: ProviderLookup) -> str:
    if not provider_name or not kind:
        return "no adapter: no provider acts on this rule; nothing attempted"
    if not available(provider_name):
        return f"no adapter: the {provider_name} provider is not in this build; nothing attempted"
    provider = lookup(provider_name)
    if provider is not None and not provider.supports(ActionKind(kind), rule_id):
        return f"no adapter: {provider_name} cannot {kind} {rule_id} credentials; nothing attempted"
    return ""


def credential_of(finding: Finding, everything: Sequence[Finding]) -> Credential:
    """The credential a provider is handed: its secret and what else was found in the same place (same path and
    commit) by rule id, the nearest line first (an AWS key id's secret key on the next line)."""
    commit = getattr(finding.origin, "commit", "")
    related: dict[str, Secret] = {}
    nearby = sorted(
        (f for f in everything if f.path == finding.path and getattr(f.origin, "commit", "") == commit),
        key=lambda f: abs(f.match.line - finding.match.line),
    )
    for other in nearby:
        if other.secret_id != finding.secret_id and other.rule.id != finding.rule.id:
            related.setdefault(other.rule.id, other.match.secret)
    return Credential(
        rule_id=finding.rule.id,
        secret_id=finding.secret_id,
        secret=finding.match.secret,
        related=related,
        location=place_of(finding, "").describe(),
    )


def render(plan: Plan, out: TextIO, header: str = "") -> None:
    """The plan for people: rule, redacted secret, provider, action, places and the provider's guide."""
    credentials = len({a.secret_id for a in plan.actions})
    print(header or f"leakstop respond: {len(plan.actions)} actions for {credentials} credentials", file=out)
    for action in plan.actions:
        print(f"  {action.kind.value:<7} {action.provider:<8} {action.rule_id}  {action.redacted}", file=out)
        print(f"          action {action.id[:12]}; found at {_places(action.places)}", file=out)
        if action.guide:
            print(f"          guide: {action.guide}", file=out)
    for item in plan.unhandled:
        print(f"  {item.rule_id}  {item.redacted}: {item.why}", file=out)
        print(f"          found at {_places(item.places)}", file=out)


def _places(places: Sequence[Place]) -> str:
    shown = ", ".join(p.describe() for p in places[:MAX_PLACES_SHOWN])
    more = len(places) - MAX_PLACES_SHOWN
    return shown + (f" (+{more} more)" if more > 0 else "")
