"""``--validate`` and the config's ``validate:`` → the request's ``ValidationOptions`` (or None: no validation).

Off by default. A scan from a git hook (``--staged``, ``--push``: what the pre-commit and pre-push hooks run, and any
scan the pre-commit framework runs, which sets ``PRE_COMMIT``) never validates unless the config says
``validate: {hooks: true}``; ``--validate`` on such a command line does.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING

from scanner.errors import UsageError
from scanner.policy.config import Config

if TYPE_CHECKING:
    import argparse

    from scanner.validate.options import ValidationOptions

HOOK_KINDS = ("staged", "push")


def add_validate_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("live validation (read-only calls to each provider; off by default)")
    group.add_argument(
        "--validate",
        action="store_true",
        default=None,
        help="ask each secret's provider whether it is live (one read-only identity call per distinct secret)",
    )
    group.add_argument(
        "--no-validate", dest="validate", action="store_false", help="no validation, whatever the config says"
    )
    group.add_argument(
        "--validate-cache", metavar="FILE", help="SQLite cache of answers by fingerprint (default: the config's)"
    )
    group.add_argument(
        "--validate-deadline", type=float, metavar="SECONDS", help="for all of the run's validation (default 60)"
    )


def validation_options(
    args: argparse.Namespace, config: Config, kind: str, environ: Mapping[str, str]
) -> ValidationOptions | None:
    settings = config.validate
    wanted = getattr(args, "validate", None)
    if wanted is None:
        # The pre-commit framework sets PRE_COMMIT in its hooks' environment: its files-mode hook scans paths.
        in_hook = kind in HOOK_KINDS or bool(environ.get("PRE_COMMIT"))
        wanted = settings.enabled and (not in_hook or settings.hooks)
    if not wanted:
        return None
    from scanner.httpsettings import HttpSettings
    from scanner.validate.options import VALIDATION_HTTP, ValidationOptions

    http = HttpSettings.from_environment(environ)
    http = dataclasses.replace(
        http, connect_timeout=VALIDATION_HTTP.connect_timeout, read_timeout=VALIDATION_HTTP.read_timeout
    )
    deadline = args.validate_deadline if getattr(args, "validate_deadline", None) is not None else settings.deadline
    if deadline <= 0:
        raise UsageError("--validate-deadline must be more than 0 seconds")
    cache = getattr(args, "validate_cache", None) or (
        os.path.join(config.root, settings.cache) if settings.cache and config.root else settings.cache
    )
    return ValidationOptions(
        http=http,
        deadline=deadline,
        workers=settings.workers,
        per_provider=settings.per_provider,
        rate=settings.rate,
        cache=cache,
        ttl=settings.ttl,
    )
