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
import sys
from typing import TYPE_CHECKING, TextIO

from scanner.cli.common import load_config
from scanner.errors import EXIT_PASS, UsageError

if TYPE_CHECKING:
    from scanner.cli.common import Subparsers
    from scanner.models import ScanResult
    from scanner.policy.config import Config


def add_parser(subparsers: Subparsers) -> None:
    from scanner.cli.scan import _add_artifact_options, _add_git_options, add_scan_options

    parser = subparsers.add_parser(
        "respond",
        help="revoke, rotate or notify for what a scan blocks (dry run: prints the plan)",
        description="Plans the response to the blocking findings of a scan of PATH (the same targets as scan): "
        "one action per credential, provider and kind. Exit 0 done (or a dry run), 1 an action failed, "
        "2 usage/config error or a provider credential missing, 5 actions pending.",
    )
    add_scan_options(parser)
    _add_artifact_options(parser.add_argument_group("artifacts (instead of PATH)"))
    _add_git_options(parser.add_argument_group("git modes (PATH is the repository)"))
    add_response_options(parser)
    parser.add_argument(
        "--drain", action="store_true", help="act on the outbox's pending actions (no scan but rescans of their places)"
    )


def add_response_options(parser: argparse.ArgumentParser) -> None:
    """``--execute``, ``--outbox``, ``--audit-log``, ``--wait``: ``respond`` and ``scan --respond`` take them."""
    group = parser.add_argument_group("response")
    group.add_argument("--execute", action="store_true", help="enqueue the plan in the outbox and act on it")
    group.add_argument(
        "--outbox", metavar="FILE", help="the outbox (default: the policy's, else leakstop/outbox.jsonl in the git dir)"
    )
    group.add_argument(
        "--audit-log", dest="respond_audit_log", metavar="FILE", help="default: the policy's, else next to the outbox"
    )
    group.add_argument(
        "--wait",
        type=float,
        default=30.0,
        metavar="SECONDS",
        help="wait this long at most for retries that come due (default 30; the outbox keeps the rest)",
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


def respond_to(
    result: ScanResult | None,
    config: Config,
    args: argparse.Namespace,
    target: str,
    mode: str,
    out: TextIO | None = None,
) -> int:
    """Plan (and per ``mode`` execute) the response; the plan on ``out`` (stdout), progress on stderr; the exit
    code."""
    from scanner.gitdir import find_repository
    from scanner.integrations.response import default_where, respond
    from scanner.respond.plan import render

    where = default_where(config, target, os.environ, args.outbox or "", args.respond_audit_log or "")
    repo = find_repository(target) if target != "-" else None
    root = str(repo.top) if repo is not None else ""
    say = _stderr
    plan, summary = respond(result, config, os.environ, where, "execute" if mode == "execute" else "plan",
                            say, root, args.wait)  # fmt: skip
    if result is not None:
        dry = f"leakstop respond: dry run (--execute to act): {len(plan.actions)} actions"
        header = "" if mode == "execute" else dry
        render(plan, out or sys.stdout, header)
    if summary is None:
        return EXIT_PASS
    counts: dict[str, int] = {}
    for state in summary.states.values():
        counts[state.status] = counts.get(state.status, 0) + 1
    told = ", ".join(f"{n} {status}" for status, n in sorted(counts.items())) or "nothing to do"
    _stderr(f"leakstop respond: {where.outbox}: {told}")
    return summary.exit_code


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)
