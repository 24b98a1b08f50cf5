"""``leakstop rules list|check``: the rules a config gives, and the built-in or given rule files checked."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scanner.cli.common import engine
from scanner.errors import EXIT_ERROR, EXIT_PASS, UsageError

if TYPE_CHECKING:
    from scanner.cli.common import Subparsers
    from scanner.ruleset import Ruleset


def add_parser(subparsers: Subparsers) -> None:
    rules = subparsers.add_parser("rules", help="list or check rules")
    actions = rules.add_subparsers(dest="rules_command", metavar="ACTION")
    listing = actions.add_parser("list", help="list the rules")
    listing.add_argument(
        "--format", "-f", choices=["text", "json"], default="text", help="output format: text (default) or json"
    )
    listing.add_argument("--config", "-c", metavar="FILE", help="include the rules of this config")
    check = actions.add_parser("check", help="check rule files: schema, regex, examples and negatives")
    check.add_argument("files", nargs="*", metavar="FILE", help="rule files (default: the built-in rules)")


def run(args: argparse.Namespace) -> int:
    if args.rules_command == "list":
        return _list(args)
    if args.rules_command == "check":
        return _check(args)
    raise UsageError("rules: give an action: list or check")


def _list(args: argparse.Namespace) -> int:
    from scanner.pipeline.setup import build_ruleset
    from scanner.policy.config import load_config

    config = load_config(Path(args.config)) if args.config else load_config(None)
    ruleset = build_ruleset(config)
    if args.format == "json":
        import json

        print(json.dumps(_rows(ruleset), indent=2))
    else:
        width = max((len(r.id) for r in ruleset.rules), default=10)
        for r in ruleset.rules:
            print(f"{r.id:<{width}}  {r.spec.severity:<8}  {r.spec.confidence:<6}  {r.spec.name}")
        print(f"{len(ruleset.rules)} rules")
    return EXIT_PASS


def _rows(ruleset: Ruleset) -> list[dict[str, Any]]:
    return [
        {
            "id": r.id,
            "name": r.spec.name,
            "severity": r.spec.severity,
            "confidence": r.spec.confidence,
            "provider": r.spec.provider,
            "keywords": list(r.spec.keywords),
            "source": os.path.basename(r.spec.source),
        }
        for r in ruleset.rules
    ]


def _check(args: argparse.Namespace) -> int:
    from scanner.detect.engine import Detector
    from scanner.detect.rulecheck import check_rule
    from scanner.ruleset.load import load_ruleset

    files = [Path(f) for f in args.files] if args.files else None
    for f in files or []:
        if not f.is_file():
            raise UsageError(f"{f}: rule file not found")
    ruleset = load_ruleset(files)
    detector = Detector(ruleset, engine=engine(os.environ))
    failures = [failure for rule in ruleset.rules for failure in check_rule(detector, rule)]
    for failure in failures:
        print(failure.message())
    examples = sum(len(r.spec.examples) + len(r.spec.negative_examples) for r in ruleset.rules)
    print(f"{len(ruleset.rules)} rules, {examples} examples checked, {len(failures)} failures ({detector.engine})")
    return EXIT_ERROR if failures else EXIT_PASS
