"""``leakstop install-hook pre-commit|pre-push [--force] [PATH]``: a plain git hook (``integrations.githooks``)."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from scanner.errors import EXIT_PASS, UsageError

if TYPE_CHECKING:
    from scanner.cli.common import Subparsers


def add_parser(subparsers: Subparsers) -> None:
    hook = subparsers.add_parser(
        "install-hook",
        help="install a plain git hook (for repositories without pre-commit)",
        usage="leakstop install-hook {pre-commit,pre-push} [--force] [PATH]",
        description="pre-commit runs `scan --staged`, pre-push runs `scan --pre-push`; PATH is the repository "
        "(default: .). The hook goes where git looks for hooks (core.hooksPath if set).",
    )
    hook.add_argument("hook", choices=["pre-commit", "pre-push"], help="which hook: pre-commit or pre-push")
    hook.add_argument("--force", action="store_true", help="replace a hook that leakstop did not write")
    # PATH and a later --force, parsed in ``rest``: argparse (< 3.12) cannot take `HOOK --force PATH`.
    hook.add_argument("rest", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)


def rest(args: argparse.Namespace) -> tuple[bool, list[str]]:
    """``--force`` and the PATHs after the hook's name; ``--`` ends the options."""
    force, options_done = bool(args.force), False
    paths: list[str] = []
    for arg in args.rest:
        if arg == "--" and not options_done:
            options_done = True
        elif arg == "--force" and not options_done:
            force = True
        elif arg.startswith("-") and not options_done:
            raise UsageError(f"install-hook: unknown option {arg!r} (usage: install-hook HOOK [--force] [PATH])")
        else:
            paths.append(arg)
    return force, paths


def run(args: argparse.Namespace) -> int:
    from scanner.integrations.githooks import install_hook, running_script

    force, paths = rest(args)
    if len(paths) > 1:
        raise UsageError(f"install-hook: one PATH, the repository (got {len(paths)})")
    target = install_hook(
        args.hook, paths[0] if paths else ".", force=force, python=sys.executable, script=running_script()
    )
    print(f"leakstop: installed the {args.hook} hook: {target}")
    return EXIT_PASS
