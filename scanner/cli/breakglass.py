"""``leakstop breakglass request|approve|list|revoke``: break-glass for push protection
(``scanner.respond.breakglass``), run on the git server, in the repository's git dir (or ``--git-dir``).

Who runs a command is the unix account the process runs as (``pwd`` on ``os.getuid()``), never an environment
variable a requester could set: the two-person rule rests on it. ``run`` takes the identity source as a function
(``identity``) so that tests can act as a second person without a second account; ``main`` passes the real one.

Exit codes: 0 done, 1 refused by the rules (self-approval, not an approver, an expired or used request), 2 a bad
argument, config or store.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from scanner.cli.common import os_user
from scanner.errors import EXIT_PASS, ConfigError, UsageError

if TYPE_CHECKING:
    from scanner.cli.common import Subparsers
    from scanner.respond.breakglass import BreakGlass
    from scanner.respond.breakglass_store import Request

DEFAULT_TTL = "1h"
_SPAN = re.compile(r"[1-9][0-9]*[mhd]")


def _span(text: str) -> str:
    if not _SPAN.fullmatch(text):
        raise argparse.ArgumentTypeError(f"not a duration: {text!r} (e.g. 30m, 1h, 1d)")
    return text


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--git-dir", metavar="DIR", help="the server's repository (default: $GIT_DIR, else .)")
    parser.add_argument("--config", "-c", metavar="FILE", help="the server's config (default: leakstop.yaml there)")
    parser.add_argument(
        "--store",
        metavar="FILE",
        help="the break-glass store (default: the config's, else leakstop/breakglass.sqlite in the git dir)",
    )
    parser.add_argument("--audit-log", metavar="FILE", help="the audit log (default: the hook's)")
    parser.set_defaults(no_config=False)


def add_parser(subparsers: Subparsers) -> None:
    glass = subparsers.add_parser(
        "breakglass",
        help="let one push through push protection: requested, approved by someone else, audited",
        description="Break-glass for the pre-receive hook: a request, a different person's approval, a one-time "
        "token for git push -o leakstop.breakglass=TOKEN. Exit 0 done, 1 refused, 2 bad argument or config.",
    )
    steps = glass.add_subparsers(dest="glass_step", metavar="STEP", required=True)
    request = steps.add_parser("request", help="ask for a token (a different person approves it)")
    request.add_argument("--reason", required=True, help="why, in one line (recorded)")
    request.add_argument("--repo", metavar="R", help="the repository as the hook names it (default: the git dir)")
    request.add_argument("--ref", metavar="REF", help="only pushes to this ref (a branch name or refs/…)")
    request.add_argument(
        "--ttl",
        type=_span,
        default=DEFAULT_TTL,
        help="how long the token lives once approved (default 1h, at most the policy's max_ttl): 30m, 1h, 1d",
    )
    approve = steps.add_parser("approve", help="approve a request: prints its one-time token, once")
    approve.add_argument("id", metavar="ID", help="the request's id (leakstop breakglass list)")
    listing = steps.add_parser("list", help="requests and their state (never a token)")
    listing.add_argument("--json", action="store_true", help="JSON lines")
    revoke = steps.add_parser("revoke", help="withdraw a request or an unused token")
    revoke.add_argument("id", metavar="ID", help="the request's id")
    for parser in (request, approve, listing, revoke):
        _common(parser)


def run(args: argparse.Namespace, identity: Callable[[], str] = os_user) -> int:
    desk, git_dir = _desk(args)
    try:
        who = identity()
        if args.glass_step == "request":
            return _request(desk, who, args, git_dir)
        if args.glass_step == "approve":
            request, token = desk.approve(who, args.id)
            print(
                f"leakstop: break-glass {request.id} approved by {who}; the token below is shown once, valid"
                f" for one push to {_scope(request)} until {_when(request.expires)}:",
                file=sys.stderr,
            )
            print(token, flush=True)
            return EXIT_PASS
        if args.glass_step == "revoke":
            request = desk.revoke(who, args.id)
            print(f"leakstop: break-glass {request.id} revoked by {who}", file=sys.stderr)
            return EXIT_PASS
        for request in desk.listed():
            print(json.dumps(_shown(request)) if args.json else _line(request))
        return EXIT_PASS
    finally:
        desk.store.close()


def _desk(args: argparse.Namespace) -> tuple[BreakGlass, Path]:
    from scanner.cli.serverhook import audit_log_path, breakglass_store, server_config
    from scanner.policy.pushprotection import PushProtection
    from scanner.respond.breakglass import BreakGlass
    from scanner.respond.breakglass_store import Store

    git_dir = Path(os.path.abspath(args.git_dir or os.environ.get("GIT_DIR") or "."))
    if not (git_dir / "HEAD").is_file():
        raise UsageError(f"{git_dir}: not a git dir: run this in the server's repository or give --git-dir")
    config = server_config(args, str(git_dir))
    push = config.push_protection or PushProtection()
    if not push.breakglass.enabled:
        where = config.source or f"{git_dir}/leakstop.yaml"
        raise ConfigError(f"{where}: break-glass is not enabled (push_protection.breakglass.enabled)")
    store = Path(args.store) if args.store else breakglass_store(push, git_dir)
    audit_log = Path(args.audit_log) if args.audit_log else audit_log_path(push, git_dir)
    return BreakGlass(Store(store), audit_log, push.breakglass), git_dir


def _request(desk: BreakGlass, who: str, args: argparse.Namespace, git_dir: Path) -> int:
    from scanner.policy.pushprotection import parse_span

    reason = args.reason.strip()
    if not reason or "\n" in reason or "\r" in reason or not reason.isprintable():
        raise UsageError("--reason: one line of text, not empty (it is recorded)")
    ttl = parse_span(args.ttl).total_seconds()
    request = desk.request(who, reason, args.repo or str(git_dir), args.ref or "", ttl)
    print(request.id)
    print(
        f"leakstop: break-glass {request.id} requested by {who} for {_scope(request)}; another person approves"
        f" it with: leakstop breakglass approve {request.id} (before {_when(request.expires)})",
        file=sys.stderr,
    )
    return EXIT_PASS


def _when(seconds: float) -> str:
    from scanner.respond.breakglass import when

    return when(seconds)


def _scope(request: Request) -> str:
    return request.repository + (f" {request.ref}" if request.ref else " (any ref)")


def _shown(request: Request) -> dict[str, object]:
    fields = ("id", "state", "requester", "approver", "repository", "ref", "reason", "ttl", "ended_by")
    shown: dict[str, object] = {name: getattr(request, name) for name in fields}
    shown.update(created=_when(request.created), expires=_when(request.expires))
    return shown


def _line(request: Request) -> str:
    from scanner.safetext import printable

    approver = f" approved by {request.approver}" if request.approver else ""
    return printable(
        f"{request.id}  {request.state:<8}  {request.requester}{approver}  {_scope(request)}"
        f"  expires {_when(request.expires)}  {request.reason}"
    )
