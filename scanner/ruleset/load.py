"""Load rule files: YAML, validated against ``rules.schema.json``, cached on disk by content hash.

Parsing and validating ~200 rules costs tens of milliseconds (yaml, jsonschema, regex compilation); a hook
that runs on every commit should not pay that each time. The cache key is the hash of every rule file's bytes
plus the leakstop version, so an edited rule or an upgrade misses the cache. The built-in rules are found first
in the package's own table, by their files' stat alone (``builtintable``): a start then reads no rule file.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import scanner
from scanner import cache, digests
from scanner.errors import ConfigError
from scanner.ruleset import builtintable
from scanner.ruleset.model import CompiledRule, Ruleset, RuleSpec
from scanner.ruleset.speccache import entry_name, specs_from_bytes, specs_to_bytes, stored_rules

_SCHEMA_PATH = Path(__file__).with_name("rules.schema.json")
# Bump when RuleSpec gains or changes a derived field, so stale cached specs are not reused.
SPEC_FORMAT = 5


def builtin_rules_dir() -> Path:
    """``scanner/builtin_rules`` in an installed wheel, the top-level ``rules/`` in a source checkout."""
    here = Path(scanner.__file__).parent
    installed = here / "builtin_rules"
    return installed if installed.is_dir() else here.parent / "rules"


def rule_files(directory: Path) -> list[Path]:
    """The directory's ``*.yaml`` and ``*.yml`` files by name; ``scandir`` knows most entries' type without a
    ``stat`` (``Path.iterdir`` and ``is_file`` were 0.5 ms of every start)."""
    with os.scandir(directory) as entries:
        names = [e.name for e in entries if os.path.splitext(e.name)[1] in (".yaml", ".yml") and e.is_file()]
    return [directory / name for name in sorted(names)]


MAX_YAML_VALUES = 200_000  # values a config or rule file may hold once its aliases are expanded


def _yaml_load(text: str, source: str, loader: Any = None) -> Any:
    import yaml

    loader = loader or getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        doc = yaml.load(text, Loader=loader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{source}: {where}invalid YAML: {problem}") from None
    _refuse_expansion(doc, source)
    return doc


def _refuse_expansion(doc: Any, source: str) -> None:
    """A YAML alias bomb (aliases of aliases: a few lines that stand for billions of values) is refused before
    anything walks it: the values are counted, each alias as often as it is used, up to ``MAX_YAML_VALUES``."""
    stack = [doc]
    seen = 0
    while stack:
        node = stack.pop()
        seen += 1
        if seen > MAX_YAML_VALUES:
            raise ConfigError(
                f"{source}: over {MAX_YAML_VALUES} values once YAML aliases are expanded (an alias bomb?)"
            )
        if isinstance(node, dict):
            stack.extend(node.keys())
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)


def _validate(doc: Any, source: str) -> None:
    import json

    import jsonschema

    schema = json.loads(_SCHEMA_PATH.read_text(encoding="utf-8"))
    validator = jsonschema.Draft202012Validator(schema)
    error = jsonschema.exceptions.best_match(validator.iter_errors(doc))
    if error is None:
        return
    path = list(error.absolute_path)
    where = "/".join(str(p) for p in path) or "(top level)"
    if len(path) >= 2 and path[0] == "rules" and isinstance(path[1], int):
        rule = doc["rules"][path[1]]
        rule_id = rule.get("id") if isinstance(rule, dict) else None
        field_path = "/".join(str(p) for p in path[2:]) or "(rule)"
        where = f"rule {rule_id or '#' + str(path[1])}: {field_path}"
    raise ConfigError(f"{source}: {where}: {error.message}")


def parse_rule_file(text: str, source: str) -> list[RuleSpec]:
    doc = _yaml_load(text, source)
    _validate(doc, source)
    provider = str(doc.get("provider", ""))
    return [RuleSpec.from_dict(r, source, provider) for r in doc["rules"]]


def load_rule_files(paths: Iterable[Path]) -> list[RuleSpec]:
    """Parse and validate rule files; errors name the file, the rule and the field."""
    specs: list[RuleSpec] = []
    for path in paths:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path}: cannot read rule file: {exc}") from None
        specs.extend(parse_rule_file(text, str(path)))
    return specs


def compile_specs(
    specs: Sequence[RuleSpec], validate: bool = True, existing: Sequence[RuleSpec] = ()
) -> tuple[CompiledRule, ...]:
    seen: dict[str, str] = {spec.id: spec.source for spec in existing}
    for spec in specs:
        if spec.id in seen:
            raise ConfigError(f"{spec.source}: rule {spec.id}: id: duplicate (first defined in {seen[spec.id]})")
        seen[spec.id] = spec.source
    return tuple(spec.compile(validate=validate) for spec in specs)


def _refuse_catastrophic(specs: Sequence[RuleSpec]) -> None:
    """A user's rule file runs in ``re`` like a config's rules: the same backtracking check (issue #18 item 11)."""
    from scanner.ruleset.redos import refuse_catastrophic

    for spec in specs:
        where = f"{spec.source}: rule {spec.id}"
        refuse_catastrophic(spec.regex, f"{where}: regex")
        for field, patterns in (("allowlist/regexes", spec.allow_regexes), ("allowlist/paths", spec.allow_paths)):
            for index, pattern in enumerate(patterns):
                refuse_catastrophic(pattern, f"{where}: {field}/{index}")


def _compile_cached(specs: Sequence[RuleSpec]) -> tuple[CompiledRule, ...] | None:
    """Cached specs compiled without the checks they passed when stored; None (rebuild) if one does not compile."""
    try:
        return compile_specs(specs, validate=False)
    except (re.error, ConfigError, RecursionError, OverflowError):
        return None


def load_ruleset(paths: Sequence[Path] | None = None, extra: Sequence[RuleSpec] = ()) -> Ruleset:
    """Load rule files (the built-ins by default) plus ``extra`` specs, through the on-disk cache."""
    key, specs, compiled = _builtin_rules() if paths is None else _cached_rules(list(paths))
    extra_compiled = compile_specs(extra, existing=specs)
    rules = compiled + tuple(extra_compiled)
    full_hash = digests.sha256(key.encode() + repr([r.spec for r in extra_compiled]).encode()).hexdigest()
    return Ruleset(rules=rules, hash=full_hash)


_Loaded = tuple[str, list[RuleSpec], tuple[CompiledRule, ...]]  # content key, specs, compiled rules


def _builtin_rules() -> _Loaded:
    """The built-in rules from the package's own table when their files' signature matches it (no file is read
    or hashed, no field's type checked: see ``builtintable``), else through the cache directory, and the table
    is written for the next start."""
    files = rule_files(builtin_rules_dir())
    taken_ns = time.time_ns()
    signature = builtintable.signature(files, SPEC_FORMAT)  # before the files are read: racy ones are not kept
    stored = builtintable.read(signature, lambda: _builtin_from_files(rule_files(builtin_rules_dir()))[1])
    if stored is not None:
        compiled = stored_rules(stored[1])
        if compiled is not None:
            return stored[0], stored[1], compiled
    return _builtin_from_files(files, taken_ns, signature)


def _builtin_from_files(
    files: list[Path], taken_ns: int = 0, signature: builtintable.Signature | None = None
) -> _Loaded:
    """The built-in rules through the cache directory, and the table written for the next start (a signature
    taken now, unless the caller took it before it read the table)."""
    if not taken_ns:
        taken_ns = time.time_ns()
        signature = builtintable.signature(files, SPEC_FORMAT)
    loaded = _cached_rules(files)
    builtintable.write(signature, taken_ns, loaded[0], loaded[1])
    return loaded


def _cached_rules(files: list[Path]) -> _Loaded:
    """Rule files through the cache directory, keyed by the SHA-256 of their content and the version."""
    digest = digests.sha256(f"{scanner.__version__}/spec-format-{SPEC_FORMAT}".encode())
    contents = []
    for path in files:
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise ConfigError(f"{path}: cannot read rule file: {exc}") from None
        contents.append(data)
        digest.update(path.name.encode() + b"\0" + digests.sha256(data).digest())
    key = digest.hexdigest()
    cache_name = entry_name(key)
    specs = specs_from_bytes(cache.read(cache_name))
    compiled = _compile_cached(specs) if specs is not None else None
    if specs is not None and compiled is not None:
        return key, specs, compiled
    specs = []
    for path, data in zip(files, contents, strict=True):
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ConfigError(f"{path}: rule file is not UTF-8: {exc}") from None
        parsed = parse_rule_file(text, str(path))
        if path.parent.resolve() != builtin_rules_dir().resolve():
            _refuse_catastrophic(parsed)  # built-in rules are checked by a test instead
        specs.extend(parsed)
    compiled = compile_specs(specs)
    specs = [rule.spec for rule in compiled]
    cache.write(cache_name, specs_to_bytes(specs))
    return key, specs, compiled
