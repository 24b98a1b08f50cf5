"""``leakstop scan``: files, a directory or stdin; a git mode; an image or Terraform state.

The arguments and the environment become one ``ScanRequest`` here (``scan_request``: the one place they are
read); ``scanner.pipeline.run`` scans it and a reporter writes the result. Imports stay inside the functions so
that ``scan --staged``, the pre-commit hook's path, loads only what that scan needs.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scanner import completeness
from scanner.atomicfile import write_atomic
from scanner.cli.common import (
    audit_decisions,
    engine,
    file_options,
    fingerprint_key,
    load_config,
    open_output,
)
from scanner.errors import EXIT_BLOCKED, EXIT_ERROR, EXIT_PASS, UsageError

if TYPE_CHECKING:
    import argparse

    from scanner.cli.common import Subparsers
    from scanner.models import ScanResult
    from scanner.pipeline.policychange import PolicyChange
    from scanner.pipeline.request import RequestKind, RunContext, ScanRequest, SourceOptions
    from scanner.policy.baseline import Matcher
    from scanner.policy.config import Config

ARTIFACT_FLAGS = ("image", "tfstate", "ci_logs")
ARTIFACT_KINDS: dict[str, RequestKind] = {"image": "image", "tfstate": "tfstate", "ci_logs": "ci-logs"}
GIT_FLAGS = ("staged", "history", "range", "since", "pre_push")


def add_parser(subparsers: Subparsers) -> None:
    from scanner.cli.scanargs import add_artifact_options, add_git_options, add_scan_options

    scan = subparsers.add_parser("scan", help="scan files, a directory or stdin ('-')")
    add_scan_options(scan)
    add_artifact_options(scan.add_argument_group("artifacts (instead of PATH)"))
    add_git_options(scan.add_argument_group("git modes (PATH is the repository; default: the working tree's files)"))
    scan.add_argument("--no-progress", action="store_true", help="no progress bar, even on a terminal")
    scan.add_argument(
        "--color",
        choices=["auto", "always", "never"],
        default="auto",
        help="colour in the text report: auto (on a terminal, unless NO_COLOR is set), always or never",
    )
    from scanner.cli.response import add_response_options

    scan.add_argument(
        "--respond", action="store_true", help="after the report, the response's plan on stderr (--execute: act on it)"
    )
    add_response_options(scan)


def run(args: argparse.Namespace) -> int:
    from scanner.pipeline import run
    from scanner.report.progress import progress_bar

    if args.execute and not args.respond:
        raise UsageError("--execute goes with --respond")
    request = scan_request(args, os.environ)
    with progress_bar(request.is_git and not args.no_progress and sys.stderr.isatty()) as advance:
        result = run(dataclasses.replace(request, progress=advance))
    audit_decisions(result, request.config, request.paths[0], os.environ)
    write_report(result, args)
    code = EXIT_BLOCKED if result.blocked or completeness.fails(result) else EXIT_PASS
    if args.respond and result.blocked:
        from scanner.cli.response import respond_to

        mode = "execute" if args.execute else "plan"
        answer = respond_to(result, request.config, args, request.paths[0], mode, sys.stderr)
        return EXIT_ERROR if answer == EXIT_ERROR else code
    return code


def write_report(result: ScanResult, args: argparse.Namespace) -> None:
    """The report in ``--format`` to ``--output`` (or stdout); a one-line count on stderr when it went to a file."""
    from scanner.report import REPORTERS, ReportOptions

    # A regular file is written whole or not at all (a signal or a full disk leaves no partial report).
    atomic = bool(args.output) and (not os.path.exists(args.output) or os.path.isfile(args.output))
    buffer = io.StringIO()
    out = buffer if atomic else open_output(args.output)
    try:
        color_flag = getattr(args, "color", "auto")
        color = color_flag == "always" or (color_flag == "auto" and out.isatty() and "NO_COLOR" not in os.environ)
        report_options = ReportOptions(show_secrets=args.show_secrets, color=color, verbose=args.verbose)
        REPORTERS[args.format](result, out, report_options)
        if atomic:
            write_atomic(Path(args.output), buffer.getvalue().encode("utf-8"))
        elif out is not sys.stdout:
            out.close()  # a full disk shows here at the latest
    except OSError as exc:
        if out is sys.stdout:
            raise
        raise UsageError(f"{args.output}: cannot write report: {exc.strerror or exc}") from None
    finally:
        if out is not sys.stdout and not out.closed:
            with contextlib.suppress(OSError):
                out.close()
    if args.output and args.format != "text":
        blocked = sum(1 for f in result.findings if f.verdict == "block")
        unread = f"; {completeness.describe(result)}" if completeness.said(result) else ""
        print(
            f"leakstop: {len(result.findings)} findings ({blocked} blocking) in {result.stats.items_scanned} items"
            f"{unread}; report written to {args.output}",
            file=sys.stderr,
        )


def scan_kind(args: argparse.Namespace) -> RequestKind:
    """Which source the flags ask for; a combination that makes no sense is a usage error."""
    artifacts = [flag for flag in ARTIFACT_FLAGS if getattr(args, flag)]
    git = [flag for flag in GIT_FLAGS if getattr(args, flag)]
    if len(artifacts) > 1:
        raise UsageError("give one of --image, --tfstate and --ci-logs")
    if artifacts != ["image"] and (args.platform or args.insecure_registry or args.max_archive_depth is not None):
        raise UsageError("--platform, --insecure-registry and --max-archive-depth go with --image")
    if artifacts:
        mode = artifacts[0]
        if args.paths:
            raise UsageError(f"--{mode.replace('_', '-')} scans its own argument: give no PATH")
        if git:
            raise UsageError(f"--{mode.replace('_', '-')} cannot be combined with a git mode")
        return ARTIFACT_KINDS[mode]
    if not git:
        return "paths"
    if len(args.paths) > 1 or args.paths == ["-"]:
        raise UsageError("git modes take one PATH: the repository")
    kinds: dict[str, RequestKind] = {"staged": "staged", "history": "history", "range": "range", "since": "range"}
    return kinds.get(git[0], "push")


def scan_request(args: argparse.Namespace, environ: Mapping[str, str]) -> ScanRequest:
    """The scan the arguments and the environment ask for: the one place they are read."""
    from scanner.cli.validation import validation_options
    from scanner.pipeline.request import ScanRequest

    if args.all_versions and not args.tfstate:
        raise UsageError("--all-versions goes with --tfstate s3://…")
    kind = scan_kind(args)
    paths = list(args.paths or ["."])
    range_spec = args.range or args.since or ""
    config, policy_change = range_config(args, paths, range_spec if kind == "range" else "")
    baseline = find_baseline(args, paths, config)
    options = _source_options(args, kind, config, environ)
    context = run_context(args, next((p for p in paths if p != "-"), "."), environ)
    push_lines: tuple[str, ...] = ()
    if kind == "push":
        range_spec, push_lines = _push(paths[0], environ)
    if kind in ("push", "range"):  # in a server's pre-receive hook, the pushed objects are in its quarantine
        from scanner.integrations.prereceive.environment import object_dirs

        options = dataclasses.replace(options, object_dirs=object_dirs(environ))
    return ScanRequest(
        kind=kind,
        paths=tuple(paths),
        range_spec=range_spec,
        push_lines=push_lines,
        image=args.image or "",
        tfstate=args.tfstate or "",
        ci_logs=args.ci_logs or "",
        options=options,
        config=config,
        baseline=baseline,
        context=context,
        workers=args.workers,
        engine=engine(environ),
        policy_change=policy_change,
        validation=validation_options(args, config, kind, environ),
    )


def range_config(args: argparse.Namespace, paths: list[str], range_spec: str) -> tuple[Config, PolicyChange | None]:
    """The config a scan runs under: for a range (``range_spec``) with no ``--config``/``--no-config``, the
    range base's (``cli/trusted.py``) and the change the range makes to it; else the usual one."""
    if range_spec and not (args.config or args.no_config):
        from scanner.cli.trusted import trusted_config

        trusted = trusted_config(paths[0], range_spec)
        if trusted is not None:
            return trusted
    return load_config(args, paths), None


def run_context(args: argparse.Namespace, path: str, environ: Mapping[str, str]) -> RunContext:
    """The branch (``--branch``, the CI's, the checked-out one), bypass requests and the fingerprint key."""
    from scanner.pipeline.request import RunContext
    from scanner.policy.context import current_branch, run_bypasses

    return RunContext(
        branch=current_branch(path, environ, args.branch or ""),
        bypasses=run_bypasses(environ),
        fingerprint_key=fingerprint_key(environ),
    )


def _source_options(
    args: argparse.Namespace, kind: RequestKind, config: Config, environ: Mapping[str, str]
) -> SourceOptions:
    options = dataclasses.replace(
        file_options(args, config, environ),
        max_archive_depth=2 if args.max_archive_depth is None else max(args.max_archive_depth, 0),
        insecure_registries=tuple(args.insecure_registry or ()),
        all_versions=args.all_versions,
        **_ci_logs_options(args, kind),
    )
    if kind not in ("image", "tfstate", "ci-logs"):
        if args.ca_bundle:
            raise UsageError("--ca-bundle goes with --image, --tfstate or --ci-logs")
        return options
    from scanner.httpsettings import HttpSettings
    from scanner.sources.imageref import parse_platform

    http = HttpSettings.from_environment(environ)
    if args.ca_bundle:
        if not os.path.isfile(args.ca_bundle):
            raise UsageError(f"{args.ca_bundle}: CA bundle not found")
        http = dataclasses.replace(http, ca_bundle=Path(args.ca_bundle))
    platform = parse_platform(args.platform or "linux/amd64") if kind == "image" else "linux/amd64"
    return dataclasses.replace(options, platform=platform, http=http)


def _ci_logs_options(args: argparse.Namespace, kind: RequestKind) -> dict[str, Any]:
    """``--ci-logs-runs`` and ``--ci-logs-since``: checked here, so a bad value is a usage error before any call."""
    runs, since = args.ci_logs_runs, args.ci_logs_since or ""
    if kind != "ci-logs":
        if runs is not None or since:
            raise UsageError("--ci-logs-runs and --ci-logs-since go with --ci-logs")
        return {}
    if runs is not None and runs < 1:
        raise UsageError(f"--ci-logs-runs {runs}: give 1 or more")
    if since:
        import datetime

        try:
            datetime.date.fromisoformat(since)
        except ValueError:
            raise UsageError(f"--ci-logs-since {since}: expected a date, YYYY-MM-DD") from None
    return {"ci_logs_runs": runs if runs is not None else (100 if since else 10), "ci_logs_since": since}


def _push(repository: str, environ: Mapping[str, str]) -> tuple[str, tuple[str, ...]]:
    """What a push sends: pre-commit's range from the environment, else git's pre-push lines on stdin."""
    from scanner.sources.git.repo import open_repository

    open_repository(repository)  # not a repository: say so before waiting on stdin
    range_spec = pre_commit_range(environ)
    if not range_spec and sys.stdin is not None and not sys.stdin.isatty():
        return range_spec, tuple(sys.stdin.read().splitlines())
    return range_spec, ()


def find_baseline(args: argparse.Namespace, paths: list[str], config: Config) -> Matcher | None:
    """``--no-baseline``: none; ``--baseline FILE`` or the policy's: any kind; else ours found at the root."""
    from scanner.policy.config import BASELINE_NAME, find_upward

    if args.no_baseline:
        return None
    named = args.baseline or config.baseline_path
    if named:
        if not os.path.isfile(named):
            raise UsageError(f"{named}: baseline file not found")
        from scanner.policy.migrate import load_any

        return load_any(named)
    found = find_upward(paths, BASELINE_NAME)
    if found is None:
        return None  # most repositories: no baseline module, nor the other formats' readers
    from scanner.policy.migrate import load_own

    return load_own(str(found))


def pre_commit_range(environ: Mapping[str, str]) -> str:
    """pre-commit's pre-push stage names the range in the environment (legacy names too)."""
    source = environ.get("PRE_COMMIT_FROM_REF") or environ.get("PRE_COMMIT_ORIGIN")
    target = environ.get("PRE_COMMIT_TO_REF") or environ.get("PRE_COMMIT_SOURCE")
    return f"{source}..{target}" if source and target else ""
