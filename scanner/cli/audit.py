"""``leakstop audit verify FILE``: check an audit log's hash chain (``scanner.respond.audit_log.verify``).

Exit 0 the chain is intact, 1 it is not (the first bad line is named), 2 the file cannot be read.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from scanner.errors import EXIT_BLOCKED, EXIT_PASS

if TYPE_CHECKING:
    from scanner.cli.common import Subparsers


def add_parser(subparsers: Subparsers) -> None:
    audit = subparsers.add_parser("audit", help="the audit log: verify its hash chain")
    actions = audit.add_subparsers(dest="audit_action", metavar="ACTION", required=True)
    verify = actions.add_parser(
        "verify",
        help="check an audit log: an edited, reordered or truncated log names its first bad line",
        description="Exit 0 intact, 1 edited, reordered or truncated (the first bad line is named), 2 unreadable.",
    )
    verify.add_argument("path", metavar="FILE", help="the audit log (JSON lines)")


def run(args: argparse.Namespace) -> int:
    from scanner.respond.audit_log import verify

    checked = verify(Path(args.path))
    print(f"leakstop audit: {checked.message()}")
    for note in checked.notes:
        print(f"leakstop audit: note: {note}")
    return EXIT_PASS if checked.ok else EXIT_BLOCKED
