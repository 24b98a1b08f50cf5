"""What ``leakstop respond`` and ``scan --respond`` share: the response's options and the run of a response after a
scan (``scanner.integrations.response``), with its exit code."""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, TextIO

from scanner.errors import EXIT_PASS

if TYPE_CHECKING:
    import argparse

    from scanner.models import ScanResult
    from scanner.policy.config import Config


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
