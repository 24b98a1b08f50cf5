"""Detection for one chunk: the rules, then the structured detector for structured content; the same content
(by content id) is detected once. Runs in the main process and in the worker processes alike.

The structured detectors (``detect.iac``, ``detect.structured``: YAML and the IaC formats) are imported when a
chunk has structure: a commit of source files, the hook's usual case, does not load them."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from scanner.detect.engine import Detector
from scanner.detect.timebound import RegexTimeout, bounded
from scanner.errors import InputError
from scanner.models import Chunk, FileOrigin, GitOrigin, Match, Origin, TfstateOrigin
from scanner.ruleset import Ruleset

if TYPE_CHECKING:
    from scanner.detect.structured import StateGroup

Group = tuple[Origin, tuple[Match, ...]]


@dataclass(frozen=True, slots=True)
class Detected:
    """A chunk's matches by origin (a state's by resource attribute), and, for structured content that turned out
    not to be, why (then it was scanned as plain text)."""

    groups: tuple[Group, ...] = ()
    not_structured: str = ""
    timed_out: str = ""  # why detection stopped before the end of the chunk ("" when it did not)


# What a chunk without a match gets (most chunks of a history): one shared instance, not one made per chunk.
NOTHING = Detected()


def _touches(match: Match, lines: frozenset[int]) -> bool:
    return any(n in lines for n in range(match.line, match.end_line + 1))


def state_origin(origin: Origin, group: StateGroup, structure: str = "tfstate") -> Origin:
    """Where a state's finding sits: the file (a state met in a directory or staged scan is reported as state)
    or the blob, with the resource address and attribute path."""
    if isinstance(origin, FileOrigin):
        if structure != "tfstate":  # an infrastructure document other than state stays a file
            return dataclasses.replace(origin, address=group.address, attribute=group.attribute)
        return TfstateOrigin(origin.path, address=group.address, attribute=group.attribute)
    if isinstance(origin, GitOrigin | TfstateOrigin):
        return dataclasses.replace(origin, address=group.address, attribute=group.attribute)
    return origin


class ChunkDetector:
    def __init__(self, detector: Detector, ruleset: Ruleset, time_budget: float = 0.0) -> None:
        """``time_budget``: seconds detection may take in one chunk (0 = no bound), see ``detect.timebound``."""
        self.detector = detector
        self.time_budget = time_budget
        self.rules = ruleset.by_id
        self._cache: dict[str, list[Match]] = {}

    def matches(self, chunk: Chunk, before_rules: Callable[[], None] | None = None) -> list[Match]:
        """The rule matches in the chunk's content (cached by content id), before ``only_lines``."""
        if chunk.content_id:
            cached = self._cache.get(chunk.content_id)
            if cached is not None:
                return cached
        matches = self.detector.detect(chunk.content, chunk.first_line, before_rules)
        if chunk.content_id:
            self._cache[chunk.content_id] = matches
        return matches

    def detect(self, chunk: Chunk) -> Detected:
        """Plain text's bound starts at its first rule regex (most chunks have none: 3 µs a chunk saved);
        structured content's at once (its parsers run in Python before any rule)."""
        bound = bounded(self.time_budget, lazy=not chunk.structure)
        try:
            with bound:
                return self._structured(chunk) if chunk.structure else self._plain(chunk, bound.arm)
        except RegexTimeout:
            return Detected(
                timed_out=f"not fully scanned: the rules took over {self.time_budget:g}s on it"
                " (a custom regex that backtracks?)"
            )

    def _structured(self, chunk: Chunk) -> Detected:
        if chunk.structure == "tfstate":
            try:
                groups = self._state_groups(chunk)
            except InputError as exc:
                why = str(exc).removeprefix(f"{chunk.origin.path}: ")
                return dataclasses.replace(self._plain(chunk), not_structured=why)
            found = tuple((state_origin(chunk.origin, g), g.matches) for g in groups if g.matches)
            return Detected(found)
        return self._iac(chunk)

    def _iac(self, chunk: Chunk) -> Detected:
        """A Pulumi export, CloudFormation template, Kubernetes manifest or Helm values file; plain text when it
        does not parse as one (a Helm template with ``{{ }}``, a YAML file that only looked like one)."""
        from scanner.detect.iac import analyse_iac
        from scanner.detect.structured import touching

        groups = analyse_iac(chunk.content, chunk.structure, self.matches(chunk), self.rules)
        if groups is None:
            return self._plain(chunk)
        if chunk.only_lines is not None:
            groups = touching(groups, chunk.only_lines)
        origin = chunk.origin
        found = tuple((state_origin(origin, g, chunk.structure), g.matches) for g in groups if g.matches)
        return Detected(found)

    def _plain(self, chunk: Chunk, before_rules: Callable[[], None] | None = None) -> Detected:
        matches = self.matches(chunk, before_rules)
        if chunk.only_lines is not None:
            lines = chunk.only_lines
            matches = [m for m in matches if _touches(m, lines)]
        return Detected(((chunk.origin, tuple(matches)),)) if matches else NOTHING

    def _state_groups(self, chunk: Chunk) -> list[StateGroup]:
        from scanner.detect.structured import SENSITIVE_RULE, analyse, touching, version_groups

        if chunk.base is not None:
            groups = version_groups(self.detector, chunk.content, chunk.base, chunk.only_lines)
            if groups is None:
                raise InputError(f"{chunk.origin.path}: not a Terraform state")
            return groups
        shown = chunk.origin.path
        groups = analyse(chunk.content, shown, self.matches(chunk), self.rules.get(SENSITIVE_RULE))
        return groups if chunk.only_lines is None else touching(groups, chunk.only_lines)
