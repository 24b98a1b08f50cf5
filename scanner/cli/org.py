"""``leakstop org scan``: every repository of GitHub orgs or users, GitLab groups or a list, each scanned over its
full history as one Dask task (``scanner.org``), remembered in a store, reported as one merged report.

The arguments and the environment (``GITHUB_TOKEN``, ``GITLAB_TOKEN``, ``GITHUB_API_URL``, ``CI_API_V4_URL``,
``LEAKSTOP_CACHE_DIR``, ``XDG_CACHE_HOME``) are read here and nowhere below.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scanner.cli.common import engine, fingerprint_key, open_output
from scanner.errors import EXIT_BLOCKED, EXIT_PASS, UsageError

if TYPE_CHECKING:
    from scanner.cli.common import Subparsers
    from scanner.org.orgscan import OrgRequest


def add_parser(subparsers: Subparsers) -> None:
    org = subparsers.add_parser("org", help="scan every repository of an org, a group or a list, on Dask")
    actions = org.add_subparsers(dest="org_command", metavar="ACTION")
    scan = actions.add_parser("scan", help="mirror and scan every repository's history; one merged report")
    targets = scan.add_argument_group("targets (at least one; repeatable)")
    targets.add_argument("--repos", metavar="FILE", help="clone URLs or local paths, one a line")
    targets.add_argument("--github-org", action="append", default=[], metavar="NAME", help="a GitHub organization")
    targets.add_argument("--github-user", action="append", default=[], metavar="NAME", help="a GitHub user")
    targets.add_argument(
        "--gitlab-group", action="append", default=[], metavar="PATH", help="a GitLab group (subgroups included)"
    )
    targets.add_argument("--include-forks", action="store_true", help="forks too (default: left out)")
    targets.add_argument("--include-archived", action="store_true", help="archived repositories too")
    engine_group = scan.add_argument_group("where the tasks run")
    engine_group.add_argument(
        "--workers", type=_positive, default=2, metavar="N", help="local cluster: N worker processes (default 2)"
    )
    engine_group.add_argument("--scheduler", metavar="tcp://HOST:PORT", help="an existing Dask scheduler instead")
    state = scan.add_argument_group("cache and store")
    state.add_argument(
        "--cache",
        metavar="DIR",
        help="mirrors and the store (default: $LEAKSTOP_CACHE_DIR/org, else $XDG_CACHE_HOME/leakstop/org)",
    )
    state.add_argument("--store", metavar="FILE", help="the incremental store (default: DIR/org.sqlite)")
    state.add_argument("--full", action="store_true", help="scan every commit again, whatever the store knows")
    from scanner.report import REPORTERS

    scan.add_argument(
        "--format",
        "-f",
        choices=[*REPORTERS, "html"],
        default="text",
        help="report format: the scan formats, or html (one self-contained file)",
    )
    scan.add_argument("--output", "-o", metavar="FILE", help="write the report here instead of stdout")
    scan.add_argument("--config", "-c", metavar="FILE", help="rules and policy for every repository (default: none)")
    scan.add_argument("--no-progress", action="store_true", help="no line per repository on a terminal")
    from scanner.cli.validation import add_validate_options

    add_validate_options(scan)


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be 1 or more")
    return value


def run(args: argparse.Namespace) -> int:
    if args.org_command != "scan":
        raise UsageError("org: give an action: scan")
    from scanner.org.merge import merged_result
    from scanner.org.orgscan import list_repos, scan_org

    request = org_request(args, os.environ)
    repos = list_repos(request)
    progress = None if args.no_progress or not sys.stderr.isatty() else _progress
    org_run, issues = scan_org(request, repos, progress)
    print(org_run.summary(), file=sys.stderr)
    result = merged_result(org_run, _target(args), issues)
    out = open_output(args.output)
    try:
        if args.format == "html":
            from scanner.org.html import write_html

            write_html(org_run, out)
        else:
            from scanner.report import REPORTERS, ReportOptions

            REPORTERS[args.format](result, out, ReportOptions())
    finally:
        if out is not sys.stdout:
            out.close()
    return EXIT_BLOCKED if result.blocked else EXIT_PASS


def org_request(args: argparse.Namespace, environ: Mapping[str, str]) -> OrgRequest:
    from scanner.org.engine import Cluster
    from scanner.org.listing import Filters, github_platform, gitlab_platform
    from scanner.org.orgscan import OrgRequest, Targets
    from scanner.policy.config import load_config

    cache = Path(args.cache) if args.cache else _default_cache(environ)
    targets = Targets(
        args.repos or "",
        tuple(args.github_org),
        tuple(args.github_user),
        tuple(args.gitlab_group),
        Filters(args.include_forks, args.include_archived),
    )
    if args.config and not Path(args.config).is_file():
        raise UsageError(f"{args.config}: config file not found")
    from scanner.cli.validation import validation_options

    config = load_config(Path(args.config) if args.config else None)
    return OrgRequest(
        targets=targets,
        cache=cache,
        store=Path(args.store) if args.store else cache / "org.sqlite",
        github=github_platform(environ),
        gitlab=gitlab_platform(environ),
        cluster=Cluster(args.workers, args.scheduler or ""),
        full=args.full,
        config=config,
        key=fingerprint_key(environ),
        engine=engine(environ),
        validation=validation_options(args, config, "history", environ),
    )


def _default_cache(environ: Mapping[str, str]) -> Path:
    if environ.get("LEAKSTOP_CACHE_DIR"):
        return Path(environ["LEAKSTOP_CACHE_DIR"]) / "org"
    return Path(environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")) / "leakstop" / "org"


def _target(args: argparse.Namespace) -> str:
    parts = [*(f"github:{o}" for o in args.github_org), *(f"github-user:{u}" for u in args.github_user)]
    parts += [f"gitlab:{g}" for g in args.gitlab_group]
    if args.repos:
        parts.append(args.repos)
    return "org " + ", ".join(parts)


def _progress(index: int, total: int, result: dict[str, Any], mode: str) -> None:
    from scanner.safetext import printable

    what = result.get("error") or f"{mode}, {len(result.get('commits', ()))} commits"
    print(printable(f"[{index}/{total}] {result['repo']}: {what}"), file=sys.stderr)
