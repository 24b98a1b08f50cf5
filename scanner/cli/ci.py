"""``leakstop ci``: in GitHub Actions or GitLab CI, scan what the run brings.

The platform and its event come from the environment (``scanner.integrations.ci``), which decides what to scan:
the commits of a push or a pull/merge request, or for scheduled and manual runs the configured scope. One line
on stderr says what it decided (``leakstop ci: github pull_request: scanning 3 commits abc1234..def5678``), the
scan is the pipeline's, the report is ``leakstop scan``'s (``--format``, ``--output``). On GitHub the step also
gets annotations, a job summary and its outputs; ``--sarif FILE`` writes a redacted SARIF file besides.

Exit codes: 1 when ``--fail-on`` says the findings fail the job (default: something blocks), 2 for a missing
or malformed CI variable or payload, as for every other command.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, TextIO

from scanner import completeness
from scanner.cli.common import audit_decisions, engine, file_options, load_config, open_output
from scanner.cli.scan import find_baseline, range_config, run_context, write_report
from scanner.cli.scanargs import add_scan_options
from scanner.cli.validation import validation_options
from scanner.errors import EXIT_BLOCKED, EXIT_PASS, UsageError
from scanner.safetext import printable

if TYPE_CHECKING:
    from scanner.cli.common import Subparsers
    from scanner.integrations.ci.model import CiPlan
    from scanner.models import ScanResult
    from scanner.pipeline.policychange import PolicyChange
    from scanner.pipeline.request import ScanRequest
    from scanner.policy.config import Config

# What fails the job (exit 1), by --fail-on.
# An incomplete scan (``policy.incomplete``) fails with ``block`` under either, and counts as a warning under
# ``--fail-on warn`` when the policy says ``warn``.
FAIL_ON: dict[str, Callable[[ScanResult], bool]] = {
    "block": lambda result: result.blocked or completeness.fails(result),
    "warn": lambda result: any(f.verdict != "allow" for f in result.findings) or completeness.said(result),
    "never": lambda result: False,
}


def add_parser(subparsers: Subparsers) -> None:
    ci = subparsers.add_parser(
        "ci", help="in GitHub Actions or GitLab CI: scan what the push, pull/merge request or schedule brings"
    )
    add_scan_options(ci)
    for action in ci._actions:  # scan's PATH is files; here it is the repository
        if action.dest == "paths":
            action.help, action.metavar = "the repository (default: .)", "REPO"
    group = ci.add_argument_group("CI")
    group.add_argument(
        "--scope",
        choices=["tree", "history"],
        help="scheduled and manual runs: the checked-out tree or every commit of every ref"
        " (default: the config's ci.scope, else tree)",
    )
    group.add_argument(
        "--fetch",
        action="store_true",
        help="git fetch what the range needs when the clone lacks it: deepen a shallow clone, the old tip of a"
        " force push, the default branch to compare a new branch with (default: the config's ci.fetch)",
    )
    group.add_argument(
        "--fail-on",
        choices=list(FAIL_ON),
        default="block",
        help="what fails the job (exit 1): block (default), warn (warnings too) or never (errors still fail)",
    )
    group.add_argument("--sarif", metavar="FILE", help="also write SARIF here (redacted) for code scanning")
    group.add_argument("--no-summary", action="store_true", help="GitHub: no job summary ($GITHUB_STEP_SUMMARY)")
    group.add_argument(
        "--add-mask",
        action="store_true",
        help="GitHub: register each secret found with ::add-mask:: before anything prints, so the runner masks it"
        " in every later log line of the job",
    )
    group.add_argument(
        "--workers", type=int, default=0, metavar="N", help="worker processes for git history (default: cores)"
    )


def run(args: argparse.Namespace) -> int:
    from scanner.integrations.ci import EVENTS
    from scanner.integrations.ci.environment import detect
    from scanner.integrations.ci.gitrepo import GitRepo
    from scanner.integrations.ci.model import PlanSettings
    from scanner.integrations.ci.plan import plan_scan
    from scanner.pipeline import run as run_scan

    environ = os.environ
    platform = detect(environ)
    event = EVENTS[platform](environ)
    if len(args.paths) > 1 or args.paths == ["-"]:
        raise UsageError("leakstop ci takes one REPO: the repository checked out")
    path = args.paths[0] if args.paths else "."
    git = GitRepo(path)
    config = load_config(args, [path])
    settings = PlanSettings(scope=args.scope or config.ci.scope, fetch=args.fetch or config.ci.fetch)
    plan = plan_scan(event, git, settings)
    said = [f"{event.label}: {plan.description}", *plan.notes]
    for line in said:
        print(f"leakstop ci: {printable(line)}", file=sys.stderr)
    for issue in plan.issues:
        print(f"leakstop ci: not scanned: {printable(f'{issue.path}: {issue.message}')}", file=sys.stderr)
    policy_change = None
    if plan.scope == "range":  # the policy of the range's base, not the one the change brings
        config, policy_change = range_config(args, [path], plan.range_spec)
    result = run_scan(_request(args, path, plan, config, environ, policy_change))
    result.issues[:0] = plan.issues
    github = platform == "github"
    if github and args.add_mask:
        register_masks(result, sys.stdout)
    audit_decisions(result, config, path, environ)
    # The runner reads workflow commands on stdout and stderr alike: a text report on stdout quotes scanned
    # content (a path may hold a line break), so commands are off while it prints; a JSON or SARIF report on
    # stdout must stay parseable, so the annotations go to stderr.
    text_on_stdout = not args.output and args.format == "text"
    machine_on_stdout = not args.output and args.format != "text"
    with _workflow_commands_stopped(github and text_on_stdout):
        write_report(result, args)
    if args.sarif:
        _write_sarif(result, args.sarif)
    if github:
        from scanner.integrations.ci.github import Step, publish

        base = git.root if plan.scope != "tree" else os.getcwd()
        step = Step.from_environment(environ, summary=not args.no_summary)
        out = sys.stderr if machine_on_stdout else sys.stdout
        publish(result, step, said, base, plan.issues, args.sarif or "", out)
    if config.respond.on_ci != "off" and result.blocked:
        _respond(result, config, git.root, environ)
    return EXIT_BLOCKED if FAIL_ON[args.fail_on](result) else EXIT_PASS


def register_masks(result: ScanResult, out: TextIO) -> None:
    """``::add-mask::`` for each secret found (each line of a multi-line one too: the runner masks line by line),
    escaped as workflow command data must be; first, before a report or annotation could show one."""
    values: list[str] = []
    for finding in result.findings:
        secret = finding.match.secret.reveal()
        lines = [line for line in secret.splitlines() if len(line.strip()) >= 4 and not line.startswith("-----")]
        values += [secret] + (lines if "\n" in secret else [])  # a PEM block's BEGIN and END lines are no secret
    for value in dict.fromkeys(values):
        data = value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
        out.write(f"::add-mask::{data}\n")
    out.flush()


def _respond(result: ScanResult, config: Config, root: str, environ: Mapping[str, str]) -> None:
    """``respond.on_ci``: enqueue or execute the response to what blocked; the job's exit code stays the scan's."""
    from scanner.integrations.response import Mode, default_where, respond

    where = default_where(config, root, environ)
    mode: Mode = "execute" if config.respond.on_ci == "execute" else "enqueue"
    say = lambda line: print(line, file=sys.stderr)  # noqa: E731
    respond(result, config, environ, where, mode, say, root, wait=30.0, quiet=True)


def _request(
    args: argparse.Namespace,
    path: str,
    plan: CiPlan,
    config: Config,
    environ: Mapping[str, str],
    policy_change: PolicyChange | None = None,
) -> ScanRequest:
    from scanner.pipeline.request import RequestKind, ScanRequest

    kinds: dict[str, RequestKind] = {"range": "range", "tree": "paths", "history": "history"}
    return ScanRequest(
        kind=kinds[plan.scope],
        paths=(path,),
        range_spec=plan.range_spec,
        options=file_options(args, config, environ),
        config=config,
        baseline=find_baseline(args, [path], config),
        context=run_context(args, path, environ),
        workers=args.workers,
        engine=engine(environ),
        policy_change=policy_change,
        validation=validation_options(args, config, kinds[plan.scope], environ),
    )


@contextmanager
def _workflow_commands_stopped(stop: bool) -> Iterator[None]:
    """GitHub must not take a line of the report for a workflow command (``::stop-commands::``, then the token)."""
    if not stop:
        yield
        return
    import secrets

    token = secrets.token_hex(16)
    print(f"::stop-commands::{token}", flush=True)
    try:
        yield
    finally:
        sys.stdout.flush()
        print(f"::{token}::", flush=True)


def _write_sarif(result: ScanResult, path: str) -> None:
    from scanner.report import REPORTERS, ReportOptions

    out = open_output(path)
    try:
        REPORTERS["sarif"](result, out, ReportOptions())
    finally:
        out.close()
