"""``leakstop audit verify|show [LOG]``: check the hash-chained audit log (``scanner.respond.audit_log``) and read
its recent records.

LOG defaults to the policy's ``audit_log`` (``.leakstop.yaml`` found from the current directory, or
``--config``). ``verify`` prints one line and exits 0 when the chain is intact, 1 when it is not (an edited,
reordered, removed or inserted line, or a truncated log: the first bad line is named), 2 when the log cannot be
read. Records hold fingerprints and rule ids only; ``show`` prints them one a line, control characters escaped.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scanner.cli.common import add_config_options, load_config
from scanner.errors import EXIT_BLOCKED, EXIT_PASS, InputError, UsageError

if TYPE_CHECKING:
    from scanner.cli.common import Subparsers


def add_parser(subparsers: Subparsers) -> None:
    audit = subparsers.add_parser("audit", help="verify or read the audit log (bypasses, break-glass, fail-opens)")
    steps = audit.add_subparsers(dest="audit_step", metavar="STEP", required=True)
    verify = steps.add_parser(
        "verify",
        help="check the hash chain: exit 0 intact, 1 tampered (names the first bad line), 2 unreadable",
    )
    show = steps.add_parser("show", help="the most recent records, one a line")
    for parser in (verify, show):
        parser.add_argument("log", nargs="?", metavar="LOG", help="the audit log (default: the policy's audit_log)")
        parser.add_argument("--json", action="store_true", help="JSON instead of text")
        add_config_options(parser, where="the current directory's repository root")
    show.add_argument(
        "--action",
        action="append",
        default=[],
        metavar="ACTION",
        help="only these actions (bypass, reject, fail-open, breakglass-use, …); repeatable",
    )
    show.add_argument("--last", type=int, default=20, metavar="N", help="how many (default 20; 0 = all)")


def run(args: argparse.Namespace) -> int:
    from scanner.respond.audit_log import verify

    path = _log(args)
    if args.audit_step == "show":
        return _show(path, args)
    result = verify(path)
    if args.json:
        shown = {
            "path": result.path,
            "ok": result.ok,
            "records": result.lines,
            "bad_line": result.bad_line,
            "problem": result.problem,
            "anchored": result.anchored,
            "notes": list(result.notes),
        }
        print(json.dumps(shown))
    else:
        print(result.message())
        for note in result.notes:
            print(f"  note: {note}")
    return EXIT_PASS if result.ok else EXIT_BLOCKED


def _log(args: argparse.Namespace) -> Path:
    if args.log:
        return Path(args.log)
    named = load_config(args, ["."]).audit_log_path
    if not named:
        raise UsageError("audit: give LOG, or set policy.audit_log in .leakstop.yaml")
    return Path(named)


def _records(path: Path) -> Iterator[dict[str, Any]]:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: cannot read the audit log: {exc.strerror}") from None
    for number, line in enumerate(data.splitlines(), 1):
        try:
            doc = json.loads(line)
        except ValueError:
            raise InputError(f"{path}: line {number}: not a JSON record (run leakstop audit verify)") from None
        if isinstance(doc, dict):
            yield doc


def _show(path: Path, args: argparse.Namespace) -> int:
    from scanner.safetext import printable

    wanted = set(args.action)
    chosen = [doc for doc in _records(path) if not wanted or doc.get("action") in wanted]
    for doc in chosen[-args.last :] if args.last > 0 else chosen:
        if args.json:
            print(json.dumps(doc, sort_keys=True))
            continue
        parts = [str(doc.get(k, "")) for k in ("seq", "time", "action", "actor", "repository")]
        if doc.get("subject"):
            parts.append(f"[{doc['subject']}]")
        refs = doc.get("refs") or []
        if refs:
            parts.append(" ".join(map(str, refs)))
        findings = doc.get("findings") or []
        if findings:
            rules = sorted({str(f.get("rule", "")) for f in findings if isinstance(f, dict)})
            parts.append(f"{len(findings)} findings ({', '.join(rules)})")
        for key in ("reason", "detail"):
            if doc.get(key):
                parts.append(f"{key}: {doc[key]}")
        sys.stdout.write(printable("  ".join(parts)) + "\n")
    return EXIT_PASS
