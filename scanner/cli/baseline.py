"""``leakstop baseline create|update|prune|audit|import``: accept the current findings, label them, or import
another tool's baseline.

Every action that scans builds a ``paths`` request here, as ``scan`` does, and runs it through
``scanner.pipeline.run``. As before, these scans use no branch and no bypass request: a baseline accepts what the
default policy blocks or warns about. Its fingerprints are keyed with the baseline's own salt; the fingerprint key
(``LEAKSTOP_FINGERPRINT_KEY``) only keys the scan's finding ids.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from typing import TYPE_CHECKING

from scanner.cli.common import add_config_options, engine, file_options, fingerprint_key, load_config
from scanner.errors import EXIT_PASS, UsageError

if TYPE_CHECKING:
    from scanner.cli.common import Subparsers
    from scanner.models import ScanResult
    from scanner.pipeline.request import ScanRequest
    from scanner.policy.baseline import Matcher
    from scanner.policy.config import Config
    from scanner.policy.migrate.importer import ImportSource

ACTIONS = {
    "create": "a new baseline of the current findings, with a fresh salt",
    "update": "add the current findings to the baseline (created if missing)",
    "prune": "drop the fingerprints no longer found",
}


def add_parser(subparsers: Subparsers) -> None:
    baseline = subparsers.add_parser(
        "baseline",
        help="accept the current findings: create, update or prune .leakstop-baseline.json",
        description="create: a new baseline of every blocking or warning finding in PATH (default: .), with a fresh "
        "salt; update: add the current findings to the existing baseline (created if missing); prune: drop the "
        "fingerprints no longer found. The file goes to the repository root unless --output says otherwise.",
    )
    actions = baseline.add_subparsers(dest="action", metavar="ACTION")
    for action, text in ACTIONS.items():
        each = actions.add_parser(action, help=text)
        each.add_argument("path", nargs="?", default=".", metavar="PATH", help="the tree to scan (default: .)")
        each.add_argument("--output", "-o", metavar="FILE", help="default: ROOT/.leakstop-baseline.json")
        add_config_options(each)
        if action == "create":
            each.add_argument("--force", action="store_true", help="replace an existing baseline (new salt)")
    _add_audit(actions)
    _add_import(actions)


def _add_audit(actions: Subparsers) -> None:
    audit = actions.add_parser(
        "audit",
        help="label the baselined findings true or false positives, one by one (on a terminal)",
        description="Scans PATH (default: .) to find the baselined findings, shows each redacted and asks: true "
        "positive, false positive, skip or quit. Labels are stored in the baseline per fingerprint and show in "
        "reports. Needs a terminal.",
    )
    audit.add_argument("path", nargs="?", default=".", metavar="PATH", help="the tree to scan (default: .)")
    audit.add_argument("--output", "-o", metavar="FILE", help="the baseline (default: ROOT/.leakstop-baseline.json)")
    add_config_options(audit)
    audit.add_argument("--all", action="store_true", help="ask about labelled findings too (default: unlabelled)")


def _add_import(actions: Subparsers) -> None:
    importing = actions.add_parser(
        "import",
        help="convert a detect-secrets baseline, a gitleaks report or a .gitleaksignore into our baseline",
        description="Scans the files FILE names (paths relative to FILE's directory) and adds every finding FILE "
        "accepts to the baseline, as salted fingerprints (never a secret). Entries no leakstop finding matches "
        "are listed, not imported. A scan can also use FILE directly as its baseline (--baseline FILE).",
    )
    importing.add_argument(
        "kind",
        choices=["detect-secrets", "gitleaks-report", "gitleaksignore"],
        help="what FILE is: a detect-secrets .secrets.baseline, a gitleaks JSON report or a .gitleaksignore",
    )
    importing.add_argument("file", metavar="FILE", help="the file to import")
    importing.add_argument("--output", "-o", metavar="FILE", help="default: ROOT/.leakstop-baseline.json")
    add_config_options(importing)


def run(args: argparse.Namespace) -> int:
    from scanner.policy import baseline
    from scanner.policy.config import BASELINE_NAME

    if args.action is None:
        raise UsageError("baseline: give an action: create, update, prune, audit or import")
    if args.action == "import":
        return _import(args)
    if not os.path.isdir(args.path):
        raise UsageError(f"{args.path}: not a directory")
    config = load_config(args, [args.path])
    target = args.output or str(baseline.repository_root(args.path) / BASELINE_NAME)
    if args.action == "audit":
        return _audit(args, config, target)
    return _accept(args, config, target)


def paths_request(args: argparse.Namespace, paths: list[str], config: Config, baseline: Matcher | None) -> ScanRequest:
    """A scan of ``paths`` as the baseline actions make it: no branch, no bypass; the environment's key and engine."""
    from scanner.pipeline.request import RunContext, ScanRequest

    return ScanRequest(
        "paths",
        tuple(paths),
        options=file_options(args, config, os.environ),
        config=config,
        baseline=baseline,
        context=RunContext(fingerprint_key=fingerprint_key(os.environ)),
        engine=engine(os.environ),
    )


def _accept(args: argparse.Namespace, config: Config, target: str) -> int:
    """create, update or prune: the baseline's fingerprints against the current findings."""
    from scanner.pipeline import run
    from scanner.policy import baseline
    from scanner.policy.migrate import load_own

    exists = os.path.exists(target)
    if args.action == "create" and exists and not args.force:
        raise UsageError(f"{target}: baseline exists (use `baseline update`, or `create --force` for a new salt)")
    if args.action == "prune" and not exists:
        raise UsageError(f"{target}: no baseline to prune")
    if exists and args.action != "create":
        load_own(target)  # a file we cannot update says so before the scan
    result = run(paths_request(args, [args.path], config, None))
    with baseline.updating(target):  # read again under the lock: what another writer added meanwhile stays
        exists = os.path.exists(target)
        current = load_own(target) if exists and args.action != "create" else baseline.new_baseline(target)
        found = {
            current.fingerprint(f.rule.id, f.match.secret.reveal(), f.path, os.getcwd())
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


def _audit(args: argparse.Namespace, config: Config, target: str) -> int:
    from scanner.pipeline import run
    from scanner.policy import baseline
    from scanner.policy.labelling import Item, run_audit

    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise UsageError("baseline audit: needs a terminal to ask on (stdin and stdout must be a TTY)")
    if not os.path.exists(target):
        raise UsageError(f"{target}: no baseline to audit")
    current = baseline.load(target)
    result = run(paths_request(args, [args.path], config, current))
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
            with baseline.updating(target):  # the file as it is now: another writer's entries stay
                now = baseline.load(target)
                keep = {f: label for f, label in labels.items() if f in now.fingerprints}
                if now.salt == current.salt:
                    merged = {**now.labels, **keep}
                    baseline.write(baseline.Baseline(now.path, now.salt, now.fingerprints, merged))
    counts = {label: sum(1 for v in labels.values() if v == label) for label in baseline.LABELS}
    print(
        f"leakstop: baseline audit: {len(labels)} labelled ({counts['true-positive']} true positive,"
        f" {counts['false-positive']} false positive), {len(todo) - len(labels)} not: {target}"
    )
    return EXIT_PASS


def _import(args: argparse.Namespace) -> int:
    """Another tool's file: the CLI scans the files it names against it, the importer keys what matched."""
    from scanner.policy.migrate.importer import default_target, import_baseline, read_source

    if not os.path.isfile(args.file):
        raise UsageError(f"{args.file}: file not found")
    root = os.path.dirname(os.path.abspath(args.file))
    config = load_config(args, [root])
    target = args.output or default_target(args.file)
    source = read_source(args.kind, args.file)
    done = import_baseline(source, _scan_for_import(args, config, source), target)
    state = "written" if done.written else "unchanged"
    print(
        f"leakstop: baseline {state}: {target}: {done.fingerprints} fingerprints ({done.added} added); "
        f"imported {done.imported} of {done.entries} {done.kind} entries"
    )
    if done.unmatched:
        print(f"leakstop: {len(done.unmatched)} entries not imported:")
        for entry, why in done.unmatched:
            print(f"  {entry.file}:{entry.line}  {entry.kind or '-'}  ({why})")
        print(
            "leakstop: hint: review them; to accept whatever leakstop finds today instead, run "
            "`leakstop baseline update`"
        )
    return EXIT_PASS


def _scan_for_import(args: argparse.Namespace, config: Config, source: ImportSource) -> ScanResult:
    """The files ``source`` names, scanned against it, paths relative to its directory (none: an empty result)."""
    from scanner.models import ScanResult
    from scanner.pipeline import run

    if not source.paths:
        return ScanResult(target="files")
    request = paths_request(args, source.paths, config, source.foreign)
    return run(dataclasses.replace(request, path_base=source.root))
