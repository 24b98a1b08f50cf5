"""``.leakstop.yaml``: found at the scanned repository's root or given with ``--config``; schema-validated.

Validation (yaml + jsonschema) is cached by the file's content hash like the rules are, so the hook path does
not import jsonschema on every commit.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scanner import cache
from scanner.errors import ConfigError
from scanner.ruleset.model import RuleSpec
from scanner.sources.ignore import IgnoreRules

CONFIG_NAME = ".leakstop.yaml"
_SCHEMA_PATH = Path(__file__).with_name("config.schema.json")


@dataclass(frozen=True)
class Config:
    source: str = ""
    extend_default: bool = True
    disabled_rules: tuple[str, ...] = ()
    rules: tuple[RuleSpec, ...] = ()
    allow_paths: tuple[str, ...] = ()
    allow_stopwords: tuple[str, ...] = ()
    allow_regexes: tuple[re.Pattern[str], ...] = ()
    exclude: tuple[str, ...] = ()
    max_file_size: int | None = None
    scan_binary: bool | None = None
    respect_gitignore: bool | None = None
    max_decode_depth: int | None = None
    _allow_path_rules: IgnoreRules = field(default_factory=IgnoreRules, compare=False, repr=False)

    @property
    def root(self) -> str:
        """The directory ``allowlist.paths`` and ``exclude`` are relative to: the config file's own."""
        return os.path.dirname(os.path.abspath(self.source)) if self.source else ""

    def path_allowed(self, path: str, base: str) -> bool:
        """``path`` is as reported, relative to ``base`` (or absolute); patterns are relative to the config's root."""
        if not self._allow_path_rules:
            return False
        rel = path
        if self.root:
            candidate = os.path.relpath(os.path.normpath(os.path.join(base, path)), self.root)
            if not candidate.startswith(".."):
                rel = candidate
        return self._allow_path_rules.ignored(rel.replace(os.sep, "/").lstrip("/"), False)

    def secret_allowed(self, secret: str) -> bool:
        lowered = secret.lower()
        return any(w in lowered for w in self.allow_stopwords) or any(rx.search(secret) for rx in self.allow_regexes)


def find_config(scan_paths: list[str]) -> Path | None:
    """``.leakstop.yaml`` at the root of the repository holding the first scan path (or in that directory)."""
    first = next((p for p in scan_paths if p != "-"), ".")
    start = Path(first).resolve()
    if not start.is_dir():
        start = start.parent
    for directory in (start, *start.parents):
        candidate = directory / CONFIG_NAME
        if candidate.is_file():
            return candidate
        if (directory / ".git").exists():
            return None
    return None


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
    from scanner.ruleset.load import _yaml_load

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
        probe = {**rule, "examples": rule.get("examples") or ["-"]}
        probe["negative_examples"] = rule.get("negative_examples") or ["-"]
        _validate({"rules": [probe]}, f"{path}: rules/{index}")
    cache.write(cache_name, pickle.dumps(doc))
    return doc


def load_config(path: Path | None) -> Config:
    if path is None:
        return Config()
    doc = _validated_doc(path)
    source = str(path)
    rules = []
    for raw in doc.get("rules", []):
        rules.append(RuleSpec.from_dict(raw, source))
    allow = doc.get("allowlist", {})
    regexes = []
    for rx in allow.get("regexes", []):
        try:
            regexes.append(re.compile(rx))
        except re.error as exc:
            raise ConfigError(f"{source}: allowlist/regexes: invalid regex {rx!r}: {exc}") from None
    path_rules = IgnoreRules()
    path_rules.add_lines(list(allow.get("paths", [])), source=source)
    return Config(
        source=source,
        extend_default=doc.get("extend", "default") == "default",
        disabled_rules=tuple(doc.get("disabled_rules", [])),
        rules=tuple(rules),
        allow_paths=tuple(allow.get("paths", [])),
        allow_stopwords=tuple(s.lower() for s in allow.get("stopwords", [])),
        allow_regexes=tuple(regexes),
        exclude=tuple(doc.get("exclude", [])),
        max_file_size=doc.get("max_file_size"),
        scan_binary=doc.get("scan_binary"),
        respect_gitignore=doc.get("respect_gitignore"),
        max_decode_depth=doc.get("max_decode_depth"),
        _allow_path_rules=path_rules,
    )
