"""The options of a scan, shared by `scan`, `ci` and `respond`: what to read, how, and the git modes."""

from __future__ import annotations

import argparse

from scanner.cli.common import add_config_options, parse_size


def add_scan_options(scan: argparse.ArgumentParser) -> None:
    """PATH, the report, config, baseline, policy, file and validation options (``leakstop ci`` takes them too)."""
    from scanner.cli.validation import add_validate_options

    add_validate_options(scan)
    scan.add_argument("paths", nargs="*", metavar="PATH", help="files or directories (default: .), or - for stdin")
    from scanner.report import REPORTERS

    scan.add_argument(
        "--format",
        "-f",
        choices=list(REPORTERS),
        default="text",
        help="report format: text (default), json, sarif (SARIF 2.1.0), gitlab (GitLab secret-detection report, "
        "gl-secret-detection-report.json), codequality (GitLab Code Quality) or markdown (a CI job summary)",
    )
    scan.add_argument("--output", "-o", metavar="FILE", help="write the report here instead of stdout")
    add_config_options(scan, where="the repo root")
    scan.add_argument(
        "--baseline",
        metavar="FILE",
        help="default: the policy's, else .leakstop-baseline.json at the root",
    )
    scan.add_argument("--no-baseline", action="store_true", help="ignore any baseline: report every finding")
    scan.add_argument(
        "--branch",
        metavar="NAME",
        help="the branch policy overrides match (default: the CI's branch variables, else the checked-out branch)",
    )
    scan.add_argument("--show-secrets", action="store_true", help="print full secret values (off by default)")
    scan.add_argument(
        "--max-file-size", type=parse_size, metavar="SIZE", help="skip larger files (default 10M; 0 = no cap)"
    )
    scan.add_argument("--exclude", action="append", default=[], metavar="PATTERN", help="gitignore-style; repeatable")
    scan.add_argument(
        "--no-gitignore",
        action="store_true",
        help="also scan files git ignores (.gitignore, .git/info/exclude, core.excludesFile)",
    )
    scan.add_argument("--scan-binary", action="store_true", help="scan binary files too")
    scan.add_argument("--verbose", "-v", action="store_true", help="list every file not scanned")


def add_artifact_options(artifacts: argparse._ArgumentGroup) -> None:
    artifacts.add_argument(
        "--image",
        metavar="TARBALL|OCI-DIR|REF",
        help="a docker save tarball, an OCI image layout, or an image reference pulled from its registry",
    )
    artifacts.add_argument(
        "--platform", metavar="OS/ARCH[/VARIANT]", help="which image of a multi-platform REF (default linux/amd64)"
    )
    artifacts.add_argument(
        "--max-archive-depth",
        type=int,
        metavar="N",
        help="open archives (tar, tar.gz, zip, jar, war) in image layers N levels deep (default 2; 0 = off)",
    )
    artifacts.add_argument(
        "--insecure-registry",
        action="append",
        default=[],
        metavar="HOST[:PORT]",
        help="allow plain HTTP to this registry (loopback always may); repeatable",
    )
    artifacts.add_argument(
        "--tfstate",
        metavar="FILE|-|URL",
        help="a Terraform state file, `terraform show -json` output, or remote state: s3://BUCKET/KEY, "
        "s3://BUCKET/PREFIX/, http(s):// (HTTP backend, GitLab), tfe://HOST/ORG/WORKSPACE; credentials from the "
        "environment only",
    )
    artifacts.add_argument(
        "--plan",
        dest="tfstate",
        metavar="FILE|-",
        help="a Terraform plan: `terraform show -json PLAN` output, or a saved plan file holding its JSON "
        "(the same as --tfstate)",
    )
    artifacts.add_argument(
        "--all-versions", action="store_true", help="with --tfstate s3://…: every object version, not only the latest"
    )
    artifacts.add_argument(
        "--ci-logs",
        metavar="github:OWNER/REPO|gitlab:GROUP/PROJECT",
        help="CI job logs through the platform's API (GITHUB_TOKEN / GITLAB_TOKEN; GITHUB_API_URL / CI_API_V4_URL)",
    )
    artifacts.add_argument(
        "--ci-logs-runs", type=int, metavar="N", help="with --ci-logs: the newest N runs or pipelines (default 10)"
    )
    artifacts.add_argument(
        "--ci-logs-since", metavar="DATE", help="with --ci-logs: runs since DATE (YYYY-MM-DD; with it, N is 100)"
    )
    artifacts.add_argument(
        "--ca-bundle",
        metavar="FILE",
        help="trust the CAs in this PEM file for registries and state backends (default: the system's)",
    )


def add_git_options(git: argparse._ArgumentGroup) -> None:
    modes = git.add_mutually_exclusive_group()
    modes.add_argument("--staged", action="store_true", help="what the index adds against HEAD (pre-commit)")
    modes.add_argument("--range", metavar="A..B", help="commits in B not in A (CI); blobs already in A are skipped")
    modes.add_argument("--since", metavar="COMMIT", help="commits after COMMIT up to HEAD")
    modes.add_argument("--history", action="store_true", help="every commit reachable from any ref, and stashes")
    modes.add_argument(
        "--pre-push",
        action="store_true",
        help="what a push sends: PRE_COMMIT_FROM_REF..PRE_COMMIT_TO_REF, else git's pre-push lines on stdin, "
        "else HEAD minus every remote-tracking ref",
    )
    git.add_argument(
        "--workers", type=int, default=0, metavar="N", help="worker processes for history (default: cores)"
    )
