"""``.leakstop.yaml``: found at the scanned repository's root or given with ``--config``; validated (``validate``),
then built into a ``Config``: custom rules, allowlists and the policy."""

from __future__ import annotations

import datetime
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from scanner.errors import ConfigError
from scanner.models import PolicyException
from scanner.policy.allowlists import Allowlist, Allowlists
from scanner.policy.gate import (
    BYPASS_CHANNELS,
    BypassPolicy,
    InlineAllow,
    Override,
    Policy,
    Threshold,
    parse_age,
)
from scanner.policy.respond import RespondSettings, respond_settings
from scanner.ruleset.model import RuleSpec

if TYPE_CHECKING:
    from scanner.policy.pushprotection import PushProtection

CONFIG_NAME = ".leakstop.yaml"
BASELINE_NAME = ".leakstop-baseline.json"  # found as the config is; read by ``policy.baseline``


@dataclass(frozen=True)
class CiSettings:
    """``ci:``: what ``leakstop ci`` scans in scheduled and manual pipelines, and whether it may fetch."""

    scope: Literal["tree", "history"] = "tree"  # the checked-out files, or every commit of every ref
    fetch: bool = False  # deepen a shallow clone / fetch the default branch when commits are missing


@dataclass(frozen=True)
class ValidateSettings:
    """``validate:`` (``true``, or a mapping): live validation for ``scan`` and ``ci``. Never in a git hook's scan
    (``--staged``, ``--push``) unless ``hooks: true``. ``cache`` is relative to the config's directory."""

    enabled: bool = False
    hooks: bool = False
    deadline: float = 60.0
    cache: str = ""
    ttl: float = 24 * 3600.0
    rate: float = 20.0
    per_provider: int = 4
    workers: int = 16


@dataclass(frozen=True)
class Config:
    """A loaded, schema-checked config (or the defaults without one): rules, policy, allowlists, settings."""

    source: str = ""
    extend_default: bool = True
    disabled_rules: tuple[str, ...] = ()
    rule_overrides: tuple[dict[str, Any], ...] = ()  # schema-valid; applied by scan.build_ruleset
    rules: tuple[RuleSpec, ...] = ()
    allowlists: Allowlists = field(default_factory=Allowlists)
    exclude: tuple[str, ...] = ()
    max_file_size: int | None = None
    scan_binary: bool | None = None
    respect_gitignore: bool | None = None
    max_decode_depth: int | None = None
    policy: Policy = field(default_factory=Policy)
    ci: CiSettings = field(default_factory=CiSettings)
    push_protection: PushProtection | None = None  # the server hook's settings; None: the config has none
    respond: RespondSettings = field(default_factory=RespondSettings)  # the leak response (``respond:``)
    validate: ValidateSettings = field(default_factory=ValidateSettings)  # live validation (``validate:``)
    # Where the config's relative paths start when ``source`` is no file: a config read from a commit
    # (``BASE:.leakstop.yaml``) is relative to the repository's root.
    directory: str = ""

    @property
    def root(self) -> str:
        """The directory allowlist ``paths`` and ``exclude`` are relative to: the config file's own."""
        if self.directory:
            return self.directory
        return os.path.dirname(os.path.abspath(self.source)) if self.source else ""

    def relative_path(self, path: str, base: str) -> str:
        """``path`` as reported (relative to ``base``, or absolute), made relative to the config's root."""
        rel = path
        if self.root:
            candidate = os.path.relpath(os.path.normpath(os.path.join(base, path)), self.root)
            if not candidate.startswith(".."):
                rel = candidate
        return rel.replace(os.sep, "/").lstrip("/")

    @property
    def baseline_path(self) -> str:
        """The policy's ``baseline``, resolved against the config's directory; "" when it names none."""
        return self._resolved(self.policy.baseline)

    @property
    def audit_log_path(self) -> str:
        """The policy's ``audit_log``, resolved against the config's directory; "" when it names none."""
        return self._resolved(self.policy.audit_log)

    def _resolved(self, path: str) -> str:
        if not path:
            return ""
        return os.path.join(self.root, path) if self.root else path


def find_upward(scan_paths: list[str], name: str) -> Path | None:
    """``name`` in the first scan path's directory or a parent of it, up to the repository root (the
    directory holding ``.git``); None if there is none."""
    start = Path(next((p for p in scan_paths if p != "-"), ".")).resolve()
    if not start.is_dir():
        start = start.parent
    for directory in (start, *start.parents):
        candidate = directory / name
        if candidate.is_file():
            return candidate
        if (directory / ".git").exists():
            return None
    return None


def find_config(scan_paths: list[str]) -> Path | None:
    """``.leakstop.yaml`` at the root of the repository holding the first scan path (or in that directory)."""
    return find_upward(scan_paths, CONFIG_NAME)


def load_config(path: Path | None) -> Config:
    if path is None:
        return Config()  # most repositories: no schema check (``policy.validate`` and json stay unloaded)
    from scanner.policy.validate import validated_doc

    return _config(validated_doc(path), str(path))


def load_config_data(data: bytes, source: str, directory: str) -> Config:
    """A config from its bytes (read from a commit): ``source`` names it in errors, ``directory`` is its root."""
    from scanner.policy.validate import validated_data

    return _config(validated_data(data, source), source, directory)


def _config(doc: dict[str, Any], source: str, directory: str = "") -> Config:
    rules = []
    for raw in doc.get("rules", []):
        rules.append(RuleSpec.from_dict(raw, source))
    return Config(
        source=source,
        extend_default=doc.get("extend", "default") == "default",
        disabled_rules=tuple(doc.get("disabled_rules", [])),
        rule_overrides=tuple(doc.get("rule_overrides", [])),
        rules=tuple(rules),
        allowlists=_allowlists(doc, source),
        exclude=tuple(doc.get("exclude", [])),
        max_file_size=doc.get("max_file_size"),
        scan_binary=doc.get("scan_binary"),
        respect_gitignore=doc.get("respect_gitignore"),
        max_decode_depth=doc.get("max_decode_depth"),
        policy=_policy(doc, source),
        ci=CiSettings(**doc.get("ci", {})),
        push_protection=_push_protection(doc, source),
        respond=respond_settings(doc.get("respond", {}), source),
        validate=_validate_settings(doc.get("validate", False)),
        directory=directory,
    )


def _push_protection(doc: dict[str, Any], source: str) -> PushProtection | None:
    if "push_protection" not in doc:
        return None
    from scanner.policy.pushprotection import push_protection  # the server hook's: not on the commit hook's path

    return push_protection(doc["push_protection"], source)


def _allowlists(doc: dict[str, Any], source: str) -> Allowlists:
    """The global ``allowlist`` (one object, or a list) and each custom rule's ``allowlists``, in that order."""
    raw = doc.get("allowlist")
    entries: list[tuple[str, dict[str, Any], str, tuple[str, ...]]] = []
    if isinstance(raw, dict):
        entries.append(("allowlist", raw, raw.get("name", ""), tuple(raw.get("rules", ()))))
    for index, entry in enumerate(raw if isinstance(raw, list) else []):
        entries.append((f"allowlist/{index}", entry, entry.get("name", str(index)), tuple(entry.get("rules", ()))))
    for rule_index, rule in enumerate(doc.get("rules", [])):
        for index, entry in enumerate(rule.get("allowlists", [])):
            label = entry.get("name", f"{rule['id']}/{index}")
            entries.append((f"rules/{rule_index}/allowlists/{index}", entry, label, (str(rule["id"]),)))
    items: list[Allowlist] = []
    for where, entry, label, rules in entries:
        if not any(entry.get(k) for k in ("paths", "path_regexes", "regexes", "stopwords", "commits")):
            raise ConfigError(
                f"{source}: {where}: allows nothing: give paths, path_regexes, regexes, stopwords or commits"
            )
        items.append(
            Allowlist.build(
                len(items),
                label,
                rules=rules,
                paths=tuple(entry.get("paths", ())),
                path_regexes=_regexes(entry.get("path_regexes", ()), f"{source}: {where}/path_regexes"),
                regexes=_regexes(entry.get("regexes", ()), f"{source}: {where}/regexes"),
                regex_target=entry.get("regex_target", "secret"),
                stopwords=tuple(entry.get("stopwords", ())),
                commits=tuple(entry.get("commits", ())),
                condition=entry.get("condition", "any"),
                source=source,
                where=where,
            )
        )
    return Allowlists(tuple(items))


def _regexes(patterns: list[str], where: str) -> tuple[re.Pattern[str], ...]:
    compiled = []
    for index, pattern in enumerate(patterns):
        try:
            compiled.append(re.compile(pattern))
        except re.error as exc:
            raise ConfigError(f"{where}/{index}: invalid regex {pattern!r}: {exc}") from None
    return tuple(compiled)


def _policy(doc: dict[str, Any], source: str) -> Policy:
    raw = doc.get("policy", {})
    default = Policy()
    overrides = tuple(
        Override.build(
            action=o["action"],
            index=index,
            rules=tuple(o.get("rules", ())),
            tags=tuple(o.get("tags", ())),
            paths=tuple(o.get("paths", ())),
            targets=tuple(o.get("targets", ())),
            source=source,
            branches=tuple(o.get("branches", ())),
            validation=_states(o.get("validation", ())),
        )
        for index, o in enumerate(raw.get("overrides", []))
    )
    inline = doc.get("inline_allow", {})
    return Policy(
        block=_threshold(raw["block"]) if "block" in raw else default.block,
        warn=_threshold(raw["warn"]) if "warn" in raw else default.warn,
        overrides=overrides,
        inline_allow=InlineAllow(
            enabled=inline.get("enabled", True), markers=tuple(inline.get("markers", default.inline_allow.markers))
        ),
        exceptions=tuple(
            PolicyException(
                id=e["id"], owner=e["owner"], reason=e["reason"], expires=datetime.date.fromisoformat(e["expires"])
            )
            for e in doc.get("exceptions", [])
        ),
        baseline=raw.get("baseline", ""),
        policy_change=raw.get("policy_change", default.policy_change),
        incomplete=raw.get("incomplete", default.incomplete),
        bypass=_bypass_policy(raw.get("bypass", {})),
        audit_log=raw.get("audit_log", ""),
    )


def _bypass_policy(raw: dict[str, Any]) -> BypassPolicy:
    return BypassPolicy(
        enabled=raw.get("enabled", False),
        channels=tuple(raw.get("channels", BYPASS_CHANNELS)),
        reason_required=raw.get("reason_required", True),
        max_age=parse_age(raw.get("max_age", "72h")),
        who=tuple(raw.get("who", ())),
    )


def _states(value: str | list[str] | tuple[str, ...]) -> tuple[str, ...]:
    return (value,) if isinstance(value, str) else tuple(value)


def _threshold(raw: dict[str, Any]) -> Threshold:
    return Threshold(**{**raw, "validation": _states(raw.get("validation", ()))})


def _validate_settings(raw: bool | dict[str, Any]) -> ValidateSettings:
    if isinstance(raw, bool):
        return ValidateSettings(enabled=raw)
    default = ValidateSettings()
    return ValidateSettings(
        enabled=raw.get("enabled", True),
        hooks=raw.get("hooks", False),
        deadline=float(raw.get("deadline", default.deadline)),
        cache=raw.get("cache", ""),
        ttl=parse_age(raw["ttl"]).total_seconds() if "ttl" in raw else default.ttl,
        rate=float(raw.get("rate", default.rate)),
        per_provider=raw.get("per_provider", default.per_provider),
        workers=raw.get("workers", default.workers),
    )
