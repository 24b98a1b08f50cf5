"""Reporters by name. A reporter writes a ``ScanResult`` to a text stream; only ``text`` talks to a terminal."""

from __future__ import annotations

from collections.abc import Callable
from typing import TextIO

from scanner.models import ScanResult
from scanner.report.common import ReportOptions

__all__ = ["REPORTERS", "ReportOptions", "Reporter"]

Reporter = Callable[[ScanResult, TextIO, ReportOptions], None]


def _text(result: ScanResult, out: TextIO, options: ReportOptions) -> None:
    from scanner.report.text import write_text

    write_text(result, out, options)


def _json(result: ScanResult, out: TextIO, options: ReportOptions) -> None:
    from scanner.report.json_report import write_json

    write_json(result, out, options)


def _sarif(result: ScanResult, out: TextIO, options: ReportOptions) -> None:
    from scanner.report.sarif import write_sarif

    write_sarif(result, out, options)


def _markdown(result: ScanResult, out: TextIO, options: ReportOptions) -> None:
    from scanner.report.markdown import write_markdown

    write_markdown(result, out, options)


def _gitlab(result: ScanResult, out: TextIO, options: ReportOptions) -> None:
    from scanner.report.gitlab import write_gitlab

    write_gitlab(result, out, options)


def _codequality(result: ScanResult, out: TextIO, options: ReportOptions) -> None:
    from scanner.report.codequality import write_codequality

    write_codequality(result, out, options)


# Reporters import lazily: the hook path pays only for the one it uses.
REPORTERS: dict[str, Reporter] = {
    "text": _text,
    "json": _json,
    "sarif": _sarif,
    "gitlab": _gitlab,
    "codequality": _codequality,
    "markdown": _markdown,
}
