"""What the pre-receive hook tells the pusher: why a push is rejected and exactly what to do about it, or one line
saying it was checked. Secrets show redacted (``ghp_…(40)``), never their value (integrations.md 4.7, 8.1).

git shows a hook's output prefixed ``remote:``; GitLab shows only lines that start with ``GL-HOOK-ERR: ``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TextIO

from scanner.location import location_uri
from scanner.models import Bypass, Finding, ScanResult
from scanner.safetext import printable
from scanner.sources.git.pushed import RefUpdate

MAX_LISTED = 5  # findings (and commits) named in a rejection; GitHub's push protection shows 5 too
GITLAB_PREFIX = "GL-HOOK-ERR: "
BYPASS_OPTION = "leakstop.bypass"
# Not scanned per the size policy: named in the message, and the push goes on.
POLICY_SKIPS = {"binary": "binary (not text in the first 8000 bytes)", "too-large": "over the size cap"}


def write(out: TextIO, lines: Iterable[str], gitlab: bool, error: bool) -> None:
    prefix = GITLAB_PREFIX if gitlab and error else ""
    for line in lines:
        out.write(f"{prefix}{printable(line)}\n")  # refs, paths and reasons cannot fake a line
    out.flush()


def _finding_line(finding: Finding) -> str:
    where = f"{printable(location_uri(finding.origin))}:{finding.match.line}"
    commit = getattr(finding.origin, "commit", "")
    return f"  {finding.rule.id}  {where}  commit {commit[:12]}  {finding.match.secret.redacted()}"


def _fix_lines(findings: Sequence[Finding], updates: Sequence[RefUpdate]) -> list[str]:
    """How to take the secrets out: amend a branch's last commit, rebase for an older one."""
    tips = {u.new: u.ref for u in updates}
    commits = list(dict.fromkeys(getattr(f.origin, "commit", "") for f in findings))
    lines = ["Remove each secret from the commit that adds it, then push again:"]
    for commit in commits[:MAX_LISTED]:
        short = commit[:12]
        if commit in tips:
            lines.append(f"  {short} is the last commit of {printable(tips[commit])}: fix the file, git commit --amend")
        else:
            lines.append(
                f"  {short} is an older commit: git rebase -i {short}^ (mark it 'edit'), fix the file,"
                " git commit --amend, git rebase --continue"
            )
    if len(commits) > MAX_LISTED:
        lines.append(f"  and {len(commits) - MAX_LISTED} more commits")
    return lines


def rejection(
    blocking: Sequence[Finding], updates: Sequence[RefUpdate], bypass: str, refused: Sequence[Bypass]
) -> list[str]:
    """``bypass``: how to bypass, if the policy allows it ("" if not); ``refused``: bypasses asked for and refused."""
    noun = "secret" if len(blocking) == 1 else "secrets"
    lines = [f"leakstop: push rejected: {len(blocking)} {noun} in the pushed commits"]
    lines += [_finding_line(f) for f in blocking[:MAX_LISTED]]
    if len(blocking) > MAX_LISTED:
        lines.append(f"  and {len(blocking) - MAX_LISTED} more")
    lines += _fix_lines(blocking, updates)
    lines.append("The credential has left your machine: rotate it (revoke it and issue a new one) as well.")
    for request in refused:
        lines.append(f"leakstop: bypass refused: {request.refused}")
    if bypass:
        lines.append(bypass)
    return lines


def bypass_hint(allowed: bool, push_options: bool) -> str:
    """The way to bypass, when the policy allows a push option; ``push_options``: the server accepts them."""
    if not allowed:
        return ""
    hint = f'Not a secret, or already revoked? Push again with: git push -o {BYPASS_OPTION}="<why>" (recorded)'
    if not push_options:
        hint += "; the server must first set receive.advertisePushOptions=true (ask its admin)"
    return hint


def undecided(why: str, fail_open: bool, bypass: str) -> list[str]:
    """The push could not be decided (``why``): accepted with a warning (fail-open) or rejected with the ways
    through (fail-closed)."""
    if fail_open:
        return [f"leakstop: warning: push accepted unchecked: {why} (fail-open; recorded in the audit log)"]
    lines = [
        f"leakstop: push rejected: {why}",
        "The server's policy rejects what it could not check (fail-closed). To get the push through: push fewer"
        " commits at a time, or ask the server's admin to raise push_protection.budget in its leakstop config.",
    ]
    return [*lines, bypass] if bypass else lines


def accepted(result: ScanResult, seconds: float) -> list[str]:
    stats = result.stats
    cached = stats.skipped.get("known-clean", 0)
    known = f", {cached} blobs known clean" if cached else ""
    lines = [f"leakstop: push checked: {result.target_detail}{known}, no secret to block ({seconds:.2f} s)"]
    return lines + skipped_notes(result)


def skipped_notes(result: ScanResult) -> list[str]:
    """Blobs left unscanned by the size policy (``max_file_size``, ``scan_binary``), counted and named."""
    lines = []
    for reason, words in POLICY_SKIPS.items():
        count = result.stats.skipped.get(reason, 0)
        if count:
            named = [printable(i.path) for i in result.issues if i.reason == reason][:MAX_LISTED]
            listed = f": {', '.join(named)}" if named else ""
            lines.append(f"leakstop: not scanned, per the size policy: {count} blobs {words}{listed}")
    return lines
