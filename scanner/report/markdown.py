"""A Markdown summary of a result: a CI job's summary page (``$GITHUB_STEP_SUMMARY``) or a review comment.

Always redacted, whatever ``--show-secrets`` says: a job summary is shown to everyone who can read the run. Text
that comes from the scanned content or the repository (paths, rule names, snippets, messages) is escaped, so it
cannot add Markdown, HTML or mentions. Every finding is listed (allowed ones folded away); with ``max_bytes`` the
rows stop where the limit would be crossed, and a line says how many were left out.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from typing import TextIO

import scanner
from scanner import completeness
from scanner.location import location_uri
from scanner.models import Finding, GitOrigin, ScanResult
from scanner.report.common import ReportOptions, describe_bypass, justification, ordered_bypasses
from scanner.safetext import printable_lines

NOTE_ROOM = 300  # bytes kept for the line saying rows were left out
VERDICT = {"block": "🛑 block", "warn": "⚠️ warn", "allow": "allow"}
_PUNCTUATION = re.compile(r"([!-/:-@\[-`{-~])")

# A section: its opening lines, one line per row, its closing lines.
Section = tuple[list[str], list[str], list[str]]


def escape(text: str) -> str:
    """Literal text in Markdown: every ASCII punctuation character backslash-escaped (CommonMark allows it for
    all of them), line breaks as spaces."""
    return _PUNCTUATION.sub(r"\\\1", " ".join(text.split()))


def write_markdown(result: ScanResult, out: TextIO, options: ReportOptions) -> None:
    out.write(render_markdown(result))


def render_markdown(result: ScanResult, intro: Sequence[str] = (), max_bytes: int | None = None) -> str:
    """``intro``: lines said before the findings (what a CI run scanned)."""
    lines = _head(result, intro)
    footer = _footer(result)
    room = None if max_bytes is None else max_bytes - _size(lines) - _size(footer) - NOTE_ROOM
    omitted = 0
    for opening, rows, closing in _sections(result):
        take = len(rows) if room is None else _fitting(opening, rows, closing, room)
        if take:
            chunk = [*opening, *rows[:take], *closing]
            lines += chunk
            room = None if room is None else room - _size(chunk)
        omitted += len(rows) - take
    if omitted:
        lines += [
            f"**{omitted} more rows not shown:** a job summary holds at most {max_bytes} bytes; the SARIF or JSON"
            " report lists everything.",
            "",
        ]
    return printable_lines("\n".join([*lines, *footer])) + "\n"  # no file name or snippet fakes a line


def _size(lines: list[str]) -> int:
    return sum(len(line.encode("utf-8")) + 1 for line in lines)


def _fitting(opening: list[str], rows: list[str], closing: list[str], room: int) -> int:
    used = _size(opening) + _size(closing)
    for taken, row in enumerate(rows):
        used += len(row.encode("utf-8")) + 1
        if used > room:
            return taken
    return len(rows)


def _head(result: ScanResult, intro: Sequence[str]) -> list[str]:
    counts = {verdict: sum(1 for f in result.findings if f.verdict == verdict) for verdict in VERDICT}
    if counts["block"]:
        verb = "blocks" if counts["block"] == 1 else "block"
        title = f"🛑 leakstop: {_plural(counts['block'], 'secret')} {verb} this change"
    elif counts["warn"]:
        title = f"⚠️ leakstop: {_plural(counts['warn'], 'warning')}, nothing blocks"
    elif completeness.fails(result):
        title = "🛑 leakstop: the scan did not read everything, and the policy blocks that"
    else:
        title = "✅ leakstop: no secrets found"
    lines = [f"### {title}", ""]
    if completeness.said(result):
        lines += [
            f"**{escape(completeness.describe(result).capitalize())}** (policy incomplete:"
            f" {result.incomplete_policy}): the list below names each.",
            "",
        ]
    for line in intro:
        lines += [escape(line), ""]
    return lines


def _sections(result: ScanResult) -> Iterator[Section]:
    active = [f for f in result.findings if f.verdict != "allow"]
    if active:
        opening = ["| Verdict | Rule | Location | Commit | Secret |", "| --- | --- | --- | --- | --- |"]
        yield opening, [_row(f) for f in active], [""]
    issues = [i for i in result.issues if i.reason != "binary"]
    if issues:
        rows = [f"- {escape(i.path)}: {escape(i.reason)}: {escape(i.message)}" for i in issues]
        yield ["#### Not scanned", ""], rows, [""]
    bypasses = ordered_bypasses(result)
    if bypasses:
        yield ["#### Bypasses", ""], [f"- {escape(describe_bypass(b))}" for b in bypasses], [""]
    allowed = [f for f in result.findings if f.verdict == "allow"]
    if allowed:
        opening = [
            f"<details><summary>{_plural(len(allowed), 'allowed finding')}</summary>",
            "",
            "| Rule | Location | Commit | Why allowed |",
            "| --- | --- | --- | --- |",
        ]
        rows = [f"| {_rule(f)} | {_location(f)} | {_commit(f)} | {escape(justification(f, result))} |" for f in allowed]
        yield opening, rows, ["", "</details>", ""]


def _row(finding: Finding) -> str:
    verdict = VERDICT[finding.verdict] + (f" \\({escape(finding.reason)}\\)" if finding.reason else "")
    secret = escape(finding.match.secret.redacted())
    if finding.validation is not None:
        secret += f" · {escape(finding.validation.state)}"
    return f"| {verdict} | {_rule(finding)} | {_location(finding)} | {_commit(finding)} | {secret} |"


def _rule(finding: Finding) -> str:
    return f"{escape(finding.rule.name)} \\({escape(finding.rule.id)}\\)"


def _location(finding: Finding) -> str:
    return escape(f"{location_uri(finding.origin)}:{finding.match.line}")


def _commit(finding: Finding) -> str:
    return finding.origin.commit[:12] if isinstance(finding.origin, GitOrigin) else ""


def _footer(result: ScanResult) -> list[str]:
    stats = result.stats
    detail = f" ({result.target_detail})" if result.target_detail else ""
    text = f"Scanned {stats.items_scanned} items{detail} in {stats.duration_s:.1f} s"
    if result.branch:
        text += f" · branch {result.branch}"
    if result.baseline:
        text += f" · baseline {result.baseline}"
    return [f"{escape(text)} · leakstop {scanner.__version__}"]


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"
