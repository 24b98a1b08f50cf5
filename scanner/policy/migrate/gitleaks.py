"""gitleaks' JSON report (``--report-format json``) and ``.gitleaksignore``, read as baselines.

gitleaks' rule ids are not ours, so entries match on the file and the line (and the commit, when both the entry
and the finding have one). A report entry that holds its secret (not ``--redact``-ed) matches on the secret
instead: the same secret in that file, wherever the line went, or a finding on its line whose secret contains
that secret or is contained in it (the two tools' secret groups can differ). The secrets of a report are kept in
memory only while a scan runs; an import stores our salted fingerprints, never them.
"""

from __future__ import annotations

import json
import os
import re
from typing import TYPE_CHECKING, Any

from scanner.models import Secret
from scanner.policy.baseline import BaselineError
from scanner.policy.migrate.common import Entry, ForeignBaseline, normalise_path

if TYPE_CHECKING:
    from scanner.models import Match

# <commit>:<file>:<rule-id>:<line> or <file>:<rule-id>:<line>; the file may hold colons.
_IGNORE_LINE = re.compile(r"(?:(?P<commit>[0-9a-f]{7,64}):)?(?P<file>.+):(?P<rule>[^:]+):(?P<line>[0-9]+)")
_COMMIT = re.compile(r"[0-9a-f]{7,64}")


class GitleaksBaseline(ForeignBaseline):
    def __init__(self, path: str, entries: list[Entry], secrets: list[Secret | None], kind: str) -> None:
        super().__init__(path, entries)
        self.secrets = secrets
        self.kind = kind

    def entry_matches(self, index: int, secret: str, match: Match, commit: str) -> bool:
        entry = self.entries[index]
        if entry.commit and commit and not (commit.startswith(entry.commit) or entry.commit.startswith(commit)):
            return False
        on_line = match.line <= entry.line <= max(match.end_line, match.line)
        known = self.secrets[index]
        if known is None:
            return on_line
        theirs = known.reveal()
        return theirs == secret or (on_line and (theirs in secret or secret in theirs))


def _redacted(secret: str) -> bool:
    # --redact gives "REDACTED"; --redact=N keeps a prefix and appends "...".
    return not secret or "REDACTED" in secret or secret.endswith("...")


def parse_report(text: str, source: str) -> GitleaksBaseline:
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BaselineError(f"{source}: gitleaks report is not valid JSON: {exc}") from None
    except RecursionError:
        raise BaselineError(f"{source}: gitleaks report: JSON nested too deeply") from None
    if not isinstance(doc, list):
        raise BaselineError(f"{source}: gitleaks report must be a JSON list of findings")
    root = os.path.dirname(os.path.abspath(source))
    entries: list[Entry] = []
    secrets: list[Secret | None] = []
    for index, item in enumerate(doc):
        where = f"{source}: gitleaks report: [{index}]"
        entry, secret = _report_entry(item, where, root)
        entries.append(entry)
        secrets.append(secret)
    return GitleaksBaseline(source, entries, secrets, "gitleaks-report")


def _report_entry(item: Any, where: str, root: str) -> tuple[Entry, Secret | None]:
    if not isinstance(item, dict):
        raise BaselineError(f"{where}: must be an object")
    file, line = item.get("File"), item.get("StartLine")
    if not isinstance(file, str) or not file:
        raise BaselineError(f"{where}: File must be a non-empty string")
    if not isinstance(line, int) or isinstance(line, bool) or line < 1:
        raise BaselineError(f"{where}: StartLine must be a positive integer")
    end_line = item.get("EndLine", line)
    commit = item.get("Commit") or ""
    if not isinstance(commit, str) or (commit and not _COMMIT.fullmatch(commit)):
        raise BaselineError(f"{where}: Commit must be a commit id")
    secret = item.get("Secret")
    kept = Secret(secret) if isinstance(secret, str) and not _redacted(secret) else None
    rule = item.get("RuleID")
    entry = Entry(
        normalise_path(file, root),
        line,
        rule if isinstance(rule, str) else "",
        commit,
        end_line if isinstance(end_line, int) else line,
    )
    return entry, kept


def looks_like_ignore(text: str) -> bool:
    lines = [s.strip() for s in text.splitlines() if s.strip() and not s.lstrip().startswith("#")]
    return bool(lines) and all(_IGNORE_LINE.fullmatch(s) for s in lines)


def parse_ignore(text: str, source: str) -> GitleaksBaseline:
    root = os.path.dirname(os.path.abspath(source))
    entries: list[Entry] = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        m = _IGNORE_LINE.fullmatch(line)
        if m is None:
            # The line is not echoed: a file that is not what it should be may hold anything, a secret too.
            raise BaselineError(f"{source}: line {number}: not a gitleaks fingerprint ([commit:]file:rule-id:line)")
        entries.append(
            Entry(normalise_path(m["file"], root), int(m["line"]), m["rule"], m["commit"] or "", int(m["line"]))
        )
    return GitleaksBaseline(source, entries, [None] * len(entries), "gitleaksignore")
