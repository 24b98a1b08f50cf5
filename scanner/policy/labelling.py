"""``leakstop baseline audit``: walk the baselined findings one by one and label each a true or a false positive.

The loop only talks through ``ask`` and ``say``, so the CLI gives it the terminal and a test can drive the real
command on a pseudo-terminal. Everything shown is redacted; labels are stored per fingerprint in the baseline.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from scanner.location import location_uri
from scanner.models import LABEL_WORDS, Finding

# The labels a baselined finding can carry (``Finding.audit``), and how reports write them.
ANSWERS = {"t": "true-positive", "f": "false-positive", "s": "skip", "": "skip", "q": "quit"}
PROMPT = "true positive, false positive, skip or quit? [t/f/s/q] "


@dataclass(frozen=True)
class Item:
    """A finding to label, with its fingerprint and the label it already has."""

    fingerprint: str
    finding: Finding
    label: str = ""  # the label it has already, if any


def describe(item: Item, position: int, total: int) -> list[str]:
    f = item.finding
    return [
        f"[{position}/{total}] {f.rule.id}  {f.rule.name}  [{f.rule.severity}]",
        f"  {location_uri(f.origin)}:{f.match.line}:{f.match.column}",
        f"  │ {f.match.snippet}",
        f"  secret {f.match.secret.redacted()} · id {f.finding_id[:12]}"
        + (f" · labelled {LABEL_WORDS[item.label]}" if item.label in LABEL_WORDS else ""),
    ]


def run_audit(
    items: Iterable[Item], ask: Callable[[str], str], say: Callable[[str], None], labels: dict[str, str]
) -> dict[str, str]:
    """Ask about each item, recording answers in ``labels`` ({fingerprint: label}) as they come, so that an
    interrupt loses none; stops when the user quits or the input ends (EOFError from ``ask``)."""
    pending = list(items)
    for position, item in enumerate(pending, 1):
        for line in describe(item, position, len(pending)):
            say(line)
        while True:
            try:
                answer = ANSWERS.get(ask(PROMPT).strip().lower()[:1])
            except EOFError:
                return labels
            if answer is not None:
                break
            say("  answer t, f, s or q")
        if answer == "quit":
            return labels
        if answer != "skip":
            labels[item.fingerprint] = answer
        say("")
    return labels
