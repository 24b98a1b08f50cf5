"""The structured detector: Terraform state, analysed as data besides the rules.

The whole file is scanned with the rules, so every finding carries the line where the value sits; each match is
then tied to the resource address and attribute path of the value it falls in. Values Terraform marks sensitive
(``sensitive_attributes``, ``sensitive`` outputs) and known secret-bearing attributes are findings of rule
``terraform-sensitive-in-state`` even when no pattern matches: the marking is display-only and state holds them in
plaintext (integrations.md 6.1, 6.2).
"""

from __future__ import annotations

import json
import re
from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from scanner.detect.engine import Detector, RawMatch, to_matches
from scanner.detect.entropy import shannon_entropy
from scanner.errors import InputError
from scanner.formats.tfstate import (
    Leaf,
    Path,
    StateIndex,
    Walker,
    byte_offsets,
    decode_state,
    load_state,
    string_leaves,
)
from scanner.models import Match
from scanner.ruleset import CompiledRule
from scanner.textdiff import changed_regions, new_line_numbers

SENSITIVE_RULE = "terraform-sensitive-in-state"


@dataclass(frozen=True, slots=True)
class StateGroup:
    """The matches that fall in one resource attribute or output (``address`` is "" outside any)."""

    address: str
    attribute: str
    matches: tuple[Match, ...]


def sensitive_rule(rules: Iterable[CompiledRule]) -> CompiledRule | None:
    return next((rule for rule in rules if rule.id == SENSITIVE_RULE), None)


def analyse(data: bytes, shown: str, matches: Sequence[Match], rule: CompiledRule | None) -> list[StateGroup]:
    """Tie the rule ``matches`` of a state file to resource attributes, and add a ``rule`` match for each value
    state keeps in plaintext that no pattern matched. Raises ``InputError`` when ``data`` is not a state."""
    text, doc = decode_state(data, shown)
    leaves = Walker(text).run()
    index = StateIndex(doc, leaves)
    spans = [(start, end, leaf) for leaf, (start, end) in zip(leaves, byte_offsets(text, leaves), strict=True)]
    starts = [s for s, _, _ in spans]

    def leaf_at(offset: int) -> Leaf | None:
        i = bisect_right(starts, offset) - 1
        if i >= 0 and spans[i][0] <= offset <= spans[i][1]:
            return spans[i][2]
        return None

    covered: set[Path] = set()
    groups: dict[tuple[str, str], list[Match]] = {}
    for match in matches:
        leaf = leaf_at(match.start)
        owned = index.owner(leaf.path) if leaf is not None else None
        key = (owned[0].address, owned[0].attribute) if owned else ("", "")
        groups.setdefault(key, []).append(match)
        if leaf is not None:
            covered.add(leaf.path)

    if rule is not None:
        for start, end, leaf in spans:
            if leaf.path in covered or not isinstance(leaf.value, str) or not leaf.value.strip():
                continue
            owned = index.owner(leaf.path)
            if owned is None or not owned[1]:
                continue
            value = leaf.value
            raw = RawMatch(rule, start, end, value, shannon_entropy(value))
            groups.setdefault((owned[0].address, owned[0].attribute), []).extend(to_matches(data, [raw]))
    return [StateGroup(address, attribute, tuple(found)) for (address, attribute), found in groups.items()]


def touching(groups: list[StateGroup], lines: frozenset[int]) -> list[StateGroup]:
    """Only the matches on ``lines`` (what a staged change or a range adds)."""
    kept = []
    for group in groups:
        matches = tuple(m for m in group.matches if any(n in lines for n in range(m.line, m.end_line + 1)))
        if matches:
            kept.append(StateGroup(group.address, group.attribute, matches))
    return kept


def version_groups(
    detector: Detector, data: bytes, previous: bytes, only_lines: frozenset[int] | None
) -> list[StateGroup] | None:
    """A state file's version in a git history or range scan (run in worker processes): parsed whole, since
    a change deep in the file needs the resources around it. None when it is not a valid state (scanned as
    plain text then). In a range, only what the version adds against ``previous`` counts (``only_lines``).

    Most versions of a state change ids, tags and the serial, not secrets: when the changed parts hold no rule
    match and no new value of a secret attribute, the version has nothing the previous one did not, and the
    costly whole-file analysis is skipped (findings already made at this path stand)."""
    if _nothing_new(detector, data, previous):
        return []
    try:
        groups = analyse(data, "", detector.detect(data), sensitive_rule(detector.rules))
    except InputError:
        return None
    return groups if only_lines is None else touching(groups, only_lines)


_JSON_STRING = re.compile(rb'"(?:[^"\\\n]|\\.)*"')


def _nothing_new(detector: Detector, data: bytes, previous: bytes) -> bool:
    """True when ``data`` is a valid state whose new lines (lines ``previous`` does not have) hold no rule match
    and no string at a secret or sensitive path. Any doubt (invalid JSON, ...) is False: analyse in full."""
    added = new_line_numbers(previous, data)
    for region, first in changed_regions(previous, data):
        for match in detector.detect(region, first_line=first):
            if any(n in added for n in range(match.line, match.end_line + 1)):
                return False
    lines = data.split(b"\n")
    fresh = {m.group() for n in added for m in _JSON_STRING.finditer(lines[n - 1])}
    try:
        doc = load_state(data.decode("utf-8"), "")  # still a state? (C speed; the walk is what costs)
        values = {json.loads(token) for token in fresh}
    except (InputError, ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        return False
    if not values:
        return True
    index = StateIndex(doc, [])
    for path, value in string_leaves(doc, ()):
        if value in values:
            owned = index.owner(path)
            if owned is not None and owned[1]:
                return False
    return True
