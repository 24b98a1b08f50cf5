"""Allowlists (issue #5), global or per rule, modelled on gitleaks' ``[[allowlists]]`` (config/allowlist.go).

An allowlist's criteria are: ``paths`` (gitignore-style, relative to the config's directory) and ``path_regexes``
(searched in that path; what gitleaks' ``paths`` are) — together the *paths* criterion; ``regexes`` searched in
the secret, the whole regex match or the whole line (``regex_target``); ``stopwords`` (case-insensitive
substrings of the secret); ``commits`` (commit id prefixes; only git findings have a commit). With
``condition: any`` (the default) one criterion that holds allows the finding; with ``all`` every criterion given
must hold. ``rules`` limits an allowlist to some rule ids (gitleaks' ``targetRules``); a custom rule's own
``allowlists`` are stored the same way.

The match and line targets need the scanned text, which only the detector sees (history is detected in worker
processes): the detector asks each *content probe* (``Allowlist.content_hit``) and records on the match the
indexes of the allowlists whose regexes hold (``Match.allow_hits``). Everything else is decided per finding by
``Allowlists.check`` in the scan. A config without allowlists costs one falsy test per finding.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property
from typing import Literal

from scanner.pathmatch import PathMatcher

RegexTarget = Literal["secret", "match", "line"]
Condition = Literal["any", "all"]


@dataclass(frozen=True)
class Allowlist:
    """One allowlist of the config: what it applies to and what it lets through."""

    index: int  # position among the config's allowlists: the key of ``Match.allow_hits``
    label: str  # the reason is ``allowlist:<label>``; "" for the legacy single object (see ``_label``)
    rules: frozenset[str] = frozenset()  # empty: every rule
    paths: tuple[str, ...] = ()
    path_regexes: tuple[re.Pattern[str], ...] = ()
    regexes: tuple[re.Pattern[str], ...] = ()
    regex_target: RegexTarget = "secret"
    stopwords: tuple[str, ...] = ()  # lowercase
    commits: tuple[str, ...] = ()  # lowercase prefixes
    condition: Condition = "any"
    where: str = ""  # its JSON path in the config, for errors
    _paths: PathMatcher = field(default_factory=PathMatcher, compare=False, repr=False)  # paths + path_regexes

    @classmethod
    def build(
        cls,
        index: int,
        label: str,
        *,
        rules: tuple[str, ...] = (),
        paths: tuple[str, ...] = (),
        path_regexes: tuple[re.Pattern[str], ...] = (),
        regexes: tuple[re.Pattern[str], ...] = (),
        regex_target: RegexTarget = "secret",
        stopwords: tuple[str, ...] = (),
        commits: tuple[str, ...] = (),
        condition: Condition = "any",
        source: str = "",
        where: str = "",
    ) -> Allowlist:
        return cls(
            index=index,
            label=label,
            rules=frozenset(rules),
            paths=paths,
            path_regexes=path_regexes,
            regexes=regexes,
            regex_target=regex_target,
            stopwords=tuple(s.lower() for s in stopwords),
            commits=tuple(c.lower() for c in commits),
            condition=condition,
            where=where,
            _paths=PathMatcher(paths, path_regexes, source),
        )

    @property
    def is_content_probe(self) -> bool:
        """Its regexes need the match or the line: the detector evaluates them."""
        return bool(self.regexes) and self.regex_target != "secret"

    def content_hit(self, matched: str, line: str) -> bool:
        """Do the regexes hold on the whole regex match or the line(s) holding it? Called by the detector."""
        text = matched if self.regex_target == "match" else line
        return any(rx.search(text) for rx in self.regexes)

    @cached_property
    def criteria(self) -> tuple[str, ...]:
        """The criteria given, cheapest first."""
        given = (
            ("paths", bool(self.paths or self.path_regexes)),
            ("commits", bool(self.commits)),
            ("stopwords", bool(self.stopwords)),
            ("regexes", bool(self.regexes)),
        )
        return tuple(name for name, present in given if present)

    def check(self, secret: str, path: str, commit: str, hits: tuple[int, ...]) -> str:
        """The reason label (``allowlist:<label>``) if this allowlist allows the finding, else ""."""
        held: list[str] = []
        for criterion in self.criteria:
            if self._holds(criterion, secret, path, commit, hits):
                if self.condition == "any":
                    return self._label((criterion,))
                held.append(criterion)
            elif self.condition == "all":
                return ""
        return self._label(tuple(held)) if held else ""

    def _holds(self, criterion: str, secret: str, path: str, commit: str, hits: tuple[int, ...]) -> bool:
        if criterion == "paths":
            return self._paths.matches(path)
        if criterion == "commits":
            return bool(commit) and commit.lower().startswith(self.commits)
        if criterion == "stopwords":
            lowered = secret.lower()
            return any(word in lowered for word in self.stopwords)
        return self._regexes_hold(secret, hits)

    def _regexes_hold(self, secret: str, hits: tuple[int, ...]) -> bool:
        if self.regex_target == "secret":
            return any(rx.search(secret) for rx in self.regexes)
        return self.index in hits

    def _label(self, criteria: tuple[str, ...]) -> str:
        """A named or listed allowlist says which; the legacy single object says which criteria held, as it
        always did (``paths``, ``secret``; and ``match``, ``line``, ``commits``)."""
        if self.label:
            return self.label
        names = {"regexes": self.regex_target, "stopwords": "secret"}
        labels: list[str] = []
        for criterion in criteria:
            name = names.get(criterion, criterion)
            if name not in labels:
                labels.append(name)
        return "+".join(labels)


@dataclass(frozen=True)
class Allowlists:
    """The config's allowlists, indexed by the rules they name."""

    items: tuple[Allowlist, ...] = ()
    _by_rule: dict[str, tuple[Allowlist, ...]] = field(default_factory=dict, compare=False, repr=False)

    def __bool__(self) -> bool:
        return bool(self.items)

    def for_rule(self, rule_id: str) -> tuple[Allowlist, ...]:
        known = self._by_rule.get(rule_id)
        if known is None:
            known = self._by_rule[rule_id] = tuple(a for a in self.items if not a.rules or rule_id in a.rules)
        return known

    def content_probes(self, rule_ids: list[str]) -> dict[str, tuple[Allowlist, ...]]:
        """For the detector: per rule id, the allowlists whose regexes target the match or the line."""
        probes = {rule_id: tuple(a for a in self.for_rule(rule_id) if a.is_content_probe) for rule_id in rule_ids}
        return {rule_id: found for rule_id, found in probes.items() if found}

    def check(self, rule_id: str, secret: str, path: str, commit: str, hits: tuple[int, ...]) -> str:
        """The first allowlist that allows the finding, as a reason label; "" if none does."""
        for allowlist in self.for_rule(rule_id):
            label = allowlist.check(secret, path, commit, hits)
            if label:
                return label
        return ""
