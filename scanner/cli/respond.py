"""``leakstop respond``: the response to what a scan blocks (``scanner.integrations.response``).

    leakstop respond [PATH…] [scan's options]   the plan: rule, redacted secret, provider, action, places (dry run)
    leakstop respond --execute …                 enqueue the plan in the outbox and act on it
    leakstop respond --drain [PATH]              act on the outbox's pending actions (rescanning their places)

Exit codes: 0 nothing left to do (a dry run: the plan was printed), 1 an action failed (a person must act),
2 usage, config or a provider's credential missing (nothing attempted for that provider), 5 actions pending.
"""

from __future__ import annotations

import argparse
import os
from typing import TYPE_CHECKING

from scanner.cli.common import load_config
from scanner.cli.response import add_response_options, respond_to
from scanner.errors import UsageError

if TYPE_CHECKING:
    from scanner.cli.common import Subparsers


def add_parser(subparsers: Subparsers) -> None:
    from scanner.cli.scanargs import add_artifact_options, add_git_options, add_scan_options

    parser = subparsers.add_parser(
        "respond",
        help="revoke, rotate or notify for what a scan blocks (dry run: prints the plan)",
        description="Plans the response to the blocking findings of a scan of PATH (the same targets as scan): "
        "one action per credential, provider and kind. Exit 0 done (or a dry run), 1 an action failed, "
        "2 usage/config error or a provider credential missing, 5 actions pending.",
    )
    add_scan_options(parser)
    add_artifact_options(parser.add_argument_group("artifacts (instead of PATH)"))
    add_git_options(parser.add_argument_group("git modes (PATH is the repository)"))
    add_response_options(parser)
    parser.add_argument(
        "--drain", action="store_true", help="act on the outbox's pending actions (no scan but rescans of their places)"
    )


def run(args: argparse.Namespace) -> int:
    if args.drain:
        if args.execute:
            raise UsageError("respond: give --execute or --drain, not both")
        paths = list(args.paths or ["."])
        config = load_config(args, paths)
        return respond_to(None, config, args, paths[0], "execute")
    from scanner.cli.scan import scan_request
    from scanner.pipeline import run as run_scan

    request = scan_request(args, os.environ)
    result = run_scan(request)
    return respond_to(result, request.config, args, request.paths[0], "execute" if args.execute else "plan")
