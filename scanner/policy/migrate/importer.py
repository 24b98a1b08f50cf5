"""``leakstop baseline import KIND FILE``: another tool's baseline as our salted fingerprints.

Two steps around a scan the caller runs (the command line, through the pipeline): ``read_source`` parses the
other tool's file and says which files to scan (``ImportSource.paths``, with ``ImportSource.foreign`` as the
scan's baseline and ``ImportSource.root`` as its path base); ``import_baseline`` takes that scan's result and keys
every finding the file accepts (see ``ForeignBaseline.contains``) into our baseline (merged into an existing one,
keeping its salt). Entries that no leakstop finding matched are returned for listing (file, line, the other tool's
type), never a secret: a rule leakstop does not have, a secret that is gone from the working tree, or a file that
no longer exists.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from scanner.policy import baseline
from scanner.policy.config import BASELINE_NAME
from scanner.policy.migrate import READERS
from scanner.policy.migrate.common import Entry, ForeignBaseline

if TYPE_CHECKING:
    from scanner.models import ScanResult


@dataclass
class ImportResult:
    target: str
    kind: str
    entries: int
    imported: int  # entries a leakstop finding matched
    fingerprints: int  # in the written baseline
    added: int
    written: bool
    unmatched: list[tuple[Entry, str]] = field(default_factory=list)  # (entry, why)


@dataclass(frozen=True)
class ImportSource:
    """Another tool's baseline file, read: what to scan for it, and the matcher that scan compares against."""

    kind: str
    foreign: ForeignBaseline  # the scan's baseline; it remembers which entries matched
    present: frozenset[str]  # the files it names that exist, relative to ``root``

    @property
    def root(self) -> str:
        """The file's directory: its paths are relative to it, and so are the scan's (``path_base``)."""
        return self.foreign.root

    @property
    def paths(self) -> list[str]:
        """The files to scan (none: nothing to scan, every entry is listed as not found)."""
        return [os.path.join(self.root, f) for f in sorted(self.present)]


def read_source(kind: str, source: str) -> ImportSource:
    foreign = READERS[kind](baseline.read(source), source)
    present = frozenset(f for f in foreign.by_file if os.path.isfile(os.path.join(foreign.root, f)))
    return ImportSource(kind=kind, foreign=foreign, present=present)


def import_baseline(source: ImportSource, result: ScanResult, target: str) -> ImportResult:
    """Key the findings of ``result`` (a scan of ``source.paths`` against ``source.foreign``) into ``target``."""
    foreign, root, present = source.foreign, source.root, source.present
    with baseline.updating(target):  # another writer's entries stay
        current = baseline.load(target) if os.path.exists(target) else baseline.new_baseline(target)
        accepted = [f for f in result.findings if f.reason == "baseline"]
        found = {current.fingerprint(f.rule.id, f.match.secret.reveal(), f.path, root) for f in accepted}
        updated = baseline.with_fingerprints(current, target, current.fingerprints | found)  # labels kept
        written = baseline.write(updated)
    # Another entry on the line of an imported finding is the same secret seen by a second detector (detect-secrets
    # reports a password as "Secret Keyword" and "Base64 High Entropy String", hashing different parts of the
    # line): imported too, not listed.
    covered = {
        (foreign.relative(f.path, root), line) for f in accepted for line in range(f.match.line, f.match.end_line + 1)
    }
    unmatched = [
        (entry, "no leakstop finding" if entry.file in present else "file not found")
        for entry in sorted(foreign.unmatched(), key=lambda e: (e.file, e.line, e.kind))
        if (entry.file, entry.line) not in covered
    ]
    return ImportResult(
        target=target,
        kind=source.kind,
        entries=len(foreign.entries),
        imported=len(foreign.entries) - len(unmatched),
        fingerprints=len(updated.fingerprints),
        added=len(updated.fingerprints - current.fingerprints),
        written=written,
        unmatched=unmatched,
    )


def default_target(source: str) -> str:
    """``.leakstop-baseline.json`` at the root of the repository holding ``source``."""
    return str(baseline.repository_root(str(Path(source).resolve().parent)) / BASELINE_NAME)
