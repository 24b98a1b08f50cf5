"""The ``Leakstop-Bypass: <reason>`` trailer: a bypass a commit asks for (``policy.context`` has the other
channels; whether a request applies is the policy's call)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from typing import Any

from scanner.models import Bypass, clean_reason

TRAILER = "Leakstop-Bypass"
_TRAILER_LINE = re.compile(rf"^{TRAILER}[ \t]*:[ \t]*(.*?)[ \t]*$", re.IGNORECASE | re.MULTILINE)


def trailer_reason(message: str) -> str | None:
    """The ``Leakstop-Bypass`` trailer's value in the last paragraph of a commit message; None if there is none."""
    last = message.strip().split("\n\n")[-1]
    found = _TRAILER_LINE.search(last)
    return None if found is None else found.group(1)


def trailer_bypass(commit: Any) -> Bypass | None:
    """The trailer request of a pygit2 commit (``message``, ``author.email``, ``committer.time/offset``)."""
    reason = trailer_reason(commit.message)
    if reason is None:
        return None
    committer = commit.committer
    when = datetime.fromtimestamp(committer.time, timezone(timedelta(minutes=committer.offset)))
    return Bypass(
        "trailer",
        clean_reason(reason),
        who=commit.author.email,
        when=when.isoformat(),
        commit=str(commit.id),
    )
