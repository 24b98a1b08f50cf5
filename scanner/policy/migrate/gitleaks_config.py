"""A gitleaks TOML config (8.x, ``config/rule.go``, ``config/allowlist.go``) as a ``.leakstop.yaml``.

Mapped: ``[extend] useDefault`` (``extend``), ``disabledRules`` that name one of our rules (``disabled_rules``),
``[[rules]]`` (id, description, regex, secretGroup, entropy, keywords, tags, allowlists) as custom rules with
their own ``allowlists``, and ``[allowlist]`` / ``[[allowlists]]`` (description, condition, commits, paths,
regexes, regexTarget, stopwords, targetRules) as ours (gitleaks' path regexes become ``path_regexes``). With
``useDefault``, a ``[[rules]]`` entry with a built-in id and no regex adds its allowlists to that rule (ours of the
same id), and a full rule with a built-in id replaces it (ours disabled, theirs added as ``gitleaks-<id>``). A rule
without keywords gets a literal that every match contains (``required_literal``), if there is one.

Everything else is listed as not converted, never silently dropped. Regexes are Go RE2: the few Go-only forms with
a Python equivalent are rewritten (``\\z``, named groups, POSIX classes, ``\\Q…\\E``); the rest (``\\p{…}``
classes, the ungreedy flag, flags after the start, anything Python ``re`` refuses or reads differently) is listed
and left out. Leaving out part of an allowlist may only make it allow less: an ``AND`` allowlist that loses a
criterion is left out whole.
"""

from __future__ import annotations

import re
import sys
import warnings
from dataclasses import dataclass, field
from typing import Any

from scanner.errors import ConfigError
from scanner.pathmatch import POSIX_CLASSES

# gitleaks has no severity or confidence; a converted rule gets these (edit the output to taste).
DEFAULT_SEVERITY = "high"
DEFAULT_CONFIDENCE = "medium"
_COMMIT = re.compile(r"[0-9a-fA-F]{4,64}")
_GO_ONLY = (
    (re.compile(r"\\[pP]"), "Unicode classes (\\p{...})"),
    (re.compile(r"\(\?[a-zA-Z]*U[a-zA-Z]*[:)]"), "the ungreedy flag (?U)"),
)


@dataclass
class Conversion:
    doc: dict[str, Any] = field(default_factory=dict)
    not_converted: list[str] = field(default_factory=list)  # one line each: where, what, why


def load_toml(text: str, source: str) -> dict[str, Any]:
    if sys.version_info >= (3, 11):
        import tomllib
    else:
        import tomli as tomllib
    try:
        doc: dict[str, Any] = tomllib.loads(text)
        return doc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: invalid TOML: {exc}") from None


def translate_regex(pattern: str) -> tuple[str | None, str]:
    """``pattern`` (Go RE2) as a Python ``re`` pattern, or (None, why not)."""
    for construct, name in _GO_ONLY:
        if construct.search(pattern):
            return None, f"uses {name}, which Python re does not have"
    text = re.sub(r"\\Q(.*?)(?:\\E|$)", lambda m: re.escape(m.group(1)), pattern, flags=re.S)
    text = text.replace(r"\z", r"\Z")
    text = re.sub(r"\(\?P?<[A-Za-z_][A-Za-z0-9_]*>", "(", text)  # named groups: numbered the same
    text = re.sub(r"\[:(\^?)([a-z]+):\]", _posix_class, text)
    if re.search(r".\(\?[a-zA-Z]+\)", text, flags=re.S):
        return None, "sets flags after the start ((?i) mid-pattern), which Python re refuses"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # "possible nested set": Python would read it differently
        try:
            re.compile(text)
        except (re.error, FutureWarning, DeprecationWarning) as exc:
            return None, f"does not compile in Python re: {exc}"
    return text, ""


def _posix_class(m: re.Match[str]) -> str:
    ranges = POSIX_CLASSES.get(m.group(2))
    if ranges is None or m.group(1):
        return m.group(0)  # left for the compile check to refuse
    return ranges


class _Converter:
    def __init__(self, source: str, builtin_ids: set[str]) -> None:
        self.source = source
        self.builtin_ids = builtin_ids
        self.out = Conversion()
        self.renamed: dict[str, str] = {}  # gitleaks rule id -> ours, for rules that replace a built-in

    def note(self, where: str, what: str) -> None:
        self.out.not_converted.append(f"{where}: {what}")

    def unknown_keys(self, table: dict[str, Any], known: set[str], where: str) -> None:
        for key in sorted(set(table) - known):
            self.note(f"{where}.{key}" if where else key, "not supported")

    def convert(self, doc: dict[str, Any]) -> Conversion:
        out = self.out.doc
        out["version"] = 1
        self.unknown_keys(doc, {"title", "description", "extend", "rules", "allowlist", "allowlists"}, "")
        extend = doc.get("extend", {})
        use_default = bool(isinstance(extend, dict) and extend.get("useDefault"))
        out["extend"] = "default" if use_default else "none"
        if isinstance(extend, dict):
            self.unknown_keys(extend, {"useDefault", "disabledRules", "path", "url"}, "[extend]")
            for key in ("path", "url"):
                if key in extend:
                    self.note(f"[extend] {key}", "extending another config file is not supported; convert it too")
        known_ids = set(self.builtin_ids) if use_default else set()
        disabled = []
        for rule_id in extend.get("disabledRules", []) if isinstance(extend, dict) else []:
            if use_default and rule_id in self.builtin_ids:
                disabled.append(rule_id)
            else:
                self.note(f"[extend] disabledRules {rule_id!r}", "no leakstop built-in rule has this id")
        rules = []
        extensions: list[dict[str, Any]] = []  # allowlists gitleaks adds to a default rule: ours, limited to it
        for index, raw in enumerate(doc.get("rules", [])):
            if not isinstance(raw, dict) or not isinstance(raw.get("id"), str) or not raw["id"]:
                raise ConfigError(f"{self.source}: [[rules]] #{index}: id must be a non-empty string")
            if use_default and "regex" not in raw and "path" not in raw:
                extensions.extend(self.extension(raw))
                continue
            rule = self.rule(raw)
            if rule is None:
                continue
            if use_default and rule["id"] in self.builtin_ids:
                # gitleaks: a rule with a default rule's id replaces it. Ours: disable the built-in, add this one
                # under another id (ids are unique across built-in and custom rules).
                old, rule["id"] = rule["id"], f"gitleaks-{rule['id']}"
                self.renamed[old] = rule["id"]
                disabled.append(old)
                self.note(
                    f"[[rules]] {old}", f"replaces the built-in rule {old} (as in gitleaks): renamed {rule['id']}"
                )
            rules.append(rule)
            known_ids.add(rule["id"])
        if disabled:
            out["disabled_rules"] = sorted(set(disabled))
        if rules:
            out["rules"] = rules
        allowlists = []
        raw_lists = doc.get("allowlists", [])
        if "allowlist" in doc:
            raw_lists = [doc["allowlist"], *raw_lists]
        for index, raw in enumerate(raw_lists):
            converted = self.allowlist(raw, f"[[allowlists]] #{index}", known_ids)
            if converted is not None:
                allowlists.append(converted)
        allowlists.extend(extensions)
        if allowlists:
            out["allowlist"] = allowlists
        return self.out

    def extension(self, raw: dict[str, Any]) -> list[dict[str, Any]]:
        """A ``[[rules]]`` entry with a default rule's id and no regex extends that rule (gitleaks' ``extend``):
        its allowlists become ours, limited to our rule of the same id."""
        where = f"[[rules]] {raw['id']}"
        if raw["id"] not in self.builtin_ids:
            self.note(where, "extends a gitleaks default rule that leakstop does not have; left out")
            return []
        for key in sorted(set(raw) - {"id", "allowlist", "allowlists"}):
            self.note(f"{where}.{key}", "changing a built-in rule is not supported (only adding allowlists)")
        converted = []
        for index, entry in enumerate(self.rule_allowlists(raw)):
            allowlist = self.allowlist(entry, f"{where} allowlists #{index}", None)
            if allowlist is not None:
                converted.append({**allowlist, "rules": [raw["id"]]})
        return converted

    def rule_allowlists(self, raw: dict[str, Any]) -> list[Any]:
        entries = list(raw.get("allowlists", []))
        if "allowlist" in raw:
            entries.insert(0, raw["allowlist"])
        return entries

    def rule(self, raw: dict[str, Any]) -> dict[str, Any] | None:
        where = f"[[rules]] {raw['id']}"
        self.unknown_keys(
            raw,
            {
                "id",
                "description",
                "regex",
                "secretGroup",
                "entropy",
                "keywords",
                "path",
                "tags",
                "allowlist",
                "allowlists",
            },
            where,
        )
        if "regex" not in raw:
            self.note(where, "a rule on the path alone (no regex) is not supported; rule left out")
            return None
        regex, why = translate_regex(str(raw["regex"]))
        if regex is None:
            self.note(f"{where} regex", f"{why}; rule left out")
            return None
        keywords = [str(k).lower() for k in raw.get("keywords", []) if len(str(k)) >= 2]
        if not keywords:
            derived = required_literal(regex)
            if derived is None:
                self.note(where, "no keywords, and no literal in the regex to use as one; rule left out")
                return None
            keywords = [derived]
            self.note(f"{where} keywords", f"none given: using {derived!r}, a literal every match contains")
        rule: dict[str, Any] = {
            "id": raw["id"],
            "name": str(raw.get("description") or raw["id"])[:200],
            "regex": regex,
            "keywords": keywords,
            "severity": DEFAULT_SEVERITY,
            "confidence": DEFAULT_CONFIDENCE,
        }
        if raw.get("description"):
            rule["description"] = str(raw["description"])
        if raw.get("secretGroup"):
            rule["secret_group"] = int(raw["secretGroup"])
        if raw.get("entropy"):
            rule["min_entropy"] = float(raw["entropy"])
        if raw.get("tags"):
            rule["tags"] = [str(t) for t in raw["tags"]]
        if "path" in raw:
            self.note(f"{where} path", "limiting a rule to some paths is not supported; it runs on every file")
        allowlists = []
        for index, entry in enumerate(self.rule_allowlists(raw)):
            converted = self.allowlist(entry, f"{where} allowlists #{index}", None)
            if converted is not None:
                allowlists.append(converted)
        if allowlists:
            rule["allowlists"] = allowlists
        problem = _compile_problem(rule, self.source)
        if problem:
            self.note(where, f"{problem}; rule left out")
            return None
        return rule

    def allowlist(self, raw: Any, where: str, known_ids: set[str] | None) -> dict[str, Any] | None:
        if not isinstance(raw, dict):
            raise ConfigError(f"{self.source}: {where}: must be a table")
        known_keys = {"description", "condition", "commits", "paths", "regexes", "regexTarget", "stopwords"}
        if known_ids is not None:
            known_keys.add("targetRules")
        self.unknown_keys(raw, known_keys, where)
        condition = "all" if str(raw.get("condition", "OR")).upper() == "AND" else "any"
        out: dict[str, Any] = {}
        if raw.get("description"):
            out["description"] = str(raw["description"])
        commits = [str(c) for c in raw.get("commits", [])]
        for commit in commits:
            if not _COMMIT.fullmatch(commit):
                self.note(f"{where} commits {commit!r}", "not a commit id; left out")
        if good := [c for c in commits if _COMMIT.fullmatch(c)]:
            out["commits"] = good
        if paths := self.regexes(raw.get("paths", []), f"{where} paths"):
            out["path_regexes"] = paths
        if regexes := self.regexes(raw.get("regexes", []), f"{where} regexes"):
            out["regexes"] = regexes
            target = str(raw.get("regexTarget", "secret")).lower()
            if target != "secret":
                out["regex_target"] = target if target in ("match", "line") else "secret"
        stopwords = [str(s) for s in raw.get("stopwords", [])]
        for word in stopwords:
            if len(word) < 3:
                self.note(f"{where} stopwords {word!r}", "shorter than 3 characters; left out")
        if good := [w for w in stopwords if len(w) >= 3]:
            out["stopwords"] = good
        lost = [k for k in ("commits", "paths", "regexes", "stopwords") if raw.get(k) and not _has(out, k)]
        if condition == "all" and lost:
            self.note(where, f"condition AND lost its {', '.join(lost)}: it would allow more; allowlist left out")
            return None
        if not any(_has(out, k) for k in ("commits", "paths", "regexes", "stopwords")):
            self.note(where, "nothing left to allow on; allowlist left out")
            return None
        if condition == "all":
            out["condition"] = "all"
        if known_ids is not None and raw.get("targetRules"):
            targets = [self.renamed.get(str(t), str(t)) for t in raw["targetRules"]]
            for rule_id in targets:
                if rule_id not in known_ids:
                    self.note(f"{where} targetRules {rule_id!r}", "no such rule; left out")
            kept = [t for t in targets if t in known_ids]
            if not kept:
                self.note(where, "none of its targetRules exists; allowlist left out")
                return None
            out["rules"] = kept
        return out

    def regexes(self, patterns: list[Any], where: str) -> list[str]:
        converted = []
        for pattern in patterns:
            text, why = translate_regex(str(pattern))
            if text is None:
                self.note(f"{where} {str(pattern)[:60]!r}", f"{why}; left out")
            else:
                converted.append(text)
        return converted


def required_literal(pattern: str) -> str | None:
    """The longest run of literal characters (3 or more) that every match of ``pattern`` contains, lowercased:
    a keyword for a rule that has none (leakstop's prefilter needs one)."""
    from scanner.ruleset.charset import sre_parse

    best = ""
    run: list[str] = []

    def walk(items: Any) -> None:
        nonlocal best
        for op, av in items:
            name = str(op)
            if name == "LITERAL":
                run.append(chr(av))
                continue
            if name == "SUBPATTERN" and not av[1] and not av[2]:
                walk(av[3])  # a group without flags is part of the same sequence
                continue
            best = max(best, "".join(run), key=len)
            run.clear()

    walk(sre_parse().parse(pattern))
    best = max(best, "".join(run), key=len)
    return best.lower() if len(best) >= 3 else None


def _has(out: dict[str, Any], key: str) -> bool:
    return bool(out.get("path_regexes" if key == "paths" else key))


def _compile_problem(rule: dict[str, Any], source: str) -> str:
    """Why our rule loader would refuse the converted rule, or ""."""
    from scanner.ruleset.model import RuleSpec

    spec = {key: value for key, value in rule.items() if key != "allowlists"}
    try:
        RuleSpec.from_dict(spec, source).compile()
    except ConfigError as exc:
        return str(exc).split(": ", 2)[-1]
    return ""


def convert(text: str, source: str, builtin_ids: set[str]) -> Conversion:
    doc = load_toml(text, source)
    return _Converter(source, builtin_ids).convert(doc)


def to_yaml(conversion: Conversion, source: str) -> str:
    import yaml

    lines = [f"# Converted from {source} by `leakstop config import-gitleaks`."]
    lines.append(
        f"# Converted rules have severity {DEFAULT_SEVERITY} and confidence {DEFAULT_CONFIDENCE}: adjust them."
    )
    if conversion.not_converted:
        lines.append("# Not converted:")
        lines.extend(f"#   {item}" for item in conversion.not_converted)
    body = yaml.safe_dump(conversion.doc, sort_keys=False, allow_unicode=True, width=120)
    return "\n".join(lines) + "\n" + body
