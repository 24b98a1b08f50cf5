"""Command line: ``main(argv) -> int``; one handler maps exceptions to the documented exit codes.

Exit codes: 0 pass · 1 blocked by policy · 2 usage, config or input error · 3 internal error or a scan that
could not go on · 5 response actions pending · 129 / 130 / 143 stopped by SIGHUP / SIGINT / SIGTERM (the worker
pool and git processes stopped first: ``scanner.lifeline``).

The parser is assembled from ``COMMANDS``, one module per command group; each gives ``add_parser(subparsers)``
and ``run(args) -> int``, and turns its arguments and the environment into a request at this edge: nothing below
``scanner.cli`` reads an argparse value or (but for the environment's own modules) an environment variable.

    scan          scan.py       files, stdin, a git mode, an image or Terraform state → pipeline → reporter
    respond       respond.py    the leak response: plan, --execute, --drain (``scanner.integrations.response``)
    ci            ci.py         what a GitHub Actions or GitLab CI run brings (``scanner.integrations.ci``)
    install-hook  hooks.py      a plain git hook (``scanner.integrations.githooks``)
    hook          serverhook.py  pre-receive: server push protection (``scanner.integrations.prereceive``)
    breakglass    breakglass.py  request, approve, list, revoke: one push through push protection, two people
    audit         audit.py      verify, show: the hash-chained audit log
    baseline      baseline.py   create, update, prune, audit, import: scans through the pipeline like ``scan``
    config        config.py     import-gitleaks
    rules         rules.py      list, check
    org           org.py        org scan: every repository of an org, group or list, on Dask (``scanner.org``)
    redact        redact.py     a log filter: secrets replaced by their redacted form (``pipeline.logredact``)
    common.py     what they share: config loading, file options, output, sizes, the fingerprint key and engine
    parser.py     argparse that suggests the closest option or choice for a mistyped one
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext
from typing import TYPE_CHECKING, Protocol, cast

import scanner
from scanner import shutdown, startup
from scanner.errors import EXIT_ERROR, EXIT_INTERNAL, EXIT_INTERRUPTED, EXIT_PASS, LeakstopError
from scanner.lifeline import Terminated, install_handlers, restore_handlers
from scanner.safetext import printable

if TYPE_CHECKING:
    import argparse

    from scanner.cli.common import Subparsers
    from scanner.cli.parser import SuggestingParser


class CommandGroup(Protocol):
    """A module under ``scanner.cli``: its subcommand's parser, and what it runs."""

    def add_parser(self, subparsers: Subparsers) -> None: ...

    def run(self, args: argparse.Namespace) -> int: ...


# The command groups (command → module under ``scanner.cli``), in the order ``leakstop --help`` lists them.
# Modules, not imports: a run imports the one group it dispatches to (the commit hook's start-up time).
COMMANDS: dict[str, str] = {
    "scan": "scan",
    "respond": "respond",
    "ci": "ci",
    "install-hook": "hooks",
    "hook": "serverhook",
    "breakglass": "breakglass",
    "audit": "audit",
    "baseline": "baseline",
    "config": "config",
    "rules": "rules",
    "redact": "redact",
    "org": "org",
}


def command_group(command: str) -> CommandGroup:
    """The module that adds ``command``'s parser and runs it, imported on first use."""
    return cast(CommandGroup, importlib.import_module(f"scanner.cli.{COMMANDS[command]}"))


def build_parser(only: str = "") -> SuggestingParser:
    """The whole parser, or (``only``) the top level plus that one command: what a run needs once its first
    argument names a command (``--help`` and mistakes get the whole parser, with every command listed)."""
    from scanner.cli.parser import SuggestingParser

    parser = SuggestingParser(prog="leakstop", description="Find secrets before they leak; gate them by policy.")
    parser.add_argument(
        "--version", action="version", version=f"leakstop {scanner.__version__}", help="print the version"
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for command in [only] if only else COMMANDS:
        command_group(command).add_parser(subparsers)
    return parser


def _dispatched(argv: Sequence[str] | None) -> str:
    """The command the arguments name first, or "" (none: the whole parser answers)."""
    words = sys.argv[1:] if argv is None else argv
    return words[0] if words and words[0] in COMMANDS else ""


def console() -> int:
    """The installed ``leakstop`` command: ``main`` over the process's own arguments. For ``scan`` (the commit
    hook's command) the cyclic collector is paused over the start-up; the scan settles it once its detector is
    built (``scanner.startup``), and the process ends without the interpreter's teardown (``scanner.shutdown``).
    Other commands, and callers of ``main``, keep the collector and the exit as they are."""
    scan = sys.argv[1:2] == ["scan"]
    if scan:
        startup.pause()
    try:
        with staged_ahead(sys.argv[1:]) if scan else nullcontext():
            code = main()
    finally:
        startup.settle()
    if scan:
        shutdown.end(code)  # returns only where the interpreter must end the process itself
    return code


def staged_ahead(words: Sequence[str]) -> AbstractContextManager[object]:
    """``scan --staged``'s three ``git`` calls (``staged.ReadAhead``), started before the scan's modules are
    imported rather than when its pipeline starts (that ``with`` block then finds them running and starts none):
    git runs on another core during the imports instead of the rules' load, and its thread no longer waits for the
    GIL while one ``marshal.loads`` holds it. Under load (4 on 2 cores) the scan waited 5-21 ms for git where
    its source opened. Only for the forms ``fastargs`` reads, with at most one PATH (others, and mistakes, start
    no git early); the source meets an error (no repository, a bare one) where it did."""
    from scanner.cli.fastargs import parse_hook_form

    args = parse_hook_form(words)
    if args is None or not args.staged or len(args.paths) > 1 or args.paths == ["-"]:
        return nullcontext()
    from scanner.sources.git.staged import ReadAhead

    return ReadAhead(args.paths[0] if args.paths else ".")


def main(argv: Sequence[str] | None = None) -> int:
    _tolerant_streams()
    saved = install_handlers()
    try:  # from the handlers on: a signal at any point is an exit code, never a traceback
        args = _arguments(argv)
        if args is None:
            return EXIT_ERROR
        return command_group(args.command).run(args)
    except LeakstopError as exc:
        print(f"leakstop: error: {printable(str(exc))}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("leakstop: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Terminated as exc:  # SIGTERM (a CI job cancelled) or SIGHUP: 128 + the signal, as a shell reports it
        print(f"leakstop: stopped by {exc}", file=sys.stderr)
        return 128 + exc.signum
    except BrokenPipeError:
        # The reader went away (e.g. `| head`); not our error. Silence the flush at exit.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_PASS
    except Exception as exc:
        return _internal_error(exc)
    finally:
        restore_handlers(saved)


def _arguments(argv: Sequence[str] | None) -> argparse.Namespace | None:
    """The parsed arguments, or None after printing the help (no command). The commit hook's forms skip argparse
    (``fastargs``); everything else, and every mistake, goes through the full parser and its messages."""
    from scanner.cli.fastargs import parse_hook_form

    fast = parse_hook_form(sys.argv[1:] if argv is None else argv)
    if fast is not None:
        return cast("argparse.Namespace", fast)  # the same attributes (tests/test_fastargs.py)
    from scanner.cli.parser import parse

    parser = build_parser(_dispatched(argv))
    args = parse(parser, argv)
    if (args.command or "") not in COMMANDS:
        parser.print_help(sys.stderr)
        return None
    return args


def _tolerant_streams() -> None:
    """Under the C locale stdout is ASCII: a non-ASCII path or the report's own marks (…, │) are written escaped
    instead of ending the run with a ``UnicodeEncodeError``."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None and (getattr(stream, "encoding", "") or "").lower() not in ("utf-8", "utf8"):
            reconfigure(errors="backslashreplace")


def _internal_error(exc: Exception) -> int:
    """One line naming the exception's type and where it was raised (never its message: it may hold a secret)."""
    import traceback

    frame = traceback.extract_tb(exc.__traceback__)[-1]
    where = f"{os.path.basename(frame.filename)}:{frame.lineno}"
    print(f"leakstop: internal error: {type(exc).__name__} at {where} (please report it)", file=sys.stderr)
    if os.environ.get("LEAKSTOP_DEBUG"):
        traceback.print_exc()
    return EXIT_INTERNAL
