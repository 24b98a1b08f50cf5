"""Command line: ``main(argv) -> int``; one handler maps exceptions to the documented exit codes.

Exit codes: 0 pass · 1 blocked by policy · 2 usage, config or input error · 3 internal error · 130 interrupted.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

import scanner
from scanner.errors import (
    EXIT_BLOCKED,
    EXIT_ERROR,
    EXIT_INTERNAL,
    EXIT_INTERRUPTED,
    EXIT_PASS,
    LeakstopError,
    UsageError,
)


def _size(text: str) -> int:
    units = {"k": 1024, "m": 1024**2, "g": 1024**3}
    text = text.strip().lower().rstrip("b")
    try:
        if text and text[-1] in units:
            return int(float(text[:-1]) * units[text[-1]])
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (e.g. 10M, 512k, 0 for no cap)") from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="leakstop", description="Find secrets before they leak; gate them by policy.")
    parser.add_argument("--version", action="version", version=f"leakstop {scanner.__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    scan = sub.add_parser("scan", help="scan files, a directory or stdin ('-')")
    scan.add_argument("paths", nargs="*", metavar="PATH", help="files or directories (default: .), or - for stdin")
    scan.add_argument("--format", "-f", choices=["text", "json", "sarif"], default="text")
    scan.add_argument("--output", "-o", metavar="FILE", help="write the report here instead of stdout")
    scan.add_argument("--config", "-c", metavar="FILE", help="config file (default: .leakstop.yaml at the repo root)")
    scan.add_argument("--no-config", action="store_true", help="ignore .leakstop.yaml")
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
    scan.add_argument("--max-file-size", type=_size, metavar="SIZE", help="skip larger files (default 10M; 0 = no cap)")
    scan.add_argument("--exclude", action="append", default=[], metavar="PATTERN", help="gitignore-style; repeatable")
    scan.add_argument("--no-gitignore", action="store_true", help="also scan files that .gitignore ignores")
    scan.add_argument("--scan-binary", action="store_true", help="scan binary files too")
    scan.add_argument("--verbose", "-v", action="store_true", help="list every file not scanned")
    artifacts = scan.add_argument_group("artifacts (instead of PATH)")
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
        "--all-versions", action="store_true", help="with --tfstate s3://…: every object version, not only the latest"
    )
    git = scan.add_argument_group("git modes (PATH is the repository; default: the working tree's files)")
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
    scan.add_argument("--no-progress", action="store_true", help="no progress bar, even on a terminal")
    scan.add_argument("--color", choices=["auto", "always", "never"], default="auto")

    hook = sub.add_parser(
        "install-hook",
        help="install a plain git hook (for repositories without pre-commit)",
        usage="leakstop install-hook {pre-commit,pre-push} [--force] [PATH]",
        description="pre-commit runs `scan --staged`, pre-push runs `scan --pre-push`; PATH is the repository "
        "(default: .). The hook goes where git looks for hooks (core.hooksPath if set).",
    )
    hook.add_argument("hook", choices=["pre-commit", "pre-push"])
    hook.add_argument("--force", action="store_true", help="replace a hook that leakstop did not write")
    # PATH and a later --force, parsed in cmd_install_hook: argparse (< 3.12) cannot take `HOOK --force PATH`.
    hook.add_argument("rest", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)

    baseline = sub.add_parser(
        "baseline",
        help="accept the current findings: create, update or prune .leakstop-baseline.json",
        description="create: a new baseline of every blocking or warning finding in PATH (default: .), with a fresh "
        "salt; update: add the current findings to the existing baseline (created if missing); prune: drop the "
        "fingerprints no longer found. The file goes to the repository root unless --output says otherwise.",
    )
    actions = baseline.add_subparsers(dest="action", metavar="ACTION")
    for action, text in (
        ("create", "a new baseline of the current findings, with a fresh salt"),
        ("update", "add the current findings to the baseline (created if missing)"),
        ("prune", "drop the fingerprints no longer found"),
    ):
        each = actions.add_parser(action, help=text)
        each.add_argument("path", nargs="?", default=".", metavar="PATH", help="the tree to scan (default: .)")
        each.add_argument("--output", "-o", metavar="FILE", help="default: ROOT/.leakstop-baseline.json")
        each.add_argument("--config", "-c", metavar="FILE", help="config file (default: .leakstop.yaml at the root)")
        each.add_argument("--no-config", action="store_true", help="ignore .leakstop.yaml")
        if action == "create":
            each.add_argument("--force", action="store_true", help="replace an existing baseline (new salt)")
    audit = actions.add_parser(
        "audit",
        help="label the baselined findings true or false positives, one by one (on a terminal)",
        description="Scans PATH (default: .) to find the baselined findings, shows each redacted and asks: true "
        "positive, false positive, skip or quit. Labels are stored in the baseline per fingerprint and show in "
        "reports. Needs a terminal.",
    )
    audit.add_argument("path", nargs="?", default=".", metavar="PATH", help="the tree to scan (default: .)")
    audit.add_argument("--output", "-o", metavar="FILE", help="the baseline (default: ROOT/.leakstop-baseline.json)")
    audit.add_argument("--config", "-c", metavar="FILE", help="config file (default: .leakstop.yaml at the root)")
    audit.add_argument("--no-config", action="store_true", help="ignore .leakstop.yaml")
    audit.add_argument("--all", action="store_true", help="ask about labelled findings too (default: unlabelled)")

    importing = actions.add_parser(
        "import",
        help="convert a detect-secrets baseline, a gitleaks report or a .gitleaksignore into our baseline",
        description="Scans the files FILE names (paths relative to FILE's directory) and adds every finding FILE "
        "accepts to the baseline, as salted fingerprints (never a secret). Entries no leakstop finding matches "
        "are listed, not imported. A scan can also use FILE directly as its baseline (--baseline FILE).",
    )
    importing.add_argument("kind", choices=["detect-secrets", "gitleaks-report", "gitleaksignore"])
    importing.add_argument("file", metavar="FILE")
    importing.add_argument("--output", "-o", metavar="FILE", help="default: ROOT/.leakstop-baseline.json")
    importing.add_argument("--config", "-c", metavar="FILE", help="config file (default: .leakstop.yaml at the root)")
    importing.add_argument("--no-config", action="store_true", help="ignore .leakstop.yaml")

    config_cmd = sub.add_parser("config", help="convert another scanner's config into a .leakstop.yaml")
    config_sub = config_cmd.add_subparsers(dest="config_command", metavar="ACTION")
    gitleaks = config_sub.add_parser(
        "import-gitleaks",
        help="a gitleaks TOML config as a .leakstop.yaml",
        description="Maps [extend], [[rules]] and [[allowlists]] to ours and lists everything not converted (in "
        "the output's header and on stderr).",
    )
    gitleaks.add_argument("file", metavar="GITLEAKS_TOML")
    gitleaks.add_argument("--output", "-o", metavar="FILE", help="write here (default: stdout)")
    gitleaks.add_argument("--force", action="store_true", help="replace an existing output file")

    rules = sub.add_parser("rules", help="list or check rules")
    rules_sub = rules.add_subparsers(dest="rules_command", metavar="ACTION")
    rules_list = rules_sub.add_parser("list", help="list the rules")
    rules_list.add_argument("--format", "-f", choices=["text", "json"], default="text")
    rules_list.add_argument("--config", "-c", metavar="FILE", help="include the rules of this config")
    rules_check = rules_sub.add_parser("check", help="check rule files: schema, regex, examples and negatives")
    rules_check.add_argument("files", nargs="*", metavar="FILE", help="rule files (default: the built-in rules)")
    return parser


def _open_output(path: str | None) -> TextIO:
    if not path:
        return sys.stdout
    try:
        return open(path, "w", encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"{path}: cannot write report: {exc.strerror}") from None


def _load_config(args: argparse.Namespace, paths: list[str]) -> Any:
    from scanner.policy.config import find_config, load_config

    if args.no_config:
        config_path = None
    elif args.config:
        config_path = Path(args.config)
        if not config_path.is_file():
            raise UsageError(f"{args.config}: config file not found")
    else:
        config_path = find_config(paths)
    return load_config(config_path)


def _file_options(args: argparse.Namespace, config: Any) -> Any:
    from scanner.sources.base import DEFAULT_MAX_FILE_SIZE
    from scanner.sources.files import FileSourceOptions

    max_size = getattr(args, "max_file_size", None)
    max_size = max_size if max_size is not None else config.max_file_size
    return FileSourceOptions(
        max_file_size=DEFAULT_MAX_FILE_SIZE if max_size is None else max_size,
        scan_binary=getattr(args, "scan_binary", False) or bool(config.scan_binary),
        excludes=tuple(config.exclude) + tuple(getattr(args, "exclude", ())),
        respect_gitignore=not getattr(args, "no_gitignore", False) and config.respect_gitignore is not False,
    )


def _find_baseline(args: argparse.Namespace, paths: list[str], config: Any) -> Any:
    from scanner.policy import baseline
    from scanner.policy.migrate import load_any, load_own

    if args.no_baseline:
        return None
    named = args.baseline or config.baseline_path
    if named:
        if not os.path.isfile(named):
            raise UsageError(f"{named}: baseline file not found")
        return load_any(named)
    found = baseline.find_baseline(paths)
    return load_own(str(found)) if found is not None else None


def cmd_scan(args: argparse.Namespace) -> int:
    from scanner.pipeline import run
    from scanner.report import REPORTERS, ReportOptions
    from scanner.report.progress import progress_bar

    request = _scan_request(args)
    with progress_bar(request.is_git and not args.no_progress and sys.stderr.isatty()) as advance:
        result = run(dataclasses.replace(request, progress=advance))
    out = _open_output(args.output)
    try:
        color = args.color == "always" or (args.color == "auto" and out.isatty() and "NO_COLOR" not in os.environ)
        report_options = ReportOptions(show_secrets=args.show_secrets, color=color, verbose=args.verbose)
        REPORTERS[args.format](result, out, report_options)
    finally:
        if out is not sys.stdout:
            out.close()
    if args.output and args.format != "text":
        blocked = sum(1 for f in result.findings if f.verdict == "block")
        print(
            f"leakstop: {len(result.findings)} findings ({blocked} blocking) in {result.stats.items_scanned} items;"
            f" report written to {args.output}",
            file=sys.stderr,
        )
    return EXIT_BLOCKED if result.blocked else EXIT_PASS


def _scan_kind(args: argparse.Namespace) -> str:
    artifacts = [flag for flag in ("image", "tfstate") if getattr(args, flag)]
    git = [flag for flag in ("staged", "history", "range", "since", "pre_push") if getattr(args, flag)]
    if len(artifacts) > 1:
        raise UsageError("give one of --image and --tfstate")
    if artifacts != ["image"] and (args.platform or args.insecure_registry or args.max_archive_depth is not None):
        raise UsageError("--platform, --insecure-registry and --max-archive-depth go with --image")
    if artifacts:
        mode = artifacts[0]
        if args.paths:
            raise UsageError(f"--{mode} scans its own argument: give no PATH")
        if git:
            raise UsageError(f"--{mode} cannot be combined with a git mode")
        return mode
    if not git:
        return "paths"
    if len(args.paths) > 1 or args.paths == ["-"]:
        raise UsageError("git modes take one PATH: the repository")
    return {"since": "range", "pre_push": "push"}.get(git[0], git[0])


def _scan_request(args: argparse.Namespace) -> Any:
    """The scan the arguments and the environment ask for: the one place they are read."""
    from scanner.pipeline.request import RunContext, ScanRequest, SourceOptions
    from scanner.policy.context import current_branch, run_bypasses

    if args.all_versions and not args.tfstate:
        raise UsageError("--all-versions goes with --tfstate s3://…")
    kind = _scan_kind(args)
    paths = list(args.paths or ["."])
    config = _load_config(args, paths)
    files = _file_options(args, config)
    baseline = _find_baseline(args, paths, config)
    options = SourceOptions(
        max_file_size=files.max_file_size,
        scan_binary=files.scan_binary,
        excludes=files.excludes,
        respect_gitignore=files.respect_gitignore,
        max_archive_depth=2 if args.max_archive_depth is None else max(args.max_archive_depth, 0),
        platform=_platform(args.platform) if kind == "image" else "linux/amd64",
        insecure_registries=tuple(args.insecure_registry or ()),
        all_versions=args.all_versions,
    )
    path = next((p for p in paths if p != "-"), ".")
    context = RunContext(
        branch=current_branch(path, os.environ, args.branch or ""),
        bypasses=run_bypasses(os.environ),
        fingerprint_key=fingerprint_key(os.environ),
    )
    range_spec = args.range or args.since or ""
    push_lines: tuple[str, ...] = ()
    if kind == "push":
        from scanner.sources.git.repo import open_repository

        open_repository(paths[0])  # not a repository: say so before waiting on stdin
        range_spec = _pre_commit_range()
        if not range_spec and sys.stdin is not None and not sys.stdin.isatty():
            push_lines = tuple(sys.stdin.read().splitlines())
    return ScanRequest(
        kind=kind,  # type: ignore[arg-type]
        paths=tuple(paths),
        range_spec=range_spec,
        push_lines=push_lines,
        image=args.image or "",
        tfstate=args.tfstate or "",
        options=options,
        config=config,
        baseline=baseline,
        context=context,
        workers=args.workers,
        engine=os.environ.get("LEAKSTOP_ENGINE", "auto"),
    )


def _platform(text: str | None) -> str:
    from scanner.sources.registry import parse_platform

    return parse_platform(text or "linux/amd64")


def fingerprint_key(environ: Any) -> bytes:
    """``LEAKSTOP_FINGERPRINT_KEY`` keys the finding and secret ids of reports; else the built-in key."""
    from scanner.fingerprint import DEFAULT_KEY

    value = environ.get("LEAKSTOP_FINGERPRINT_KEY")
    return value.encode() if value else DEFAULT_KEY


def _pre_commit_range() -> str:
    """pre-commit's pre-push stage names the range in the environment (legacy names too)."""
    source = os.environ.get("PRE_COMMIT_FROM_REF") or os.environ.get("PRE_COMMIT_ORIGIN")
    target = os.environ.get("PRE_COMMIT_TO_REF") or os.environ.get("PRE_COMMIT_SOURCE")
    return f"{source}..{target}" if source and target else ""


def cmd_baseline(args: argparse.Namespace) -> int:
    from scanner.pipeline import run
    from scanner.policy import baseline
    from scanner.policy.migrate import load_own

    if args.action is None:
        raise UsageError("baseline: give an action: create, update, prune, audit or import")
    if args.action == "import":
        return cmd_baseline_import(args)
    if not os.path.isdir(args.path):
        raise UsageError(f"{args.path}: not a directory")
    paths = [args.path]
    config = _load_config(args, paths)
    target = args.output or str(baseline.repository_root(args.path) / baseline.BASELINE_NAME)
    exists = os.path.exists(target)
    if args.action == "audit":
        return _baseline_audit(args, config, target, exists)
    if args.action == "create" and exists and not args.force:
        raise UsageError(f"{target}: baseline exists (use `baseline update`, or `create --force` for a new salt)")
    if args.action == "prune" and not exists:
        raise UsageError(f"{target}: no baseline to prune")
    current = load_own(target) if exists and args.action != "create" else baseline.new_baseline(target)
    result = run(_paths_request(args, paths, config, None))
    base = os.getcwd()
    found = {
        current.fingerprint(f.rule.id, f.match.secret.reveal(), f.path, base)
        for f in result.findings
        if f.verdict != "allow"
    }
    if args.action == "prune":
        kept = current.fingerprints & found
    elif args.action == "update":
        kept = current.fingerprints | found
    else:
        kept = frozenset(found)
    updated = baseline.with_fingerprints(current, target, frozenset(kept))
    changed = baseline.write(updated)
    added = len(kept - current.fingerprints)
    removed = len(current.fingerprints - kept)
    state = "written" if changed else "unchanged"
    print(f"leakstop: baseline {state}: {target}: {len(kept)} fingerprints ({added} added, {removed} removed)")
    return EXIT_PASS


def _paths_request(args: argparse.Namespace, paths: list[str], config: Any, baseline: Any) -> Any:
    from scanner.pipeline.request import RunContext, ScanRequest, SourceOptions

    files = _file_options(args, config)
    options = SourceOptions(files.max_file_size, files.scan_binary, files.excludes, files.respect_gitignore)
    context = RunContext(fingerprint_key=fingerprint_key(os.environ))
    engine = os.environ.get("LEAKSTOP_ENGINE", "auto")
    return ScanRequest(
        "paths", tuple(paths), options=options, config=config, baseline=baseline, context=context, engine=engine
    )


def _baseline_audit(args: argparse.Namespace, config: Any, target: str, exists: bool) -> int:
    from scanner.pipeline import run
    from scanner.policy import baseline
    from scanner.policy.labelling import Item, run_audit

    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise UsageError("baseline audit: needs a terminal to ask on (stdin and stdout must be a TTY)")
    if not exists:
        raise UsageError(f"{target}: no baseline to audit")
    current = baseline.load(target)
    result = run(_paths_request(args, [args.path], config, current))
    base = os.getcwd()
    items: dict[str, Item] = {}
    for f in result.findings:
        if f.reason == "baseline":
            fingerprint = current.fingerprint(f.rule.id, f.match.secret.reveal(), f.path, base)
            items.setdefault(fingerprint, Item(fingerprint, f, current.labels.get(fingerprint, "")))
    todo = [item for item in items.values() if args.all or not item.label]
    print(f"leakstop: {len(items)} baselined findings in {args.path}, {len(todo)} to audit ({target})")
    labels: dict[str, str] = {}
    try:
        run_audit(todo, input, print, labels)
    finally:  # an interrupt keeps the answers given so far
        if labels:
            merged = {**current.labels, **labels}
            baseline.write(baseline.Baseline(current.path, current.salt, current.fingerprints, merged))
    counts = {label: sum(1 for v in labels.values() if v == label) for label in baseline.LABELS}
    print(
        f"leakstop: baseline audit: {len(labels)} labelled ({counts['true-positive']} true positive,"
        f" {counts['false-positive']} false positive), {len(todo) - len(labels)} not: {target}"
    )
    return EXIT_PASS


def cmd_baseline_import(args: argparse.Namespace) -> int:
    from scanner.models import ScanResult
    from scanner.pipeline import run
    from scanner.policy.migrate.importer import default_target, import_baseline, read_source

    if not os.path.isfile(args.file):
        raise UsageError(f"{args.file}: file not found")
    root = os.path.dirname(os.path.abspath(args.file))
    config = _load_config(args, [root])
    target = args.output or default_target(args.file)
    source = read_source(args.kind, args.file)
    result = ScanResult(target="files")
    if source.paths:
        request = _paths_request(args, source.paths, config, source.foreign)
        result = run(dataclasses.replace(request, path_base=source.root))
    done = import_baseline(source, result, target)
    state = "written" if done.written else "unchanged"
    print(
        f"leakstop: baseline {state}: {target}: {done.fingerprints} fingerprints ({done.added} added); "
        f"imported {done.imported} of {done.entries} {done.kind} entries"
    )
    if done.unmatched:
        print(f"leakstop: {len(done.unmatched)} entries not imported:")
        for entry, why in done.unmatched:
            print(f"  {entry.file}:{entry.line}  {entry.kind or '-'}  ({why})")
    return EXIT_PASS


def cmd_config(args: argparse.Namespace) -> int:
    from scanner.policy.migrate.gitleaks_config import convert, to_yaml
    from scanner.ruleset.load import load_ruleset

    if args.config_command != "import-gitleaks":
        raise UsageError("config: give an action: import-gitleaks")
    try:
        text = Path(args.file).read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"{args.file}: cannot read: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise UsageError(f"{args.file}: not UTF-8 text") from None
    if args.output and os.path.exists(args.output) and not args.force:
        raise UsageError(f"{args.output}: exists (use --force to replace it)")
    conversion = convert(text, args.file, {rule.id for rule in load_ruleset().rules})
    output = to_yaml(conversion, os.path.basename(args.file))
    if args.output:
        try:
            Path(args.output).write_text(output, encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"{args.output}: cannot write: {exc.strerror}") from None
    else:
        sys.stdout.write(output)
    rules = len(conversion.doc.get("rules", []))
    where = f" to {args.output}" if args.output else ""
    print(
        f"leakstop: converted {args.file}{where}: {rules} rules, {len(conversion.doc.get('allowlist', []))} "
        f"allowlists; {len(conversion.not_converted)} items not converted",
        file=sys.stderr,
    )
    for item in conversion.not_converted:
        print(f"  {item}", file=sys.stderr)
    return EXIT_PASS


def cmd_rules(args: argparse.Namespace) -> int:
    from scanner.pipeline.setup import build_ruleset
    from scanner.policy.config import load_config
    from scanner.ruleset.load import load_ruleset

    if args.rules_command == "list":
        config = load_config(Path(args.config)) if args.config else load_config(None)
        ruleset = build_ruleset(config)
        if args.format == "json":
            import json

            rows = [
                {
                    "id": r.id,
                    "name": r.spec.name,
                    "severity": r.spec.severity,
                    "confidence": r.spec.confidence,
                    "provider": r.spec.provider,
                    "keywords": list(r.spec.keywords),
                    "source": os.path.basename(r.spec.source),
                }
                for r in ruleset.rules
            ]
            print(json.dumps(rows, indent=2))
        else:
            width = max((len(r.id) for r in ruleset.rules), default=10)
            for r in ruleset.rules:
                print(f"{r.id:<{width}}  {r.spec.severity:<8}  {r.spec.confidence:<6}  {r.spec.name}")
            print(f"{len(ruleset.rules)} rules")
        return EXIT_PASS
    if args.rules_command == "check":
        from scanner.detect.engine import Detector
        from scanner.rulecheck import check_rule

        files = [Path(f) for f in args.files] if args.files else None
        for f in files or []:
            if not f.is_file():
                raise UsageError(f"{f}: rule file not found")
        ruleset = load_ruleset(files)
        detector = Detector(ruleset, engine=os.environ.get("LEAKSTOP_ENGINE", "auto"))
        failures = [failure for rule in ruleset.rules for failure in check_rule(detector, rule)]
        for failure in failures:
            print(failure.message())
        examples = sum(len(r.spec.examples) + len(r.spec.negative_examples) for r in ruleset.rules)
        print(f"{len(ruleset.rules)} rules, {examples} examples checked, {len(failures)} failures ({detector.engine})")
        return EXIT_ERROR if failures else EXIT_PASS
    raise UsageError("rules: give an action: list or check")


def cmd_install_hook(args: argparse.Namespace) -> int:
    from scanner.integrations.githooks import install_hook

    force, paths, options_done = args.force, [], False
    for arg in args.rest:
        if arg == "--" and not options_done:
            options_done = True
        elif arg == "--force" and not options_done:
            force = True
        elif arg.startswith("-") and not options_done:
            raise UsageError(f"install-hook: unknown option {arg!r} (usage: install-hook HOOK [--force] [PATH])")
        else:
            paths.append(arg)
    if len(paths) > 1:
        raise UsageError(f"install-hook: one PATH, the repository (got {len(paths)})")
    target = install_hook(args.hook, paths[0] if paths else ".", force=force)
    print(f"leakstop: installed the {args.hook} hook: {target}")
    return EXIT_PASS


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "scan":
            return cmd_scan(args)
        if args.command == "rules":
            return cmd_rules(args)
        if args.command == "baseline":
            return cmd_baseline(args)
        if args.command == "install-hook":
            return cmd_install_hook(args)
        if args.command == "config":
            return cmd_config(args)
        parser.print_help(sys.stderr)
        return EXIT_ERROR
    except LeakstopError as exc:
        print(f"leakstop: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("leakstop: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader went away (e.g. `| head`); not our error. Silence the flush at exit.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_PASS
    except Exception as exc:
        import traceback

        frame = traceback.extract_tb(exc.__traceback__)[-1]
        where = f"{os.path.basename(frame.filename)}:{frame.lineno}"
        print(f"leakstop: internal error: {type(exc).__name__} at {where} (please report it)", file=sys.stderr)
        if os.environ.get("LEAKSTOP_DEBUG"):
            traceback.print_exc()
        return EXIT_INTERNAL
