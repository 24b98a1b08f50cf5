"""``leakstop config import-gitleaks``: another scanner's config as a ``.leakstop.yaml``."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from scanner.errors import EXIT_PASS, UsageError

if TYPE_CHECKING:
    from scanner.cli.common import Subparsers


def add_parser(subparsers: Subparsers) -> None:
    config = subparsers.add_parser("config", help="convert another scanner's config into a .leakstop.yaml")
    actions = config.add_subparsers(dest="config_command", metavar="ACTION")
    gitleaks = actions.add_parser(
        "import-gitleaks",
        help="a gitleaks TOML config as a .leakstop.yaml",
        description="Maps [extend], [[rules]] and [[allowlists]] to ours and lists everything not converted (in "
        "the output's header and on stderr).",
    )
    gitleaks.add_argument("file", metavar="GITLEAKS_TOML", help="the gitleaks config to convert (.gitleaks.toml)")
    gitleaks.add_argument("--output", "-o", metavar="FILE", help="write here (default: stdout)")
    gitleaks.add_argument("--force", action="store_true", help="replace an existing output file")


def run(args: argparse.Namespace) -> int:
    if args.config_command != "import-gitleaks":
        raise UsageError("config: give an action: import-gitleaks")
    return _import_gitleaks(args)


def _import_gitleaks(args: argparse.Namespace) -> int:
    from scanner.policy.migrate.gitleaks_config import convert, to_yaml
    from scanner.ruleset.load import load_ruleset

    try:
        text = Path(args.file).read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"{args.file}: cannot read: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise UsageError(f"{args.file}: not UTF-8 text") from None
    if args.output and os.path.exists(args.output) and not args.force:
        raise UsageError(f"{args.output}: exists (use --force to replace it)")
    conversion = convert(text, args.file, {rule.id for rule in load_ruleset().rules})
    output = to_yaml(conversion, os.path.basename(args.file))
    if args.output:
        try:
            Path(args.output).write_text(output, encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"{args.output}: cannot write: {exc.strerror}") from None
    else:
        sys.stdout.write(output)
    where = f" to {args.output}" if args.output else ""
    print(
        f"leakstop: converted {args.file}{where}: {conversion.summary()}; "
        f"{len(conversion.not_converted)} items not converted",
        file=sys.stderr,
    )
    if conversion.rewritten:
        print("rewritten (same meaning in our syntax):", file=sys.stderr)
        for item in conversion.rewritten:
            print(f"  {item}", file=sys.stderr)
    if conversion.not_converted:
        print("not converted:", file=sys.stderr)
    for item in conversion.not_converted:
        print(f"  {item}", file=sys.stderr)
    return EXIT_PASS
