"""Human-readable report. The one module that writes to a terminal; colour only when the stream is a TTY."""

from __future__ import annotations

from typing import TextIO

from scanner import completeness
from scanner.models import LABEL_WORDS, FileOrigin, Finding, ScanResult
from scanner.report.common import (
    ReportOptions,
    allow_reasons,
    describe_bypass,
    describe_validation,
    ordered_bypasses,
    origin_fields,
)
from scanner.safetext import printable

VERDICT_STYLE = {"block": "bold red", "warn": "yellow", "allow": "dim"}
LISTED_ISSUES = 20


def _human_bytes(n: int) -> str:
    size = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.1f} {unit}" if unit != "B" else f"{n} B"
        size /= 1024
    return f"{n} B"


def _finding_lines(f: Finding, show_secrets: bool) -> list[tuple[str, str]]:
    """(style, text) pairs, so the same words print with or without colour."""
    from scanner.location import location_uri  # here and below: a clean run (a commit hook's) loads neither

    m = f.match
    head = f"{f.verdict.upper():5}  {f.rule.id}  {f.rule.name}  [{f.rule.severity}]"
    if f.reason:
        head += f"  ({f.reason})"
    lines = [(VERDICT_STYLE[f.verdict], head), ("cyan", f"  {location_uri(f.origin)}:{m.line}:{m.column}")]
    extra = origin_fields(f.origin)
    if "commit" in extra:
        lines.append(("", f"  commit {extra['commit'][:12]} by {extra['author']} on {extra['date']}"))
    if extra.get("resource") or extra.get("attribute"):
        where = f"{extra['resource']} {extra['attribute']}" if extra["attribute"] else extra["resource"]
        label = "in resource" if isinstance(f.origin, FileOrigin) else "in state"  # IaC documents vs state
        lines.append(("", f"  {label}: {where}"))
    if extra.get("status") and extra.get("status") != "visible":
        lines.append(("", f"  {extra['status']}"))
    lines.append(("dim", f"  │ {m.snippet}"))
    secret = m.secret.reveal() if show_secrets else m.secret.redacted()
    detail = f"  secret {secret} · id {f.finding_id[:12]}"
    if m.decoded:
        detail += f" · decoded from {'+'.join(m.decoded)}"
    # A revealed multi-line secret (a PEM block) keeps its lines; every other line break is escaped in write_text.
    lines.extend(("", part) for part in detail.split("\n"))
    if f.bypass is not None:
        lines.append(("yellow" if f.bypass.refused else "", f"  {describe_bypass(f.bypass)}"))
    if f.audit:
        lines.append(("", f"  audited: {LABEL_WORDS.get(f.audit, f.audit)}"))
    if f.validation is not None:
        style = {"live": "red", "invalid": "green"}.get(f.validation.state, "yellow")
        lines.append((style, f"  validation: {describe_validation(f.validation)}"))
    if f.change:
        lines.append(("bold" if f.change == "new" else "", f"  since the last org scan: {f.change.replace('-', ' ')}"))
    return lines


def _verdict_lines(result: ScanResult, blocking: int, unread: str) -> list[tuple[str, str]]:
    """The last lines: what blocked and how to fix it, an incomplete scan the policy blocks or warns of, or PASSED."""
    if result.blocked:
        from scanner.report.advice import fix_advice, headline

        return [("bold red", headline(result, blocking)), *(("", line) for line in fix_advice(result))]
    if completeness.fails(result):
        return [("bold red", f"BLOCKED: the scan is {unread} (policy incomplete: block)")]
    if unread:
        return [("bold yellow", f"PASSED, but {unread} (policy incomplete: warn)")]
    return [("bold green", "PASSED")]


def write_text(result: ScanResult, out: TextIO, options: ReportOptions) -> None:
    lines: list[tuple[str, str]] = []
    for f in result.findings:
        if f.verdict == "allow" and not options.verbose:
            continue  # counted in the summary; --verbose lists them
        lines.extend(_finding_lines(f, options.show_secrets))
        lines.append(("", ""))
    issues = [i for i in result.issues if options.verbose or i.reason != "binary"]
    for issue in issues[: None if options.verbose else LISTED_ISSUES]:
        lines.append(("yellow", f"not scanned: {issue.path}: {issue.reason}: {issue.message}"))
    if len(issues) > LISTED_ISSUES and not options.verbose:
        lines.append(("yellow", f"… and {len(issues) - LISTED_ISSUES} more (--verbose lists all)"))
    for bypass in ordered_bypasses(result):
        if bypass.refused:
            lines.append(("yellow", f"bypass refused: {bypass.refused} ({describe_bypass(bypass).split('; ')[0]})"))
        else:
            used = sum(1 for f in result.findings if f.bypass == bypass and f.reason == "bypass")
            lines.append(("yellow", f"bypass applied to {used} findings: {describe_bypass(bypass)}"))
    stats = result.stats
    counts = {"block": 0, "warn": 0, "allow": 0}
    for f in result.findings:
        counts[f.verdict] += 1
    detail = f" [{result.target_detail}]" if result.target_detail else ""
    summary = (
        f"scanned {stats.items_scanned} items{detail} ({_human_bytes(stats.bytes_scanned)}) in {stats.duration_s:.2f}s"
        f" · {len(result.findings)} findings: {counts['block']} blocked, {counts['warn']} warned,"
        f" {counts['allow']} allowed"
        + (f" ({allow_reasons(result)})" if counts["allow"] else "")
        + (" (--verbose lists them)" if counts["allow"] and not options.verbose else "")
    )
    if result.baseline:
        summary += f" · baseline {result.baseline}"
    if result.branch:
        summary += f" · branch {result.branch}"
    summary += _validated(result)
    skipped = [f"{n} {reason}" for reason, n in sorted(stats.skipped.items()) if n]
    if skipped:
        summary += " · skipped: " + ", ".join(skipped)
    unread = completeness.describe(result) if completeness.said(result) else ""
    if unread:
        summary += f" · {unread}"
    lines.append(("bold", summary))
    lines.extend(_verdict_lines(result, counts["block"], unread))
    lines = [(style, printable(text)) for style, text in lines]  # a file name or snippet cannot fake a line
    if not options.color:
        out.write("\n".join(text for _, text in lines) + "\n")
        return
    from rich.console import Console
    from rich.text import Text

    console = Console(file=out, highlight=False, soft_wrap=True, force_terminal=True)
    for style, text in lines:
        console.print(Text(text, style=style))


def _validated(result: ScanResult) -> str:
    """`` · validated: 1 live, 2 invalid, 0 unknown`` (by finding) when the scan validated anything."""
    states = [f.validation.state for f in result.findings if f.validation is not None]
    if not states:
        return ""
    return " · validated: " + ", ".join(f"{states.count(s)} {s}" for s in ("live", "invalid", "unknown"))
