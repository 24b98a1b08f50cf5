"""detect-secrets' ``.secrets.baseline`` (1.x): ``results: {filename: [{type, hashed_secret, line_number,
is_secret?, is_verified}]}``, where ``hashed_secret`` is the unsalted SHA-1 hex of the secret.

A finding is in it when the SHA-1 of its secret is one of the hashes listed for its file: the line number is
not compared, so moved code stays accepted (as in detect-secrets). Where a detect-secrets plugin hashed only a
part of the secret (a GitHub token's prefix, a private key's BEGIN line), an entry on the finding's line whose
hash is of such a part matches too. Entries audited ``is_secret: false`` (false
positives) and ``true`` (real, to rotate) are accepted alike, as detect-secrets' own hook does; use
``exceptions`` in ``.leakstop.yaml`` to track rotations.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import TYPE_CHECKING, Any

from scanner.policy.baseline import BaselineError
from scanner.policy.migrate.common import Entry, ForeignBaseline, normalise_path
from scanner.safetext import printable

if TYPE_CHECKING:
    from scanner.models import Match

_SHA1 = re.compile(r"[0-9a-f]{40}")


class DetectSecretsBaseline(ForeignBaseline):
    kind = "detect-secrets"

    def __init__(self, path: str, entries: list[Entry], hashes: list[str]) -> None:
        super().__init__(path, entries)
        self.hashes = hashes
        self._full: tuple[str, str] = ("", "")
        self._partial: tuple[str, frozenset[str]] = ("", frozenset())

    def entry_matches(self, index: int, secret: str, match: Match, commit: str) -> bool:
        if self._full[0] != secret or not self._full[1]:
            self._full = (secret, _sha1(secret))
        if self.hashes[index] == self._full[1]:
            return True
        # Some detect-secrets plugins hash a part of the secret: the GitHub token plugin's regex captures only the
        # prefix ("ghp"), the private key plugin the BEGIN line's text. Such an entry matches a finding on its line.
        line = self.entries[index].line
        if not match.line <= line <= max(match.end_line, match.line):
            return False
        if self._partial[0] != secret or not self._partial[1]:
            self._partial = (secret, _partial_hashes(secret))
        return self.hashes[index] in self._partial[1]


def _sha1(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8", "surrogatepass"), usedforsecurity=False).hexdigest()


def _partial_hashes(secret: str) -> frozenset[str]:
    """SHA-1s of the parts of ``secret`` a detect-secrets plugin may have hashed instead of the whole: its
    prefixes (3 to 64 characters) and, for a PEM block, the text of its BEGIN line ("BEGIN PRIVATE KEY")."""
    parts = [secret[:n] for n in range(3, min(len(secret), 64) + 1)]
    if secret.startswith("-----BEGIN ") and (end := secret.find("-----", 11)) != -1:
        parts.append(secret[5:end])
    return frozenset(_sha1(part) for part in parts)


def parse(text: str, source: str) -> DetectSecretsBaseline:
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BaselineError(f"{source}: detect-secrets baseline is not valid JSON: {exc}") from None
    except RecursionError:
        raise BaselineError(f"{source}: detect-secrets baseline: JSON nested too deeply") from None
    results = doc.get("results") if isinstance(doc, dict) else None
    if not isinstance(results, dict):
        raise BaselineError(f"{source}: detect-secrets baseline: results must be an object of file names")
    import os

    root = os.path.dirname(os.path.abspath(source))
    entries: list[Entry] = []
    hashes: list[str] = []
    for filename, items in results.items():
        shown = printable(filename)  # a file name is the file's to choose: it cannot break the error's line
        if not isinstance(items, list):
            raise BaselineError(f"{source}: detect-secrets baseline: results/{shown}: must be a list")
        for index, item in enumerate(items):
            entries.append(_entry(item, f"{source}: detect-secrets baseline: results/{shown}/{index}", filename, root))
            hashes.append(item["hashed_secret"])
    return DetectSecretsBaseline(source, entries, hashes)


def _entry(item: Any, where: str, filename: str, root: str) -> Entry:
    if not isinstance(item, dict):
        raise BaselineError(f"{where}: must be an object")
    hashed = item.get("hashed_secret")
    if not isinstance(hashed, str) or not _SHA1.fullmatch(hashed):
        raise BaselineError(f"{where}: hashed_secret must be 40 lowercase hex characters (a SHA-1)")
    line = item.get("line_number", 0)
    if not isinstance(line, int) or isinstance(line, bool) or line < 0:
        raise BaselineError(f"{where}: line_number must be a non-negative integer")
    kind = item.get("type", "")
    return Entry(normalise_path(filename, root), line, kind if isinstance(kind, str) else "")
