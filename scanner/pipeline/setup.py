"""From a config to what the pipeline runs: the ruleset (built-ins, overrides, custom and disabled rules, each id
checked) and the detector."""

from __future__ import annotations

from typing import NamedTuple

from scanner import digests
from scanner.detect.engine import Detector
from scanner.errors import ConfigError
from scanner.policy.config import Config
from scanner.ruleset import Ruleset, load_ruleset
from scanner.ruleset.model import RuleSpec


def _check_rule_id(config: Config, known: list[str], rule_id: str, where: str) -> None:
    if rule_id not in known:
        import difflib  # only for the error: off the commit hook's path

        close = difflib.get_close_matches(rule_id, known, n=3)
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        raise ConfigError(f"{config.source}: {where}: unknown rule id {rule_id!r}{hint}")


def build_ruleset(config: Config) -> Ruleset:
    ruleset = load_ruleset(paths=None if config.extend_default else [], extra=config.rules)
    known = list(ruleset.by_id)
    if config.rule_overrides:
        ruleset = _overridden(ruleset, config, known)
    for override in config.policy.overrides:
        for rule_id in sorted(override.rules):
            _check_rule_id(config, known, rule_id, f"policy/overrides/{override.index}/rules")
    for allowlist in config.allowlists.items:
        if allowlist.where.startswith("allowlist"):  # a custom rule's own allowlists name that rule
            for rule_id in sorted(allowlist.rules):
                _check_rule_id(config, known, rule_id, f"{allowlist.where}/rules")
    if not config.disabled_rules:
        return ruleset
    for rule_id in config.disabled_rules:
        _check_rule_id(config, known, rule_id, "disabled_rules")
    disabled = set(config.disabled_rules)
    kept = tuple(r for r in ruleset.rules if r.id not in disabled)
    digest = digests.sha256("\0".join([ruleset.hash, *sorted(disabled)]).encode()).hexdigest()
    return Ruleset(rules=kept, hash=digest)  # stable across runs: it keys the Hyperscan cache


def _overridden(ruleset: Ruleset, config: Config, known: list[str]) -> Ruleset:
    """The ruleset with ``rule_overrides`` applied: each replaces the fields it gives on the rule of its id."""
    rules = list(ruleset.rules)
    position = {rule.id: i for i, rule in enumerate(rules)}
    for index, override in enumerate(config.rule_overrides):
        _check_rule_id(config, known, override["id"], f"rule_overrides/{index}/id")
        spec = rules[position[override["id"]]].spec
        base = spec.to_dict()
        if "regex" in override:
            base["secret_group"] = None  # the old regex's group says nothing about the new one
        if ("regex" in override or "keywords" in override) and "examples" not in override:
            # The examples were written for the old regex; they also decide the rule's keyword windows.
            base["examples"], base["negative_examples"] = [], []
        merged = RuleSpec.from_dict(base | override, f"{config.source}: rule_overrides/{index}", spec.provider)
        rules[position[spec.id]] = merged.compile()
    digest = digests.sha256((ruleset.hash + repr(config.rule_overrides)).encode()).hexdigest()
    return Ruleset(rules=tuple(rules), hash=digest)


def build_detector(ruleset: Ruleset, config: Config, engine: str = "auto") -> Detector:
    depth = config.max_decode_depth
    probes = config.allowlists.content_probes(list(ruleset.by_id)) if config.allowlists else None
    # A scan loads Hyperscan once its input passes a few hundred bytes: a hook's tiny file never needs it.
    return Detector(
        ruleset, max_decode_depth=2 if depth is None else depth, allow_probes=probes, engine=engine, small_first=True
    )


# What a scan needs from its config before reading anything: built once per config and engine. The functional
# form with real classes: this module's annotations are strings, and a string field type is a ``ForwardRef``,
# which calls ``compile()``; the first call in a process builds the AST types (9 M instructions, the commit hook's
# only ``compile()`` call).
Prepared = NamedTuple("Prepared", [("ruleset", Ruleset), ("detector", Detector)])  # noqa: UP014


def prepare(config: Config, engine: str = "auto") -> Prepared:
    ruleset = build_ruleset(config)
    return Prepared(ruleset, build_detector(ruleset, config, engine))
