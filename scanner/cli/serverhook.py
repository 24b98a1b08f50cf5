"""``leakstop hook pre-receive``: server push protection (``scanner.integrations.prereceive``).

The flags, the server's config and the hook's environment become the hook's settings here; the integration reads
git's ref lines and decides. The config is the server's: ``--config FILE``, else ``leakstop.yaml`` in the
repository's git dir; never a ``.leakstop.yaml`` the push itself carries.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from scanner.cli.common import engine, fingerprint_key
from scanner.errors import ConfigError, UsageError

if TYPE_CHECKING:
    from scanner.cli.common import Subparsers
    from scanner.integrations.prereceive.environment import HookEnvironment
    from scanner.integrations.prereceive.hook import HookSettings
    from scanner.policy.config import Config
    from scanner.policy.pushprotection import PushProtection

SERVER_CONFIG = "leakstop.yaml"  # in the git dir
AUDIT_LOG = "leakstop/audit.jsonl"
CACHE = "leakstop/clean-blobs.sqlite"
BREAKGLASS_STORE = "leakstop/breakglass.sqlite"


def _duration(text: str) -> float:
    from scanner.policy.pushprotection import parse_duration

    try:
        return parse_duration(text if text[-1:].isalpha() else float(text), "--budget")
    except (ValueError, ConfigError) as exc:
        raise argparse.ArgumentTypeError(f"not a duration: {text!r} (e.g. 4, 4s, 500ms): {exc}") from None


def add_parser(subparsers: Subparsers) -> None:
    hook = subparsers.add_parser(
        "hook",
        help="run as a git server hook (pre-receive: push protection)",
        description="Server hooks; hooks/pre-receive in leakstop's source runs `leakstop hook pre-receive`.",
    )
    kinds = hook.add_subparsers(dest="hook_kind", metavar="HOOK", required=True)
    pre = kinds.add_parser(
        "pre-receive",
        help="reject a push that adds a secret (reads git's '<old> <new> <ref>' lines on stdin)",
        description="Scans what a push adds (its new commits, read from git's quarantine) and rejects it when a "
        "secret blocks, within a time budget. Exit 0 accept, 1 reject (a secret, or the budget ran out), 2 the "
        "push or the config could not be read, 3 internal error.",
    )
    pre.add_argument(
        "--config",
        "-c",
        metavar="FILE",
        help=f"the server's config (default: {SERVER_CONFIG} in the git dir)",
    )
    pre.add_argument("--no-config", action="store_true", help="built-in rules and policy only")
    pre.add_argument("--budget", type=_duration, metavar="TIME", help="decide within this: 4, 4s, 500ms (default 4s)")
    undecided = pre.add_mutually_exclusive_group()
    undecided.add_argument(
        "--fail-open",
        dest="fail",
        action="store_const",
        const="fail-open",
        help="accept (and audit) a push the budget ran out on, or that could not be read",
    )
    undecided.add_argument("--fail-closed", dest="fail", action="store_const", const="fail-closed",
                           help="reject such a push (the default)")  # fmt: skip
    pre.add_argument("--audit-log", metavar="FILE", help=f"the audit log (default: {AUDIT_LOG} in the git dir)")
    cache = pre.add_mutually_exclusive_group()
    cache.add_argument("--cache", metavar="FILE", help=f"blob ids scanned clean (default: {CACHE} in the git dir)")
    cache.add_argument("--no-cache", action="store_true", help="scan every pushed blob, even if seen clean before")
    pre.add_argument("--workers", type=int, default=1, metavar="N", help="worker processes (default 1; 0 = cores)")


def run(args: argparse.Namespace) -> int:
    from scanner.integrations.prereceive.environment import hook_environment
    from scanner.integrations.prereceive.hook import PreReceive

    started = time.monotonic()
    if hasattr(sys.stderr, "reconfigure"):
        sys.stderr.reconfigure(errors="backslashreplace")
    environ = os.environ
    env = hook_environment(environ)
    config = server_config(args, env.git_dir)
    settings = hook_settings(args, config, env, environ)
    return PreReceive(env, config, settings, environ, sys.stderr, started).decide(_ref_lines())


def _ref_lines() -> list[str]:
    stdin = sys.stdin
    if stdin is None:
        return []
    if stdin.isatty():
        raise UsageError("hook pre-receive reads git's '<old> <new> <ref>' lines on stdin: git runs it in a push")
    return stdin.buffer.read().decode("utf-8", "surrogateescape").splitlines()


def server_config(args: argparse.Namespace, git_dir: str) -> Config:
    from scanner.policy.config import load_config

    if args.no_config:
        return load_config(None)
    if args.config:
        if not os.path.isfile(args.config):
            raise UsageError(f"{args.config}: config file not found")
        return load_config(Path(args.config))
    found = Path(git_dir) / SERVER_CONFIG
    return load_config(found if found.is_file() else None)


def hook_settings(
    args: argparse.Namespace, config: Config, env: HookEnvironment, environ: Mapping[str, str]
) -> HookSettings:
    """Flags over the config's ``push_protection`` over the defaults; config paths are relative to the git dir."""
    from scanner.integrations.prereceive.glass import GlassSettings
    from scanner.integrations.prereceive.hook import DEFAULT_BUDGET, HookSettings
    from scanner.policy.pushprotection import PushProtection

    push = config.push_protection or PushProtection()
    git_dir = Path(env.git_dir)
    cache: Path | None = git_dir / CACHE
    if args.no_cache or push.cache is False:
        cache = None
    elif args.cache:
        cache = Path(args.cache)
    elif isinstance(push.cache, str):
        cache = git_dir / push.cache
    audit_log = Path(args.audit_log) if args.audit_log else audit_log_path(push, git_dir)
    glass = push.breakglass
    return HookSettings(
        audit_log=audit_log,
        cache=cache,
        budget=args.budget or push.budget or DEFAULT_BUDGET,
        fail_open=(args.fail or push.when_undecided) == "fail-open",
        workers=args.workers,
        engine=engine(environ),
        fingerprint_key=fingerprint_key(environ),
        glass=GlassSettings(glass, breakglass_store(push, git_dir), audit_log) if glass.enabled else None,
    )


def audit_log_path(push: PushProtection, git_dir: Path) -> Path:
    """The server's audit log: ``push_protection.audit_log`` (relative to the git dir), else the default."""
    return git_dir / (push.audit_log or AUDIT_LOG)


def breakglass_store(push: PushProtection, git_dir: Path) -> Path:
    return git_dir / (push.breakglass.store or BREAKGLASS_STORE)
