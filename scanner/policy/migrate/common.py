"""What every other tool's baseline becomes: entries (file, line, kind) and a matcher that remembers which
entries matched, so an import can list the ones no leakstop rule finds."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

from scanner.policy.baseline import relative_to

if TYPE_CHECKING:
    from scanner.models import Match


@dataclass(frozen=True)
class Entry:
    file: str  # relative to the baseline file's directory, '/'-separated
    line: int  # 1-based; 0: unknown
    kind: str  # the other tool's rule id or secret type: for listings, never a secret
    commit: str = ""
    end_line: int = 0


class ForeignBaseline:
    """Entries indexed by file; ``entry_matches`` is the format's own test. Not shared between processes."""

    kind = ""

    def __init__(self, path: str, entries: list[Entry]) -> None:
        self.path = path
        self.entries = entries
        self.matched: set[int] = set()
        self.by_file: dict[str, list[int]] = {}
        for index, entry in enumerate(entries):
            self.by_file.setdefault(entry.file, []).append(index)

    @cached_property
    def root(self) -> str:
        import os

        return os.path.dirname(os.path.abspath(self.path))

    def relative(self, path: str, base: str) -> str:
        return relative_to(self.root, path, base)

    def contains(self, rule_id: str, secret: str, rel_path: str, match: Match, commit: str) -> bool:
        indexes = self.by_file.get(rel_path)
        if not indexes:
            return False
        found = [i for i in indexes if self.entry_matches(i, secret, match, commit)]
        self.matched.update(found)
        return bool(found)

    def label(self, rule_id: str, secret: str, rel_path: str) -> str:
        return ""  # a foreign baseline carries no `baseline audit` labels

    def entry_matches(self, index: int, secret: str, match: Match, commit: str) -> bool:
        raise NotImplementedError

    def unmatched(self) -> list[Entry]:
        return [e for i, e in enumerate(self.entries) if i not in self.matched]


def normalise_path(path: str, root: str) -> str:
    """A path as another tool wrote it (relative to where it ran, or absolute), relative to ``root``."""
    import os

    path = path.replace("\\", "/")
    if os.path.isabs(path):
        rel = os.path.relpath(path, root).replace(os.sep, "/")
        return path if rel.startswith("..") else rel
    while path.startswith("./"):
        path = path[2:]
    return path
