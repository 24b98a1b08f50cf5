"""A gitleaks TOML config (8.x, ``config/rule.go``, ``config/allowlist.go``) as a ``.leakstop.yaml``.

Mapped: ``[extend] useDefault`` (``extend``), ``disabledRules`` that name one of our rules (``disabled_rules``),
``[[rules]]`` (id, description, regex, secretGroup, entropy, keywords, tags, allowlists) as custom rules with
their own ``allowlists``, and ``[allowlist]`` / ``[[allowlists]]`` (description, condition, commits, paths,
regexes, regexTarget, stopwords, targetRules) as ours (gitleaks' path regexes become ``path_regexes``). With
``useDefault``, a ``[[rules]]`` entry with a built-in id and no regex adds its allowlists to that rule (ours of the
same id), and a full rule with a built-in id replaces it (ours disabled, theirs added as ``gitleaks-<id>``). A rule
without keywords gets a literal that every match contains (``required_literal``), if there is one.

Everything else is listed as not converted, never silently dropped. Regexes are Go RE2, translated by ``goregex``;
one that has no Python equivalent is listed and left out. Leaving out part of an allowlist may only make it allow
less: an ``AND`` allowlist that loses a criterion is left out whole.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from scanner.errors import ConfigError
from scanner.policy.migrate.gitleaks_rewrite import collapse_nested, path_limit
from scanner.policy.migrate.goregex import required_literal, translate_regex
from scanner.ruleset.redos import check as check_redos

# gitleaks has no severity or confidence; a converted rule gets these (edit the output to taste).
DEFAULT_SEVERITY = "high"
DEFAULT_CONFIDENCE = "medium"
_COMMIT = re.compile(r"[0-9a-fA-F]{4,64}")
_RULE_KEYS = {
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
}
_CRITERIA = ("commits", "paths", "regexes", "stopwords")


@dataclass
class Conversion:
    doc: dict[str, Any] = field(default_factory=dict)
    not_converted: list[str] = field(default_factory=list)  # one line each: where, what, why
    rewritten: list[str] = field(default_factory=list)  # one line each: where, how (same meaning, our syntax)
    left_out: list[str] = field(default_factory=list)  # ids of [[rules]] not converted

    def summary(self) -> str:
        """One line: how many rules were kept as they are, rewritten, left out."""
        rules = len(self.doc.get("rules", []))
        rewritten_rules = len({line.split(" ", 2)[1] for line in self.rewritten if line.startswith("[[rules]] ")})
        return (
            f"{rules} rules ({rules - rewritten_rules} kept as they are, {rewritten_rules} rewritten), "
            f"{len(self.left_out)} left out; {len(self.doc.get('allowlist', []))} allowlists"
        )


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


class _Converter:
    def __init__(self, source: str, builtin_ids: set[str]) -> None:
        self.source = source
        self.builtin_ids = builtin_ids
        self.out = Conversion()
        self.renamed: dict[str, str] = {}  # gitleaks rule id -> ours, for rules that replace a built-in

    def note(self, where: str, what: str) -> None:
        self.out.not_converted.append(f"{where}: {what}")

    def rewrote(self, where: str, how: str) -> None:
        self.out.rewritten.append(f"{where}: {how}")

    def leave_out(self, rule_id: str, where: str, why: str) -> None:
        self.out.left_out.append(rule_id)
        self.note(where, f"{why}; rule left out")

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
        disabled = self.disabled_rules(extend, use_default) if isinstance(extend, dict) else []
        known_ids = set(self.builtin_ids) if use_default else set()
        rules, extensions = self.rules(doc.get("rules", []), use_default, disabled)
        known_ids.update(rule["id"] for rule in rules)
        if disabled:
            out["disabled_rules"] = sorted(set(disabled))
        if rules:
            out["rules"] = rules
        raw_lists = doc.get("allowlists", [])
        if "allowlist" in doc:
            raw_lists = [doc["allowlist"], *raw_lists]
        allowlists = self.allowlists(raw_lists, "[[allowlists]]", known_ids)
        allowlists.extend(extensions)
        if allowlists:
            out["allowlist"] = allowlists
        return self.out

    def disabled_rules(self, extend: dict[str, Any], use_default: bool) -> list[str]:
        """``[extend]``: the built-in rules it disables; what cannot be converted is noted."""
        self.unknown_keys(extend, {"useDefault", "disabledRules", "path", "url"}, "[extend]")
        for key in ("path", "url"):
            if key in extend:
                self.note(f"[extend] {key}", "extending another config file is not supported; convert it too")
        disabled = []
        for rule_id in extend.get("disabledRules", []):
            if use_default and rule_id in self.builtin_ids:
                disabled.append(rule_id)
            else:
                self.note(f"[extend] disabledRules {rule_id!r}", "no leakstop built-in rule has this id")
        return disabled

    def rules(
        self, raw_rules: list[Any], use_default: bool, disabled: list[str]
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """``[[rules]]`` as our custom rules, and the allowlists that entries extending a default rule add to
        ours (limited to it). A rule replacing a built-in one adds the built-in's id to ``disabled``."""
        rules = []
        extensions: list[dict[str, Any]] = []
        for index, raw in enumerate(raw_rules):
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
        return rules, extensions

    def extension(self, raw: dict[str, Any]) -> list[dict[str, Any]]:
        """A ``[[rules]]`` entry with a default rule's id and no regex extends that rule (gitleaks' ``extend``):
        its allowlists become ours, limited to our rule of the same id."""
        where = f"[[rules]] {raw['id']}"
        if raw["id"] not in self.builtin_ids:
            self.note(where, "extends a gitleaks default rule that leakstop does not have; left out")
            return []
        for key in sorted(set(raw) - {"id", "allowlist", "allowlists"}):
            self.note(f"{where}.{key}", "changing a built-in rule is not supported (only adding allowlists)")
        extensions = self.allowlists(self.rule_allowlists(raw), f"{where} allowlists")
        return [{**allowlist, "rules": [raw["id"]]} for allowlist in extensions]

    def allowlists(self, entries: list[Any], prefix: str, known_ids: set[str] | None = None) -> list[dict[str, Any]]:
        """The allowlists that survive conversion; ``known_ids`` for those that may name their rules."""
        converted = (self.allowlist(entry, f"{prefix} #{index}", known_ids) for index, entry in enumerate(entries))
        return [allowlist for allowlist in converted if allowlist is not None]

    def rule_allowlists(self, raw: dict[str, Any]) -> list[Any]:
        entries = list(raw.get("allowlists", []))
        if "allowlist" in raw:
            entries.insert(0, raw["allowlist"])
        return entries

    def rule(self, raw: dict[str, Any]) -> dict[str, Any] | None:
        where = f"[[rules]] {raw['id']}"
        self.unknown_keys(raw, _RULE_KEYS, where)
        if "regex" not in raw:
            self.leave_out(raw["id"], where, "a rule on the path alone (no regex) is not supported")
            return None
        regex, why = translate_regex(str(raw["regex"]))
        if regex is None:
            self.leave_out(raw["id"], f"{where} regex", why)
            return None
        if why:
            self.rewrote(f"{where} regex", why)
        keywords = self.keywords(raw, regex, where)
        if keywords is None:
            self.out.left_out.append(raw["id"])
            return None
        rule: dict[str, Any] = {
            "id": raw["id"],
            "name": str(raw.get("description") or raw["id"])[:200],
            "regex": regex,
            "keywords": keywords,
            "severity": DEFAULT_SEVERITY,
            "confidence": DEFAULT_CONFIDENCE,
            **_optional_rule_fields(raw),
        }
        if "generic" in raw["id"].lower():
            rule["generic"] = True  # gitleaks' generic-api-key and kin: our generic heuristics apply
        if "path" in raw and not self.path_limit(rule, str(raw["path"]), where):
            self.out.left_out.append(raw["id"])
            return None
        if allowlists := self.allowlists(self.rule_allowlists(raw), f"{where} allowlists"):
            rule["allowlists"] = allowlists
        return self.loadable(rule, where)

    def path_limit(self, rule: dict[str, Any], path: str, where: str) -> bool:
        """gitleaks' ``path`` (the rule runs only where it matches) as the rule's allowlist path regex."""
        regex, why = translate_regex(path)
        if regex is None:
            self.note(f"{where} path", f"{why}; rule left out (it would run on every file)")
            return False
        rule["allowlist"] = {"paths": [path_limit(regex)]}
        self.rewrote(f"{where} path", "kept as an allowlist path regex: not reported where the path does not match")
        return True

    def loadable(self, rule: dict[str, Any], where: str) -> dict[str, Any] | None:
        """``rule`` if our loader takes it, else rewritten so that it does (same matches), else None (noted)."""
        problem = _compile_problem(rule, self.source)
        if problem and "backtrack" in problem:
            collapsed = collapse_nested(rule["regex"])
            if collapsed != rule["regex"] and not _compile_problem({**rule, "regex": collapsed}, self.source):
                self.rewrote(f"{where} regex", f"{problem.split(': ')[-1]} collapsed to one quantifier (same matches)")
                return {**rule, "regex": collapsed}
        if problem:
            self.leave_out(rule["id"], where, problem)
            return None
        return rule

    def keywords(self, raw: dict[str, Any], regex: str, where: str) -> list[str] | None:
        """The rule's keywords, else a literal every match contains, else None (the rule is left out)."""
        keywords = [str(k).lower() for k in raw.get("keywords", []) if len(str(k)) >= 2]
        if keywords:
            return keywords
        derived = required_literal(regex)
        if derived is None:
            self.note(where, "no keywords, and no literal in the regex to use as one; rule left out")
            return None
        self.note(f"{where} keywords", f"none given: using {derived!r}, a literal every match contains")
        return [derived]

    def allowlist(self, raw: Any, where: str, known_ids: set[str] | None) -> dict[str, Any] | None:
        if not isinstance(raw, dict):
            raise ConfigError(f"{self.source}: {where}: must be a table")
        known_keys = {"description", "condition", "commits", "paths", "regexes", "regexTarget", "stopwords"}
        if known_ids is not None:
            known_keys.add("targetRules")
        self.unknown_keys(raw, known_keys, where)
        condition = "all" if str(raw.get("condition", "OR")).upper() == "AND" else "any"
        out: dict[str, Any] = {"description": str(raw["description"])} if raw.get("description") else {}
        out.update(self.criteria(raw, where))
        lost = [k for k in _CRITERIA if raw.get(k) and not _has(out, k)]
        if condition == "all" and lost:
            self.note(where, f"condition AND lost its {', '.join(lost)}: it would allow more; allowlist left out")
            return None
        if not any(_has(out, k) for k in _CRITERIA):
            self.note(where, "nothing left to allow on; allowlist left out")
            return None
        if condition == "all":
            out["condition"] = "all"
        if known_ids is not None and raw.get("targetRules"):
            targets = [self.renamed.get(str(t), str(t)) for t in raw["targetRules"]]
            kept = self.kept(targets, lambda t: t in known_ids, f"{where} targetRules", "no such rule; left out")
            if not kept:
                self.note(where, "none of its targetRules exists; allowlist left out")
                return None
            out["rules"] = kept
        return out

    def criteria(self, raw: dict[str, Any], where: str) -> dict[str, Any]:
        """What the allowlist allows on, as far as it converts: commits, path regexes, regexes, stopwords."""
        out: dict[str, Any] = {}
        commits = [str(c) for c in raw.get("commits", [])]
        if good := self.kept(commits, _COMMIT.fullmatch, f"{where} commits", "not a commit id; left out"):
            out["commits"] = good
        if paths := self.regexes(raw.get("paths", []), f"{where} paths"):
            out["path_regexes"] = paths
        if regexes := self.regexes(raw.get("regexes", []), f"{where} regexes"):
            out["regexes"] = regexes
            target = str(raw.get("regexTarget", "secret")).lower()
            if target != "secret":
                out["regex_target"] = target if target in ("match", "line") else "secret"
        stopwords = [str(s) for s in raw.get("stopwords", [])]
        short = "shorter than 3 characters; left out"
        if good := self.kept(stopwords, lambda w: len(w) >= 3, f"{where} stopwords", short):
            out["stopwords"] = good
        return out

    def kept(self, values: list[str], keep: Callable[[str], object], where: str, why: str) -> list[str]:
        """The values ``keep`` accepts; each other one is noted as left out."""
        for value in values:
            if not keep(value):
                self.note(f"{where} {value!r}", why)
        return [value for value in values if keep(value)]

    def regexes(self, patterns: list[Any], where: str) -> list[str]:
        converted = []
        for pattern in patterns:
            text, why = translate_regex(str(pattern))
            hazard = None if text is None else check_redos(text)
            if hazard is not None:
                text, why = None, hazard.message()
            if text is None:
                self.note(f"{where} {str(pattern)[:60]!r}", f"{why}; left out")
            else:
                if why:
                    self.rewrote(f"{where} {str(pattern)[:60]!r}", why)
                converted.append(text)
        return converted


def _optional_rule_fields(raw: dict[str, Any]) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    if raw.get("description"):
        fields["description"] = str(raw["description"])
    if raw.get("secretGroup"):
        fields["secret_group"] = int(raw["secretGroup"])
    if raw.get("entropy"):
        fields["min_entropy"] = float(raw["entropy"])
    if raw.get("tags"):
        fields["tags"] = [str(t) for t in raw["tags"]]
    return fields


def _has(out: dict[str, Any], key: str) -> bool:
    return bool(out.get("path_regexes" if key == "paths" else key))


def _compile_problem(rule: dict[str, Any], source: str) -> str:
    """Why our config loader would refuse the converted rule, or "": the rule's own checks, then the ReDoS check
    the loader runs on every user regex (``policy.validate``)."""
    from scanner.ruleset.model import RuleSpec

    spec = {key: value for key, value in rule.items() if key != "allowlists"}
    try:
        RuleSpec.from_dict(spec, source).compile()
    except ConfigError as exc:
        return str(exc).split(": ", 2)[-1]
    for field_name, regex in [("regex", rule["regex"]), *(("allowlist", rx) for rx in _own_path_regexes(rule))]:
        hazard = check_redos(regex)
        if hazard is not None:
            return f"{field_name}: {hazard.message()}"
    return ""


def _own_path_regexes(rule: dict[str, Any]) -> list[str]:
    allowlist = rule.get("allowlist")
    return list(allowlist.get("paths", [])) if isinstance(allowlist, dict) else []


def convert(text: str, source: str, builtin_ids: set[str]) -> Conversion:
    doc = load_toml(text, source)
    return _Converter(source, builtin_ids).convert(doc)


def to_yaml(conversion: Conversion, source: str) -> str:
    import yaml

    lines = [f"# Converted from {source} by `leakstop config import-gitleaks`."]
    lines.append(
        f"# Converted rules have severity {DEFAULT_SEVERITY} and confidence {DEFAULT_CONFIDENCE}: adjust them."
    )
    if conversion.rewritten:
        lines.append("# Rewritten (same meaning in our syntax):")
        lines.extend(f"#   {item}" for item in conversion.rewritten)
    if conversion.not_converted:
        lines.append("# Not converted:")
        lines.extend(f"#   {item}" for item in conversion.not_converted)
    body = yaml.safe_dump(conversion.doc, sort_keys=False, allow_unicode=True, width=120)
    return "\n".join(lines) + "\n" + body
