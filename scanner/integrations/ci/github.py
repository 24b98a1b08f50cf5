"""GitHub Actions: the event (``GITHUB_EVENT_NAME`` and the payload at ``GITHUB_EVENT_PATH``, integrations.md 2.2),
and what a step hands back to the runner: annotations, outputs and the job summary (2.4).

A pull request's range is ``pull_request.base.sha..pull_request.head.sha``, never ``GITHUB_SHA`` (the test merge
commit). Annotations are workflow commands on stdout, escaped, at most ten errors and ten warnings (GitHub shows
no more); the job summary lists every finding.
"""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TextIO

from scanner.errors import UsageError
from scanner.formats.shapes import as_dict
from scanner.integrations.ci.environment import commit_id, field, load_payload, require
from scanner.integrations.ci.model import CiEvent, EventKind, is_zero
from scanner.models import Finding, GitOrigin, ScanIssue, ScanResult
from scanner.report.common import describe
from scanner.report.markdown import render_markdown
from scanner.safetext import printable_lines

CHANGE_REQUESTS = frozenset({"pull_request", "pull_request_target"})
KINDS: dict[str, EventKind] = {"schedule": "scheduled", "workflow_dispatch": "manual", "repository_dispatch": "manual"}
MAX_ANNOTATIONS = 10  # per level and step: GitHub shows no more
SUMMARY_LIMIT = 1024 * 1024  # a step's summary; over it the upload fails


def event(environ: Mapping[str, str]) -> CiEvent:
    name = require(environ, "GITHUB_EVENT_NAME")
    payload = load_payload(environ, "GITHUB_EVENT_PATH")
    where = f"GITHUB_EVENT_PATH ({environ['GITHUB_EVENT_PATH']})"
    repository = payload.get("repository")
    default_branch = str(repository.get("default_branch") or "") if isinstance(repository, dict) else ""
    if name == "push":
        return _push(payload, where, default_branch)
    if name in CHANGE_REQUESTS:
        return _pull_request(name, payload, where, default_branch)
    if name == "merge_group":
        return CiEvent(
            "github",
            name,
            "change-request",
            head=_commit(payload, "merge_group.head_sha", where),
            base=_commit(payload, "merge_group.base_sha", where),
            default_branch=default_branch,
        )
    sha = environ.get("GITHUB_SHA", "")
    return CiEvent("github", name, KINDS.get(name, "unknown"), head=sha, default_branch=default_branch)


def _push(payload: dict[str, Any], where: str, default_branch: str) -> CiEvent:
    ref = str(field(payload, "ref", where))
    after = _commit(payload, "after", where)
    before = _commit(payload, "before", where)
    commits = payload.get("commits")
    ids = tuple(c["id"] for c in commits if isinstance(c, dict) and isinstance(c.get("id"), str)) if commits else ()
    return CiEvent(
        "github",
        "push",
        "tag" if ref.startswith("refs/tags/") else "push",
        head="" if is_zero(after) else after,
        base="" if is_zero(before) else before,
        ref=ref,
        branch=ref.removeprefix("refs/heads/") if ref.startswith("refs/heads/") else "",
        forced=bool(payload.get("forced")),
        deleted=bool(payload.get("deleted")) or is_zero(after),
        commits=ids,
        default_branch=default_branch,
    )


def _pull_request(name: str, payload: dict[str, Any], where: str, default_branch: str) -> CiEvent:
    pull = as_dict(field(payload, "pull_request", where))
    head_repo = as_dict(as_dict(pull.get("head")).get("repo"))
    base_repo = as_dict(as_dict(pull.get("base")).get("repo"))
    # A fork's branch is not among origin's remote-tracking refs (a branch of the same name there is another one).
    same_repo = bool(head_repo.get("full_name")) and head_repo.get("full_name") == base_repo.get("full_name")
    count = pull.get("commits")
    return CiEvent(
        "github",
        name,
        "change-request",
        head=_commit(payload, "pull_request.head.sha", where),
        base=_commit(payload, "pull_request.base.sha", where),
        ref=f"refs/pull/{pull.get('number', '')}/head",
        branch=str(field(payload, "pull_request.head.ref", where)) if same_repo else "",
        commit_count=count if isinstance(count, int) and not isinstance(count, bool) else 0,
        default_branch=default_branch,
    )


def _commit(payload: dict[str, Any], dotted: str, where: str) -> str:
    return commit_id(field(payload, dotted, where), f"{where}: {dotted}")


# --- what the step hands back to the runner ---


@dataclass(frozen=True)
class Step:
    """The runner's files for this step and the workspace, as the environment names them ("" = not set)."""

    output: str = ""  # $GITHUB_OUTPUT
    summary: str = ""  # $GITHUB_STEP_SUMMARY ("" also with --no-summary)
    workspace: str = ""  # $GITHUB_WORKSPACE: annotation paths are relative to it

    @classmethod
    def from_environment(cls, environ: Mapping[str, str], summary: bool = True) -> Step:
        return cls(
            environ.get("GITHUB_OUTPUT", ""),
            environ.get("GITHUB_STEP_SUMMARY", "") if summary else "",
            environ.get("GITHUB_WORKSPACE", ""),
        )


def publish(
    result: ScanResult,
    step: Step,
    intro: Sequence[str],
    base: str,
    issues: Sequence[ScanIssue] = (),
    sarif: str = "",
    out: TextIO | None = None,
) -> None:
    """Annotations on ``out`` (stdout), the job summary and the step's outputs: ``findings`` (blocking and
    warning), ``blocked`` and ``sarif`` (the SARIF file written, or "")."""
    out = out or sys.stdout
    for command in annotation_commands(result, base, step.workspace or os.getcwd(), issues):
        out.write(command + "\n")
    if step.summary:
        write_summary(step.summary, render_markdown(result, intro, summary_room(step.summary)))
    if step.output:
        counts = {verdict: sum(1 for f in result.findings if f.verdict == verdict) for verdict in ("block", "warn")}
        outputs = {"findings": str(counts["block"] + counts["warn"]), "blocked": str(counts["block"]), "sarif": sarif}
        write_outputs(step.output, outputs)


def escape_data(text: str) -> str:
    """A workflow command's data: GitHub's own escapes, after the controls that would reach the log raw."""
    return printable_lines(text).replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def annotation_commands(result: ScanResult, base: str, workspace: str, issues: Iterable[ScanIssue] = ()) -> list[str]:
    """``::warning`` for ``issues`` (commits the run could not scan), then ``::error`` for blocking findings and
    ``::warning`` for warnings, at most ``MAX_ANNOTATIONS`` of each; a notice says how many more the job summary
    lists. Paths are made relative to the workspace (``base`` is what finding paths are relative to); a finding
    outside it (an image layer, a commit message) is annotated without a file."""
    lines: list[str] = []
    shown = {"error": 0, "warning": 0}
    hidden = 0
    for issue in issues:
        hidden += _add(lines, shown, "warning", _issue_command(issue))
    for finding in result.findings:
        level = {"block": "error", "warn": "warning"}.get(finding.verdict)
        if level is not None:
            hidden += _add(lines, shown, level, _finding_command(level, finding, base, workspace))
    if hidden:
        lines.append(f"::notice title=leakstop::{hidden} more not shown here: the job summary lists them all")
    return lines


def _add(lines: list[str], shown: dict[str, int], level: str, command: str) -> int:
    if shown[level] >= MAX_ANNOTATIONS:
        return 1
    shown[level] += 1
    lines.append(command)
    return 0


def _issue_command(issue: ScanIssue) -> str:
    title = escape_property(f"leakstop: not scanned ({issue.reason})")
    return f"::warning title={title}::{escape_data(f'{issue.path}: {issue.message}')}"


def _finding_command(level: str, finding: Finding, base: str, workspace: str) -> str:
    m = finding.match
    properties = []
    path = _workspace_path(finding, base, workspace)
    if path:
        properties += [f"file={escape_property(path)}", f"line={m.line}", f"endLine={m.end_line}"]
        if m.line == m.end_line:
            properties += [f"col={m.column}", f"endColumn={m.end_column}"]
    properties.append(f"title={escape_property(f'{finding.rule.name} ({finding.rule.id})')}")
    action = "blocks this change" if level == "error" else "a warning"
    message = f"{describe(finding)}: {action}. Revoke or rotate it, then remove it."
    if isinstance(finding.origin, GitOrigin):
        message += f" Introduced in commit {finding.origin.commit[:12]}."
    return f"::{level} {','.join(properties)}::{escape_data(message)}"


def _workspace_path(finding: Finding, base: str, workspace: str) -> str:
    origin = finding.origin
    if origin.kind not in ("file", "git") or (isinstance(origin, GitOrigin) and origin.where != "blob"):
        return ""
    full = os.path.normpath(os.path.join(base, origin.path))
    relative = os.path.relpath(full, workspace or base)
    return "" if relative.startswith("..") else relative.replace(os.sep, "/")


def write_outputs(path: str, values: Mapping[str, str]) -> None:
    """Append ``name=value`` lines to ``$GITHUB_OUTPUT`` (a random delimiter for a value with a line break)."""
    lines: list[str] = []
    for name, value in values.items():
        if "\n" in value or "\r" in value:
            delimiter = f"ghadelimiter_{uuid.uuid4()}"
            lines.append(f"{name}<<{delimiter}\n{value}\n{delimiter}\n")
        else:
            lines.append(f"{name}={value}\n")
    _append(path, "GITHUB_OUTPUT", lines)


def summary_room(path: str) -> int:
    """How many bytes the step's summary may still take (another tool of the same step may have written some)."""
    try:
        return max(SUMMARY_LIMIT - os.path.getsize(path), 0)
    except OSError:
        return SUMMARY_LIMIT


def write_summary(path: str, markdown: str) -> None:
    _append(path, "GITHUB_STEP_SUMMARY", [markdown])


def _append(path: str, variable: str, chunks: Iterable[str]) -> None:
    try:
        with open(path, "a", encoding="utf-8") as out:
            out.writelines(chunks)
    except OSError as exc:
        raise UsageError(f"{variable}: cannot write {path}: {exc.strerror}") from None
