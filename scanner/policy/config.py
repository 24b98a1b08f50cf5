"""``.leakstop.yaml``: found at the scanned repository's root or given with ``--config``; schema-validated.

Validation (yaml + jsonschema) is cached by the file's content hash like the rules are, so the hook path does
not import jsonschema on every commit.
"""

from __future__ import annotations

import datetime
import functools
import hashlib
import json
import os
import pickle
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scanner import cache
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
from scanner.ruleset.model import RuleSpec

CONFIG_NAME = ".leakstop.yaml"
_SCHEMA_PATH = Path(__file__).with_name("config.schema.json")


@dataclass(frozen=True)
class Config:
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

    @property
    def root(self) -> str:
        """The directory allowlist ``paths`` and ``exclude`` are relative to: the config file's own."""
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
        if not self.policy.baseline:
            return ""
        return os.path.join(self.root, self.policy.baseline) if self.root else self.policy.baseline


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


def _validated_doc(path: Path) -> dict[str, Any]:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config: {exc.strerror}") from None
    key = hashlib.sha256(b"config\0" + _SCHEMA_PATH.read_bytes() + b"\0" + data).hexdigest()[:32]
    cache_name = f"config-{key}.pickle"
    cached = cache.read(cache_name)
    if cached is not None:
        try:
            doc: dict[str, Any] = pickle.loads(cached)
            return doc
        except (pickle.UnpicklingError, EOFError, ValueError):
            pass
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: config is not UTF-8: {exc}") from None
    doc = _yaml_load(text, str(path)) or {}
    import jsonschema

    validator = jsonschema.Draft202012Validator(json.loads(_SCHEMA_PATH.read_text()))
    error = jsonschema.exceptions.best_match(validator.iter_errors(doc))
    if error is not None:
        where = "/".join(str(p) for p in error.absolute_path) or "(top level)"
        raise ConfigError(f"{path}: {where}: {error.message}")
    from scanner.ruleset.load import _validate

    for index, rule in enumerate(doc.get("rules", [])):
        # Examples are optional in a config; the rule schema requires them, so validate with stand-ins.
        probe = {key: value for key, value in rule.items() if key != "allowlists"}  # checked by the config schema
        probe["examples"] = rule.get("examples") or ["-"]
        probe["negative_examples"] = rule.get("negative_examples") or ["-"]
        _validate({"rules": [probe]}, f"{path}: rules/{index}")
    _refuse_catastrophic_regexes(doc, str(path))
    for index, exception in enumerate(doc.get("exceptions", [])):
        try:
            datetime.date.fromisoformat(exception["expires"])
        except ValueError:
            raise ConfigError(
                f"{path}: exceptions/{index}/expires: {exception['expires']!r} is not a date (YYYY-MM-DD)"
            ) from None
    cache.write(cache_name, pickle.dumps(doc))
    return doc


def _refuse_catastrophic_regexes(doc: dict[str, Any], source: str) -> None:
    """User regexes run in Python's backtracking ``re``: refuse those that can hang a hook (issue #5). Checked
    once per config content, like the schema (the result is cached)."""
    from scanner.ruleset.redos import refuse_catastrophic

    for index, rule in enumerate(doc.get("rules", [])):
        where = f"{source}: rules/{index} (rule {rule.get('id')})"
        refuse_catastrophic(str(rule.get("regex", "")), f"{where}: regex")
        # A rule's own single ``allowlist`` takes path regexes; the ``allowlists`` entries take globs.
        for key, fields in (("allowlist", ("regexes", "paths")), ("allowlists", _REGEX_FIELDS)):
            for path, rx in _allowlist_regexes(rule.get(key), key, fields):
                refuse_catastrophic(rx, f"{where}: {path}")
    for path, rx in _allowlist_regexes(doc.get("allowlist"), "allowlist", _REGEX_FIELDS):
        refuse_catastrophic(rx, f"{source}: {path}")
    for index, override in enumerate(doc.get("rule_overrides", [])):
        where = f"{source}: rule_overrides/{index} (rule {override.get('id')})"
        if "regex" in override:
            refuse_catastrophic(str(override["regex"]), f"{where}: regex")
        for path, rx in _allowlist_regexes(override.get("allowlist"), "allowlist", ("regexes", "paths")):
            refuse_catastrophic(rx, f"{where}: {path}")


_REGEX_FIELDS = ("regexes", "path_regexes")


def _allowlist_regexes(value: Any, where: str, fields: tuple[str, ...]) -> Iterator[tuple[str, str]]:
    """(JSON path, regex) of the regex ``fields`` of an allowlist given as one object or a list of them."""
    entries = [(where, value)] if isinstance(value, dict) else []
    if isinstance(value, list):
        entries = [(f"{where}/{i}", entry) for i, entry in enumerate(value) if isinstance(entry, dict)]
    for prefix, entry in entries:
        for key in fields:
            for n, rx in enumerate(entry.get(key) or []):
                yield f"{prefix}/{key}/{n}", str(rx)


@functools.cache
def _config_loader() -> Any:
    """A safe YAML loader without implicit timestamps: an expiry date stays the string the user wrote."""
    import yaml

    base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    resolvers = {
        first: [(tag, rx) for tag, rx in entries if tag != "tag:yaml.org,2002:timestamp"]
        for first, entries in base.yaml_implicit_resolvers.items()
    }
    return type("ConfigLoader", (base,), {"yaml_implicit_resolvers": resolvers})


def _yaml_load(text: str, source: str) -> Any:
    from scanner.ruleset.load import _yaml_load as load

    return load(text, source, _config_loader())


def load_config(path: Path | None) -> Config:
    if path is None:
        return Config()
    doc = _validated_doc(path)
    source = str(path)
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
    )


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
        )
        for index, o in enumerate(raw.get("overrides", []))
    )
    inline = doc.get("inline_allow", {})
    return Policy(
        block=Threshold(**raw["block"]) if "block" in raw else default.block,
        warn=Threshold(**raw["warn"]) if "warn" in raw else default.warn,
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
        bypass=_bypass_policy(raw.get("bypass", {})),
    )


def _bypass_policy(raw: dict[str, Any]) -> BypassPolicy:
    return BypassPolicy(
        enabled=raw.get("enabled", False),
        channels=tuple(raw.get("channels", BYPASS_CHANNELS)),
        reason_required=raw.get("reason_required", True),
        max_age=parse_age(raw.get("max_age", "72h")),
        who=tuple(raw.get("who", ())),
    )
