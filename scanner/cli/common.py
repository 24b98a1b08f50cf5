"""What several commands share: the config and file options they read, the output they open, sizes they parse,
the environment values every scan carries (the fingerprint key, the detection engine), who runs a command (the
unix account), and the audit records a scan's bypasses and exceptions call for."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, TextIO, TypeAlias

from scanner.errors import UsageError

if TYPE_CHECKING:
    import argparse

    from scanner.cli.parser import SuggestingParser
    from scanner.models import ScanResult
    from scanner.pipeline.request import SourceOptions
    from scanner.policy.config import Config

    Subparsers: TypeAlias = argparse._SubParsersAction[SuggestingParser]


def parse_size(text: str) -> int:
    """``--max-file-size``: bytes, or a number with k, m or g (an optional trailing b); 0 = no cap.

    A negative size, NaN, infinity or anything else is refused (argparse names the option: exit 2): ``-1`` used to
    pass and skip every file."""
    import argparse  # argparse calls this: already loaded

    units = {"k": 1024, "m": 1024**2, "g": 1024**3}
    clean = text.strip().lower().rstrip("b")
    scale = 1
    if clean and clean[-1] in units:
        clean, scale = clean[:-1], units[clean[-1]]
    try:
        number = float(clean) if scale > 1 else int(clean)
        size = int(number * scale)
    except (ValueError, OverflowError):
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (e.g. 10M, 512k, 0 for no cap)") from None
    if number < 0:
        raise argparse.ArgumentTypeError(f"a size cannot be negative: {text!r} (0 = no cap)")
    return size


def add_config_options(parser: argparse.ArgumentParser, where: str = "the root") -> None:
    """``--config FILE`` and ``--no-config``, as every command that scans takes them."""
    parser.add_argument("--config", "-c", metavar="FILE", help=f"config file (default: .leakstop.yaml at {where})")
    parser.add_argument("--no-config", action="store_true", help="ignore .leakstop.yaml")


def open_output(path: str | None) -> TextIO:
    if not path:
        return sys.stdout
    try:
        return open(path, "w", encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"{path}: cannot write report: {exc.strerror}") from None


def load_config(args: argparse.Namespace, paths: list[str]) -> Config:
    """``--no-config``, else ``--config FILE`` (which must exist), else the ``.leakstop.yaml`` found for ``paths``."""
    from scanner.policy.config import find_config, load_config

    config_path: Path | None
    if args.no_config:
        config_path = None
    elif args.config:
        config_path = Path(args.config)
        if not config_path.is_file():
            raise UsageError(f"{args.config}: config file not found")
    else:
        config_path = find_config(paths)
    return load_config(config_path)


def file_options(args: argparse.Namespace, config: Config, environ: Mapping[str, str]) -> SourceOptions:
    """How files are read: the flags a command has (``scan``'s), else the config, else the defaults; where git's
    user-wide ignore file is by default (from ``environ``)."""
    from scanner.gitdir import default_excludes_file
    from scanner.pipeline.request import SourceOptions
    from scanner.sources.base import DEFAULT_MAX_FILE_SIZE

    max_size = getattr(args, "max_file_size", None)
    max_size = max_size if max_size is not None else config.max_file_size
    return SourceOptions(
        max_file_size=DEFAULT_MAX_FILE_SIZE if max_size is None else max_size,
        scan_binary=getattr(args, "scan_binary", False) or bool(config.scan_binary),
        excludes=tuple(config.exclude) + tuple(getattr(args, "exclude", ())),
        respect_gitignore=not getattr(args, "no_gitignore", False) and config.respect_gitignore is not False,
        default_excludes_file=default_excludes_file(environ),
    )


def fingerprint_key(environ: Mapping[str, str]) -> bytes:
    """``LEAKSTOP_FINGERPRINT_KEY`` keys the finding and secret ids of reports; else the built-in key."""
    from scanner.fingerprint import DEFAULT_KEY

    value = environ.get("LEAKSTOP_FINGERPRINT_KEY")
    return value.encode("utf-8", "surrogateescape") if value else DEFAULT_KEY  # any bytes the environment held


def engine(environ: Mapping[str, str]) -> str:
    """``LEAKSTOP_ENGINE``: "auto" (Hyperscan where it loads), "hyperscan" or "python"."""
    return environ.get("LEAKSTOP_ENGINE", "auto")


# Who runs a scan and which repository, as the CI says; else the unix account and the scanned path.
ACTOR_VARIABLES = ("GITHUB_ACTOR", "GITLAB_USER_LOGIN")
REPOSITORY_VARIABLES = ("GITHUB_REPOSITORY", "CI_PROJECT_PATH")


def audit_decisions(result: ScanResult, config: Config, path: str, environ: Mapping[str, str]) -> None:
    """Bypasses and exceptions the scan applied or refused, to the policy's ``audit_log`` when it names one
    (``InputError`` when they cannot be written: a bypass that cannot be recorded must not pass unseen)."""
    log = config.audit_log_path
    if not log:
        return
    from scanner.respond.audit_log import append
    from scanner.respond.records import bypass_records, exception_records

    actor = next((environ[n] for n in ACTOR_VARIABLES if environ.get(n)), "") or os_user()
    repository = next((environ[n] for n in REPOSITORY_VARIABLES if environ.get(n)), "") or os.path.abspath(path)
    records = bypass_records(result, actor, repository)
    records += exception_records(result, config.policy.exceptions, actor, repository)
    for record in records:
        append(Path(log), record)


def os_user() -> str:
    """The unix account this process runs as: what the operating system says, not what the environment claims."""
    import pwd

    uid = os.getuid()
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:  # no passwd entry (a container's arbitrary uid)
        return f"uid {uid}"
