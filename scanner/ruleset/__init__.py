"""Rules as data: ``RuleSpec`` is what the YAML says, ``CompiledRule`` is what the engine runs."""

from scanner.ruleset.load import builtin_rules_dir, load_rule_files, load_ruleset
from scanner.ruleset.model import CompiledRule, Ruleset, RuleSpec

__all__ = ["CompiledRule", "RuleSpec", "Ruleset", "builtin_rules_dir", "load_rule_files", "load_ruleset"]
