"""The two layers of a rule: ``RuleSpec`` (checked data from YAML) and ``CompiledRule`` (ready to run)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any

from scanner import regexcode
from scanner.errors import ConfigError
from scanner.lazyre import LazyPattern
from scanner.models import Confidence, RuleInfo, Severity
from scanner.ruleset.charset import in_set, sre_parse
from scanner.ruleset.checksums import CHECKSUMS
from scanner.ruleset.spectext import read_later

# Constructs that Hyperscan (and RE2) refuse: lookaround, backreferences, named groups, atomic groups,
# possessive quantifiers. Checked up front so a rule that works in Python re cannot break the fast engine.
_UNPORTABLE = LazyPattern(r"\(\?[=!<>P]|\\[1-9]|[*+?}]\+")


@read_later  # a built-in spec's text fields: read on first use
@dataclass(frozen=True)
class RuleSpec:
    """A rule as its file states it (the schema's fields), before its regex is checked and compiled."""

    id: str
    name: str
    regex: str
    keywords: tuple[str, ...]
    severity: Severity
    confidence: Confidence
    source: str = ""
    description: str = ""
    secret_group: int | None = None
    min_entropy: float = 0.0
    checksum: str = ""
    generic: bool = False
    provider: str = ""
    tags: tuple[str, ...] = ()
    allow_regexes: tuple[str, ...] = ()
    allow_stopwords: tuple[str, ...] = ()
    allow_paths: tuple[str, ...] = ()
    examples: tuple[str, ...] = ()
    negative_examples: tuple[str, ...] = ()
    references: tuple[str, ...] = ()
    # A built-in validator's name, or a declared check as canonical JSON (``ruleset.validator``); "" = none.
    validator: str = ""
    # Derived at validation (see ``scan_window``), cached with the spec: 0 means "scan the whole content".
    window: int = 0
    # Hyperscan is given the keywords instead of the regex (``prefilter: keywords``): the same candidates the
    # ``re`` engine's keyword prefilter gives, for a regex that slows the whole database down.
    prefilter_keywords: bool = False

    @classmethod
    def from_dict(cls, data: dict[str, object], source: str, default_provider: str = "") -> RuleSpec:
        """Build from an already schema-valid mapping."""
        allow = data.get("allowlist") or {}
        assert isinstance(allow, dict)

        def strings(value: object) -> tuple[str, ...]:
            return tuple(str(v) for v in value) if isinstance(value, list) else ()

        group = data.get("secret_group")
        return cls(
            id=str(data["id"]),
            name=str(data["name"]),
            regex=str(data["regex"]),
            keywords=tuple(k.lower() for k in strings(data["keywords"])),
            severity=data["severity"],  # type: ignore[arg-type]
            confidence=data["confidence"],  # type: ignore[arg-type]
            source=source,
            description=str(data.get("description", "")),
            secret_group=group if isinstance(group, int) else None,
            min_entropy=float(data.get("min_entropy", 0.0)),  # type: ignore[arg-type]
            checksum=str(data.get("checksum", "")),
            generic=bool(data.get("generic", False)),
            provider=str(data.get("provider", default_provider)),
            tags=strings(data.get("tags")),
            allow_regexes=strings(allow.get("regexes")),
            allow_stopwords=tuple(s.lower() for s in strings(allow.get("stopwords"))),
            allow_paths=strings(allow.get("paths")),
            examples=strings(data.get("examples")),
            negative_examples=strings(data.get("negative_examples")),
            references=strings(data.get("references")),
            validator=_validator(data.get("validator"), f"{source}: rule {data['id']}"),
            prefilter_keywords=data.get("prefilter") == "keywords",
        )

    def to_dict(self) -> dict[str, Any]:
        """The rule-file form ``from_dict`` reads (what a ``rule_overrides`` entry is merged onto)."""
        return {
            "id": self.id,
            "name": self.name,
            "regex": self.regex,
            "keywords": list(self.keywords),
            "severity": self.severity,
            "confidence": self.confidence,
            "description": self.description,
            "secret_group": self.secret_group,
            "min_entropy": self.min_entropy,
            "checksum": self.checksum,
            "generic": self.generic,
            "tags": list(self.tags),
            "allowlist": {
                "regexes": list(self.allow_regexes),
                "stopwords": list(self.allow_stopwords),
                "paths": list(self.allow_paths),
            },
            "examples": list(self.examples),
            "negative_examples": list(self.negative_examples),
            "references": list(self.references),
            **({"validator": _validator_form(self.validator)} if self.validator else {}),
            **({"prefilter": "keywords"} if self.prefilter_keywords else {}),
        }

    def info(self) -> RuleInfo:
        return RuleInfo(
            id=self.id,
            name=self.name,
            description=self.description or self.name,
            severity=self.severity,
            confidence=self.confidence,
            provider=self.provider,
            tags=self.tags,
            references=self.references,
        )

    def compile(self, validate: bool = True) -> CompiledRule:
        """Check the invariants the schema cannot express; errors name the file, the rule and the field.

        ``validate=False`` is for specs that passed validation before (the on-disk cache): it skips compiling
        the regex now, which is the costly part of loading a ruleset.
        """
        if not validate:
            group = self.secret_group
            if group is None:
                group = 1 if re.compile(self.regex.encode()).groups else 0
            return CompiledRule(
                spec=self,
                secret_group=group,
                keywords=tuple(map(str.encode, self.keywords)),
            )
        where = f"{self.source}: rule {self.id}"
        if _UNPORTABLE.search(self.regex):
            raise ConfigError(
                f"{where}: regex: uses lookaround, a backreference, a named or atomic group or a possessive "
                "quantifier, which Hyperscan and RE2 cannot run"
            )
        try:
            pattern = re.compile(self.regex.encode())
        except re.error as exc:
            raise ConfigError(f"{where}: regex: invalid: {exc}") from None
        group = self.secret_group if self.secret_group is not None else (1 if pattern.groups else 0)
        if group > pattern.groups:
            raise ConfigError(f"{where}: secret_group: {group}, but the regex has {pattern.groups} groups")
        if self.checksum and self.checksum not in CHECKSUMS:
            raise ConfigError(
                f"{where}: checksum: unknown validator {self.checksum!r} (known: {', '.join(sorted(CHECKSUMS))})"
            )
        for field_name, patterns in (("regexes", self.allow_regexes), ("paths", self.allow_paths)):
            for rx in patterns:
                try:
                    re.compile(rx)
                except re.error as exc:
                    raise ConfigError(f"{where}: allowlist.{field_name}: invalid regex {rx!r}: {exc}") from None
        resolved = replace(self, secret_group=group)
        resolved = replace(resolved, window=scan_window(resolved, pattern, group))
        return CompiledRule(
            spec=resolved,
            secret_group=group,
            keywords=tuple(map(str.encode, self.keywords)),
        )


MAX_WINDOW = 2048
LINE_WINDOW = -1  # ``RuleSpec.window`` value: matches stay on the line of their keyword


def scan_window(spec: RuleSpec, pattern: re.Pattern[bytes], group: int) -> int:
    """Where a rule's matches can be, relative to a keyword occurrence: ``LINE_WINDOW`` (on its line), a width in
    bytes, or 0 when the whole content must be searched.

    A rule is "keyword-anchored" when every example match contains one of its keywords; its matches are then
    found by searching only near keyword occurrences, which skips most of a large file. Both engines use the same
    windows (``detect.engine.rule_matches``), so their findings stay identical.
    """
    if not spec.examples or not keyword_anchored(spec, pattern, [k.encode() for k in spec.keywords]):
        return 0
    parsed = sre_parse().parse(spec.regex)
    items = list(parsed)
    flags = parsed.state.flags
    if items and not any(can_match_newline(op, av, flags) for op, av in items[:-1]) and last_stays(parsed, items):
        return LINE_WINDOW
    width = parsed.getwidth()[1]
    return int(width) if width <= MAX_WINDOW else 0


def keyword_anchored(spec: RuleSpec, pattern: Any, keywords: Sequence[bytes]) -> bool:
    """Whether every match in the rule's examples holds one of ``keywords`` (lower-case bytes)."""
    for example in spec.examples:
        data = example.encode()
        for m in pattern.finditer(data):
            if not any(k in data[m.start() : m.end()].lower() for k in keywords):
                return False
    return True


def last_stays(parsed: Any, items: list[tuple[Any, Any]]) -> bool:
    """Whether the last of a parsed regex's ``items`` matches no newline, or at most one character (which may be
    the newline that ends the line)."""
    last_op, last_av = items[-1]
    if not can_match_newline(last_op, last_av, parsed.state.flags):
        return True
    return bool(sre_parse().SubPattern(parsed.state, [items[-1]]).getwidth()[1] <= 1)


def can_match_newline(op: Any, av: Any, flags: int) -> bool:
    """Can this node of a parsed regex (``re._parser``) consume a newline?"""
    name = str(op)
    if name == "LITERAL":
        return bool(av == 10)
    if name == "NOT_LITERAL":
        return bool(av != 10)
    if name == "ANY":
        return bool(flags & re.DOTALL)
    if name == "IN":
        return in_set(av, 10)
    if name == "BRANCH":
        return any(can_match_newline(o, a, flags) for branch in av[1] for o, a in branch)
    if name == "SUBPATTERN":
        _group, add_flags, del_flags, sub = av
        inner = (flags | add_flags) & ~del_flags
        return any(can_match_newline(o, a, inner) for o, a in sub)
    if name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
        return any(can_match_newline(o, a, flags) for o, a in av[2])
    if name == "ATOMIC_GROUP":
        return any(can_match_newline(o, a, flags) for o, a in av)
    return name not in ("AT", "ASSERT", "ASSERT_NOT")  # anchors match no character; anything else: assume yes


@dataclass(frozen=True, eq=False)
class CompiledRule:
    """A checked rule as detection uses it: its spec, the regex group that holds the secret, keywords as bytes."""

    spec: RuleSpec
    secret_group: int
    keywords: tuple[bytes, ...]

    @property
    def id(self) -> str:
        return self.spec.id

    @cached_property
    def pattern(self) -> re.Pattern[bytes]:
        # Compiled on first use (a hook run that never needs a rule's regex never pays for it), from stored code.
        return regexcode.compile(self.spec.regex.encode())

    # The allowlists too: compiled when a match of the rule is judged (they were checked when the spec was).
    @cached_property
    def allow_regexes(self) -> tuple[re.Pattern[str], ...]:
        return tuple(regexcode.compile(rx) for rx in self.spec.allow_regexes)

    @cached_property
    def allow_paths(self) -> tuple[re.Pattern[str], ...]:
        return tuple(regexcode.compile(rx) for rx in self.spec.allow_paths)


@dataclass(frozen=True)
class Ruleset:
    """The rules a scan runs, the hash that keys their caches, and the rules by id."""

    rules: tuple[CompiledRule, ...]
    hash: str
    by_id: dict[str, CompiledRule] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.by_id.update({r.id: r for r in self.rules})


def _validator(value: object, where: str) -> str:
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        return value
    # Only where a rule file is parsed: the module's two dataclasses are not made at a start that loads cached rules
    from scanner.ruleset.validator import encode, parse_declared

    return encode(parse_declared(value, where))


def _validator_form(value: str) -> object:
    if not value.startswith("{"):
        return value
    import json  # where it is used: the commit hook's run never imports it (``cache.read_json``)

    return json.loads(value)
