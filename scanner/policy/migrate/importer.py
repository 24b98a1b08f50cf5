"""``leakstop baseline import KIND FILE``: another tool's baseline as our salted fingerprints.

The files the other tool's file names are scanned with leakstop's rules; every finding the file accepts (see
``ForeignBaseline.contains``) is keyed into our baseline (merged into an existing one, keeping its salt). Entries
that no leakstop finding matched are returned for listing (file, line, the other tool's type), never a secret:
a rule leakstop does not have, a secret that is gone from the working tree, or a file that no longer exists.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from scanner.policy import baseline
from scanner.policy.migrate import READERS
from scanner.policy.migrate.common import Entry

if TYPE_CHECKING:
    from scanner.policy.config import Config
    from scanner.sources.files import FileSourceOptions


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


def import_baseline(kind: str, source: str, target: str, config: Config, options: FileSourceOptions) -> ImportResult:
    from scanner.models import ScanResult
    from scanner.pipeline import run
    from scanner.pipeline.request import ScanRequest, SourceOptions

    foreign = READERS[kind](baseline.read(source), source)
    root = foreign.root
    present = {f for f in foreign.by_file if os.path.isfile(os.path.join(root, f))}
    result = ScanResult(target="files")
    paths = [os.path.join(root, f) for f in sorted(present)]
    if paths:
        source_options = SourceOptions(
            options.max_file_size, options.scan_binary, options.excludes, options.respect_gitignore
        )
        request = ScanRequest("paths", tuple(paths), options=source_options, config=config, baseline=foreign)
        result = run(dataclasses.replace(request, path_base=root))
    current = baseline.load(target) if os.path.exists(target) else baseline.new_baseline(target)
    accepted = [f for f in result.findings if f.reason == "baseline"]
    found = {current.fingerprint(f.rule.id, f.match.secret.reveal(), f.path, root) for f in accepted}
    # Another entry on the line of an imported finding is the same secret seen by a second detector (detect-secrets
    # reports a password as "Secret Keyword" and "Base64 High Entropy String", hashing different parts of the
    # line): imported too, not listed.
    covered = {
        (foreign.relative(f.path, root), line) for f in accepted for line in range(f.match.line, f.match.end_line + 1)
    }
    updated = baseline.Baseline(path=target, salt=current.salt, fingerprints=current.fingerprints | found)
    written = baseline.write(updated)
    unmatched = [
        (entry, "no leakstop finding" if entry.file in present else "file not found")
        for entry in sorted(foreign.unmatched(), key=lambda e: (e.file, e.line, e.kind))
        if (entry.file, entry.line) not in covered
    ]
    return ImportResult(
        target=target,
        kind=kind,
        entries=len(foreign.entries),
        imported=len(foreign.entries) - len(unmatched),
        fingerprints=len(updated.fingerprints),
        added=len(updated.fingerprints - current.fingerprints),
        written=written,
        unmatched=unmatched,
    )


def default_target(source: str) -> str:
    """``.leakstop-baseline.json`` at the root of the repository holding ``source``."""
    return str(baseline.repository_root(str(Path(source).resolve().parent)) / baseline.BASELINE_NAME)
