"""``leakstop redact``: a log filter (``deploy.sh 2>&1 | leakstop redact``) that writes its input through with every
secret the rules find replaced by its redacted form (``scanner.pipeline.logredact``).

Reading is by ``select`` and ``os.read`` on the input's descriptor: whatever arrived is redacted and written at
once up to its last complete line, and a partial line (a prompt, a progress bar) is written after ``--flush-after``
seconds of quiet. Exit codes: 0, or 1 with ``--fail-on-redact`` when something was redacted; 2 for a file that
cannot be read or written.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import select
import sys
import time
from typing import TYPE_CHECKING, BinaryIO, cast

from scanner.cli.common import add_config_options, engine, load_config
from scanner.errors import EXIT_BLOCKED, EXIT_PASS, UsageError

if TYPE_CHECKING:
    from scanner.cli.common import Subparsers
    from scanner.pipeline.logredact import LogRedactor

READ_SIZE = 1 << 20
PEM_WAIT = 2.0  # seconds of quiet after which an open PEM block (a BEGIN line, no END yet) is written anyway


def add_parser(subparsers: Subparsers) -> None:
    redact = subparsers.add_parser(
        "redact", help="filter a log: write it through with every secret replaced by its redacted form"
    )
    redact.add_argument("--input", "-i", metavar="FILE", help="read this file (default: stdin)")
    redact.add_argument("--output", "-o", metavar="FILE", help="write here (default: stdout)")
    redact.add_argument(
        "--fail-on-redact", action="store_true", help="exit 1 when anything was redacted (default: exit 0)"
    )
    redact.add_argument(
        "--flush-after",
        type=float,
        default=0.1,
        metavar="SECONDS",
        help="write a partial line after this long without input (default 0.1)",
    )
    redact.add_argument("--no-summary", action="store_true", help="no summary on stderr at the end")
    add_config_options(redact, "the current directory")


def run(args: argparse.Namespace) -> int:
    from scanner.pipeline.logredact import LogRedactor
    from scanner.pipeline.setup import build_detector, build_ruleset

    config = load_config(args, ["."])
    redactor = LogRedactor(build_detector(build_ruleset(config), config, engine(os.environ)))
    with contextlib.ExitStack() as files:
        source = files.enter_context(_open(args.input, "rb", "cannot read")) if args.input else sys.stdin.buffer
        sink = files.enter_context(_open(args.output, "wb", "cannot write")) if args.output else sys.stdout.buffer
        _pump(source.fileno(), sink, redactor, max(args.flush_after, 0.01))  # 0 would spin on a held PEM block
    if not args.no_summary:
        print(f"leakstop redact: {summary(redactor)}", file=sys.stderr)
    return EXIT_BLOCKED if args.fail_on_redact and redactor.counts else EXIT_PASS


def _open(path: str, mode: str, what: str) -> BinaryIO:
    try:
        return cast(BinaryIO, open(path, mode))  # closed by run's exit stack
    except OSError as exc:
        raise UsageError(f"{path}: {what}: {exc.strerror}") from None


def summary(redactor: LogRedactor) -> str:
    """One line: how many secrets were redacted, by rule; never a secret."""
    total = sum(redactor.counts.values())
    if not total:
        return f"nothing redacted ({redactor.bytes_in} bytes)"
    rules = ", ".join(f"{rule} {n}" for rule, n in sorted(redactor.counts.items(), key=lambda kv: (-kv[1], kv[0])))
    noun = "secret" if total == 1 else "secrets"
    return f"{total} {noun} redacted in {redactor.bytes_in} bytes: {rules}"


def _pump(fd: int, sink: BinaryIO, redactor: LogRedactor, flush_after: float) -> None:
    """Read until the end of input, writing as soon as there is something to write."""
    waits = not _regular(fd)  # a pipe or a terminal: wait for input at most flush_after while a line is open
    quiet_since = time.monotonic()
    while True:
        if waits and redactor.pending:
            readable, _, _ = select.select([fd], [], [], flush_after)
            if not readable:
                hold = time.monotonic() - quiet_since < PEM_WAIT
                _write(sink, redactor.flush(hold_pem=hold))
                continue
        try:
            data = os.read(fd, READ_SIZE)
        except OSError as exc:
            raise UsageError(f"input: cannot read: {exc.strerror}") from None
        if not data:
            break
        quiet_since = time.monotonic()
        _write(sink, redactor.feed(data))
    _write(sink, redactor.finish())


def _regular(fd: int) -> bool:
    import stat

    return stat.S_ISREG(os.fstat(fd).st_mode)


def _write(sink: BinaryIO, data: bytes) -> None:
    if data:
        sink.write(data)
        sink.flush()
