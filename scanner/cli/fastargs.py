"""The commit hook's argument forms without argparse: ``scan --staged [opts]``, ``scan FILE…`` and pre-commit's
``scan --no-progress -- FILE…``; also a plain ``scan --history [PATH] [opts]`` (its parser and parse were about 5 ms
of a history scan's serial start).

Building the argparse parser costs more than the scan of a small commit once its imports are counted (argparse,
gettext's locale lookups, every option group's module). This parser reads only the plain shapes a hook or a
person gives those forms and answers ``None`` for anything else (an abbreviation, a clustered short option, a
second ``--`` or paths on both sides of one, paths in two places, an option it does not know, a value it would
have to check…); ``main`` then runs the full parser, so every message and exit code stays argparse's.
tests/test_fastargs.py holds both parsers to the same namespace for a table of argument vectors and for generated
ones.
"""

from __future__ import annotations

from collections.abc import Sequence
from types import SimpleNamespace

# ``leakstop scan``'s namespace with no arguments: the dest and default of every option of the full parser.
DEFAULTS: dict[str, object] = {
    "command": "scan",
    "validate": None,
    "validate_cache": None,
    "validate_deadline": None,
    "paths": [],
    "format": "text",
    "output": None,
    "config": None,
    "no_config": False,
    "baseline": None,
    "no_baseline": False,
    "branch": None,
    "show_secrets": False,
    "max_file_size": None,
    "exclude": [],
    "no_gitignore": False,
    "scan_binary": False,
    "verbose": False,
    "image": None,
    "platform": None,
    "max_archive_depth": None,
    "insecure_registry": [],
    "tfstate": None,
    "all_versions": False,
    "ci_logs": None,
    "ci_logs_runs": None,
    "ci_logs_since": None,
    "ca_bundle": None,
    "staged": False,
    "range": None,
    "since": None,
    "history": False,
    "pre_push": False,
    "workers": 0,
    "no_progress": False,
    "color": "auto",
    "respond": False,
    "execute": False,
    "outbox": None,
    "respond_audit_log": None,
    "wait": 30.0,
}

# Flags (store_true) the fast path takes: option → dest.
FLAGS: dict[str, str] = {
    "--staged": "staged",
    "--history": "history",
    "--no-progress": "no_progress",
    "--no-baseline": "no_baseline",
    "--no-config": "no_config",
    "--no-gitignore": "no_gitignore",
    "--scan-binary": "scan_binary",
    "--show-secrets": "show_secrets",
    "--verbose": "verbose",
    "-v": "verbose",
}

# Options with a free-form string value: option → dest. ``--exclude`` appends.
VALUES: dict[str, str] = {
    "--output": "output",
    "-o": "output",
    "--config": "config",
    "-c": "config",
    "--baseline": "baseline",
    "--branch": "branch",
    "--exclude": "exclude",
}

# Options whose value must be one of a few: option → (dest, choices). An unknown value goes to argparse, which
# names the closest choice. FORMATS is ``scanner.report.REPORTERS``'s keys (a test holds them equal).
FORMATS = ("text", "json", "sarif", "gitlab", "codequality", "markdown")
CHOICES: dict[str, tuple[str, tuple[str, ...]]] = {
    "--format": ("format", FORMATS),
    "-f": ("format", FORMATS),
    "--color": ("color", ("auto", "always", "never")),
}


def parse_hook_form(argv: Sequence[str]) -> SimpleNamespace | None:
    """The namespace the full parser would give ``argv``, or None when this parser cannot be sure of it."""
    if len(argv) < 2 or argv[0] != "scan":
        return None
    values = {name: list(v) if isinstance(v, list) else v for name, v in DEFAULTS.items()}
    paths: list[str] = []
    last_path = -1
    i = 1
    while i < len(argv):
        word = argv[i]
        if not word.startswith("-"):
            if paths and last_path != i - 1:
                return None  # paths in two places: argparse refuses the second block
            paths.append(word)
            last_path = i
            i += 1
            continue
        if word == "--":  # pre-commit's files hook: ``scan --no-progress -- FILE…``; the rest are paths
            rest = argv[i + 1 :]
            if paths or not rest or any(w.startswith("-") for w in rest):
                return None  # what argparse makes of those differs between Python versions: let it say
            paths.extend(rest)
            break
        name, equals, inline = word.partition("=")
        if name in FLAGS and not equals:
            values[FLAGS[name]] = True
            i += 1
            continue
        value = _value(argv, i, name, equals, inline)
        if value is None:
            return None
        i += 1 if equals else 2
        if name in CHOICES:
            values[CHOICES[name][0]] = value
        elif name == "--exclude":
            values["exclude"] = [*values["exclude"], value]  # type: ignore[misc]
        else:
            values[VALUES[name]] = value
    if values["staged"] and values["history"]:
        return None  # one mode only: argparse's message
    values["paths"] = paths
    return SimpleNamespace(**values)


def _value(argv: Sequence[str], i: int, name: str, equals: str, inline: str) -> str | None:
    """The value of the option at ``argv[i]`` (``--name=VALUE`` or ``--name VALUE``), or None when argparse would
    read it otherwise, refuse it, or check it further."""
    if name not in VALUES and name not in CHOICES:
        return None
    if equals:
        value = inline
    elif i + 1 < len(argv):
        value = argv[i + 1]
    else:
        return None  # a missing value: argparse's message
    if not value or value.startswith("-"):
        return None
    if name in CHOICES and value not in CHOICES[name][1]:
        return None
    return value
