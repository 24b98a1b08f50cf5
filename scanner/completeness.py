"""Whether a scan read everything, and what the policy makes of it (``policy.incomplete``: pass, warn, block).

A gate must say whether it saw everything: a file over the size cap, an unreadable file, an image layer stopped
at a cap, a corrupt or missing object, a deadline that passed -- every issue a source recorded, and
``ScanResult.incomplete`` -- makes the result incomplete. What the configuration chose not to read is not
"unread": binary content (``--scan-binary`` reads it), symbolic links, ignored paths, submodules, special files
and an empty repository. Every report says so (``pass`` only in JSON and SARIF); ``block`` fails the scan
(exit 1); ``warn`` keeps the exit code and says it.
"""

from __future__ import annotations

from collections import Counter

from scanner.models import ScanIssue, ScanResult

# Reasons recorded that are choices of the configuration, not content left unread; and ``shallow-base`` (CI: a
# shallow clone may make a range scan read more than it adds, never less).
CHOSEN = frozenset({"binary", "symlink", "ignored", "submodule", "special-file", "empty-repository", "shallow-base"})


def not_read(result: ScanResult) -> list[ScanIssue]:
    """The issues that make ``result`` incomplete, in the order recorded."""
    return [issue for issue in result.issues if issue.reason not in CHOSEN]


def is_complete(result: ScanResult) -> bool:
    return not result.incomplete and not not_read(result)


def reasons(result: ScanResult) -> dict[str, int]:
    """What was not read, counted by reason (``{"too-large": 2}``); a deadline with no issue counts once."""
    counted = Counter(issue.reason for issue in not_read(result))
    if result.incomplete and "deadline" not in counted:
        counted["deadline"] += 1
    return dict(sorted(counted.items()))


def describe(result: ScanResult) -> str:
    """One phrase for a summary line: ``incomplete: 3 not read (2 too-large, 1 unreadable)``; "" if complete."""
    if is_complete(result):
        return ""
    counted = reasons(result)
    total = sum(counted.values())
    detail = ", ".join(f"{n} {reason}" for reason, n in counted.items())
    return f"incomplete: {total} not read ({detail})"


def said(result: ScanResult) -> bool:
    """Whether human-facing reports mention it: an incomplete result unless the policy says ``pass``."""
    return result.incomplete_policy != "pass" and not is_complete(result)


def fails(result: ScanResult) -> bool:
    """Whether it fails the scan (exit 1): an incomplete result under ``incomplete: block``."""
    return result.incomplete_policy == "block" and not is_complete(result)
