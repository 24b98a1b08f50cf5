"""Reporters by name. A reporter writes a ``ScanResult`` to a text stream; only ``text`` talks to a terminal."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import TextIO

from scanner.models import ScanResult
from scanner.report.common import ReportOptions

__all__ = ["REPORTERS", "ReportOptions", "Reporter"]

Reporter = Callable[[ScanResult, TextIO, ReportOptions], None]

# Format → the module under scanner.report and its writer. Adding a format: a module and a line here.
WRITERS: dict[str, tuple[str, str]] = {
    "text": ("text", "write_text"),
    "json": ("json_report", "write_json"),
    "sarif": ("sarif", "write_sarif"),
    "gitlab": ("gitlab", "write_gitlab"),
    "codequality": ("codequality", "write_codequality"),
    "markdown": ("markdown", "write_markdown"),  # the CI job summary
}


def _lazy(module: str, writer: str) -> Reporter:
    """Reporters import on first use: the commit hook's path pays only for the one it writes."""

    def write(result: ScanResult, out: TextIO, options: ReportOptions) -> None:
        function: Reporter = getattr(importlib.import_module(f"scanner.report.{module}"), writer)
        function(result, out, options)

    return write


REPORTERS: dict[str, Reporter] = {name: _lazy(*where) for name, where in WRITERS.items()}
