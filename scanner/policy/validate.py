"""A config file's bytes as a valid document: YAML (no implicit timestamps), the schema (``config.schema.json``),
custom rules as the rule schema has them, no regex that can backtrack catastrophically, dates that parse.

Validation is cached by the file's content hash like the rules are, so the hook path does not import jsonschema on
every commit.
"""

from __future__ import annotations

import datetime
import functools
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from scanner import cache, digests
from scanner.errors import ConfigError

_SCHEMA_PATH = Path(__file__).with_name("config.schema.json")


def validated_doc(path: Path) -> dict[str, Any]:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config: {exc.strerror}") from None
    return validated_data(data, str(path))


def validated_data(data: bytes, path: str) -> dict[str, Any]:
    """``data`` (a config's bytes, from a file or a commit) as a valid document; errors name ``path``."""
    key = digests.sha256(b"config\0" + _SCHEMA_PATH.read_bytes() + b"\0" + data).hexdigest()[:32]
    cache_name = f"config-{key}.json"
    cached = cache.read_json(cache_name)
    # A hit is checksummed by the cache and must name the config it was made from; its document is then trusted
    # like the rules' (re-validating would cost the jsonschema import the cache is here to save).
    if isinstance(cached, dict) and cached.get("source") == key and isinstance(cached.get("doc"), dict):
        doc: dict[str, Any] = cached["doc"]
        return doc
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: config is not UTF-8: {exc}") from None
    doc = _yaml_load(text, path) or {}
    import jsonschema

    validator = jsonschema.Draft202012Validator(json.loads(_SCHEMA_PATH.read_text(encoding="utf-8")))
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
    cache.write_json(cache_name, {"source": key, "doc": doc})
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
